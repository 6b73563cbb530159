"""Rate limits on /api and on signing in, counted in the Django cache.

The limits (settings.RATE_LIMITS, from the environment) are rates "<count>/<period>",
e.g. "300/min", "50/10s", "5/15min", or "off":

- ``API`` (300/min) and ``API_BURST`` (50/10s): every DRF view under /api, per client. A
  client is the authenticated user (JWT), else the client's IP address.
- ``LOGIN`` and ``REGISTER`` (10/min each): sign-in and sign-up attempts (POSTs) per IP
  address, the API and the pages counted together.
- ``LOGIN_FAILURES`` (5/15min): failed sign-ins per account (e-mail address). Once an
  account has that many, every sign-in for it is refused until the window closes, even
  with the right password (a right guess must look like any other refusal).

Windows: each limit counts in a window that opens at the first request it counts and
lasts its period; when it closes, the next request opens a new one. So the **burst window**
is the 10 s starting at a client's first API request (after the previous burst window
closed): the 51st request inside it gets 429, with ``Retry-After`` the seconds until the
window closes. The sustained limit is the same with 300 per 60 s. (At a window's edge a
client may send one window's worth right before and one right after; the two limits
together keep that bounded.)

Counters are atomic cache increments (``INCR`` with Redis), so every process sharing the
cache shares the limits. The client's IP is ``REMOTE_ADDR``, unless TRUSTED_PROXY_COUNT
says the app is behind that many proxies, which append to ``X-Forwarded-For``.
"""
import hashlib
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")
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


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # whole seconds until the window closes, at least 1


@dataclass(frozen=True)
class Refusal:
    """A request refused by a limit: what to tell the client, and when to come back."""

    message: str
    retry_after: int


def parse_rate(text: str) -> Rate | None:
    """'300/min' → Rate(300, 60); '50/10s' → Rate(50, 10); 'off' → None."""
    if text is None or text.strip().lower() in _OFF:
        return None
    match = _RATE.match(text.lower())
    if not match or match.group(3) not in _UNITS:
        raise ValueError(f"not a rate: {text!r} (say e.g. '300/min', '50/10s', '5/15min' or 'off')")
    limit, multiplier, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if limit < 1 or multiplier < 1:
        raise ValueError(f"not a rate: {text!r}")
    return Rate(limit=limit, period=multiplier * _UNITS[unit])


def configured_rate(name: str) -> Rate | None:
    """The rate settings.RATE_LIMITS[name] names (read per call, so tests can change it)."""
    return parse_rate(settings.RATE_LIMITS.get(name, "off"))


def _key(scope: str, ident: str) -> str:
    # Hashed: identities are e-mail addresses and IPs, which need not sit in the cache in clear.
    return f"ratelimit:{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


def _window_start(base: str, rate: Rate, now: float, *, open_window: bool) -> float | None:
    start = cache.get(f"{base}:start")
    if start is None and open_window:
        # Open a window; if another process just did, use its start.
        if cache.add(f"{base}:start", now, timeout=rate.period):
            start = now
        else:
            start = cache.get(f"{base}:start", now)
    return start


def _decision(count: int, rate: Rate, start: float, now: float) -> Decision:
    retry_after = max(1, math.ceil(start + rate.period - now))
    return Decision(allowed=count <= rate.limit, count=count, limit=rate.limit, retry_after=retry_after)


def rate_hit(scope: str, ident: str, rate: Rate) -> Decision:
    """Count one request of `ident` against `rate`; says whether it is within the limit."""
    base, now = _key(scope, ident), time.time()
    start = _window_start(base, rate, now, open_window=True)
    # One counter per window (named by its start), so a late increment never lands in the next one.
    counter = f"{base}:{int(start * 1000)}"
    try:
        count = cache.incr(counter)
    except ValueError:  # the window's first request
        if cache.add(counter, 1, timeout=rate.period + 1):
            count = 1
        else:
            count = cache.incr(counter)
    else:
        if count == 1:
            # The counter expired between Redis' EXISTS and INCR, which recreated it without
            # an expiry: give it one.
            cache.touch(counter, timeout=rate.period + 1)
    return _decision(count, rate, start, now)


