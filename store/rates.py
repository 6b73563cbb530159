"""Rates such as "300/min", "50/10s", "5/15min" or "off", as the RATE_LIMIT_* settings spell them.

Imports nothing from Django, so the settings can read a rate too (the failed sign-in lockout).
"""
import re
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$", re.ASCII)
_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_OFF = {"", "off", "none", "0"}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


def parse_rate(text: str | None) -> Rate | None:
    """'300/min' → Rate(300, 60); '50/10s' → Rate(50, 10); 'off' → None; anything else: ValueError."""
    if text is None or text.strip().lower() in _OFF:
        return None
    match = _RATE.match(text.lower())
    if not match or match.group(3) not in _UNITS:
        raise ValueError(f"not a rate: {text!r} (say e.g. '300/min', '50/10s', '5/15min' or 'off')")
    limit, multiplier, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if limit < 1 or multiplier < 1:
        raise ValueError(f"not a rate: {text!r}")
    return Rate(limit=limit, period=multiplier * _UNITS[unit])