def rate_peek(scope: str, ident: str, rate: Rate) -> Decision:
    """Where `ident` stands against `rate`, without counting a request."""
    base, now = _key(scope, ident), time.time()
    start = _window_start(base, rate, now, open_window=False)
    if start is None:
        return Decision(allowed=True, count=0, limit=rate.limit, retry_after=rate.period)
    count = cache.get(f"{base}:{int(start * 1000)}", 0)
    return Decision(allowed=count < rate.limit, count=count, limit=rate.limit,
                    retry_after=_decision(count, rate, start, now).retry_after)


# --- who is asking ------------------------------------------------------------------------

def client_ip(request) -> str:
    """The client's IP: REMOTE_ADDR, or the X-Forwarded-For entry the outermost trusted proxy added."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    # Each proxy appends the address it was called from; entries left of the outermost
    # trusted proxy's are whatever the client chose to send.
    return forwarded[-proxies] if len(forwarded) >= proxies else forwarded[0]


def client_ident(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- sign-in and sign-up: per address, and failed sign-ins per account ---------------------

def address_refusal(request, name: str) -> Refusal | None:
    """Count a LOGIN or REGISTER attempt from the client's address; a Refusal past the limit."""
    rate = configured_rate(name)
    if rate is None:
        return None
    decision = rate_hit(name.lower(), client_ip(request), rate)
    if decision.allowed:
        return None
    action = "sign-in" if name == "LOGIN" else "sign-up"
    return Refusal(
        f"Too many {action} attempts from your address. Try again in {_wait_text(decision.retry_after)}.",
        decision.retry_after,
    )


def _account(email: str) -> str:
    return (email or "").strip().lower()


def login_lockout(email: str) -> Refusal | None:
    """A Refusal while the account has had LOGIN_FAILURES failed sign-ins in the window."""
    rate = configured_rate("LOGIN_FAILURES")
    if rate is None or not _account(email):
        return None
    decision = rate_peek("login-failures", _account(email), rate)
    if decision.allowed:
        return None
    return Refusal(
        f"Too many failed sign-in attempts for this account. For your security, signing in is "
        f"blocked for {_wait_text(decision.retry_after)}; try again then.",
        decision.retry_after,
    )


def login_failure_record(email: str) -> None:
    """Count a failed sign-in (wrong password, unknown account) against the account."""
    rate = configured_rate("LOGIN_FAILURES")
    if rate is not None and _account(email):
        rate_hit("login-failures", _account(email), rate)


class RateLimited(Throttled):
    """429 for a Refusal: {"error": its message, "code": "throttled"} and Retry-After."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(wait=None, detail=refusal.message, code="throttled")
        self.wait = refusal.retry_after


# --- DRF throttles ---------------------------------------------------------------------------

class _RateThrottle(BaseThrottle):
    rate_name: str
    scope: str

    def ident(self, request) -> str:
        return client_ident(request)

    def allow_request(self, request, view) -> bool:
        rate = configured_rate(self.rate_name)
        if rate is None:
            return True
        self.decision = rate_hit(self.scope, self.ident(request), rate)
        return self.decision.allowed

    def wait(self) -> int:
        return self.decision.retry_after


class ApiThrottle(_RateThrottle):
    """Sustained: RATE_LIMITS['API'] (300/min) per client."""

    rate_name, scope = "API", "api"


class ApiBurstThrottle(_RateThrottle):
    """Burst: RATE_LIMITS['API_BURST'] (50 per 10 s window) per client."""

    rate_name, scope = "API_BURST", "api-burst"


class _AddressThrottle(_RateThrottle):
    def ident(self, request) -> str:
        return client_ip(request)


class LoginAddressThrottle(_AddressThrottle):
    """RATE_LIMITS['LOGIN'] (10/min) sign-in attempts per address; shared with the login page."""

    rate_name, scope = "LOGIN", "login"


class RegisterAddressThrottle(_AddressThrottle):
    """RATE_LIMITS['REGISTER'] (10/min) sign-up attempts per address; shared with the register page."""

    rate_name, scope = "REGISTER", "register"
