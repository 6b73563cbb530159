"""Rate limits on /api and on signing in, counted in the Django cache.

The limits (settings.RATE_LIMITS, from the environment) are rates "<count>/<period>",
e.g. "300/min", "50/10s", "5/15min", or "off":

- ``API`` (300/min) and ``API_BURST`` (50/10s): every DRF view under /api, per client. A
  client is the authenticated user (JWT), else the client's IP address.
- ``LOGIN`` and ``REGISTER`` (10/min each): sign-in and sign-up attempts (POSTs) per IP
  address, the API, the pages and the admin's sign-in counted together.
- ``PASSWORD_RESET`` (5/hour): password-reset e-mails asked for per IP address.
- ``LOGIN_FAILURES`` (5/15min) is not counted here: django-axes locks an account out after
  that many failed sign-ins (accounts/signin.py).

Windows: each limit counts in a window that opens at the first request it counts and
lasts its period; when it closes, the next request opens a new one. So the **burst window**
is the 10 s starting at a client's first API request (after the previous burst window
closed): the 51st request inside it gets 429, with ``Retry-After`` the seconds until the
window closes. The sustained limit is the same with 300 per 60 s. (At a window's edge a
client may send one window's worth right before and one right after; the two limits
together keep that bounded.)

Counters are atomic cache increments (``INCR`` with Redis, a locked file in DATA_DIR
without it: store/cache.py), so every process of the machine, or sharing Redis, shares the
limits. The client's IP is ``REMOTE_ADDR``, unless TRUSTED_PROXY_COUNT
says the app is behind that many proxies, which append to ``X-Forwarded-For``.
"""
import functools
import hashlib
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from store.rates import Rate, parse_rate

logger = logging.getLogger("store.throttling")


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


def configured_rate(name: str) -> Rate | None:
    """The rate settings.RATE_LIMITS[name] names (read per call, so tests can change it)."""
    return parse_rate(settings.RATE_LIMITS.get(name, "off"))


def _key(scope: str, ident: str) -> str:
    # Hashed: identities are e-mail addresses and IPs, which need not sit in the cache in clear.
    return f"ratelimit:{scope}:{hashlib.sha256(ident.encode()).hexdigest()[:32]}"


def _window_start(base: str, rate: Rate, now: float) -> float:
    start = cache.get(f"{base}:start")
    if start is None:
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
    """Count one request of `ident` against `rate`; says whether it is within the limit.

    Without the cache (Redis down, the folder unwritable) the request is allowed: limits fail
    open, with one warning per outage (`cache_outage`), rather than refusing the whole shop.
    """
    try:
        decision = _rate_count(scope, ident, rate)
    except CACHE_ERRORS as error:
        cache_outage(error)
        return Decision(allowed=True, count=0, limit=rate.limit, retry_after=rate.period)
    cache_outage(None)
    return decision


def _rate_count(scope: str, ident: str, rate: Rate) -> Decision:
    base, now = _key(scope, ident), time.time()
    start = _window_start(base, rate, now)
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


# What the cache raises when it cannot answer: Redis unreachable or timing out, a file cache's
# folder gone or full.
CACHE_ERRORS = (RedisError, OSError)
_outage = threading.Event()


def cache_outage(error: Exception | None) -> None:
    """Note whether the cache answered: one warning when it stops, one line when it is back."""
    if error is not None and not _outage.is_set():
        _outage.set()
        logger.warning("cache unavailable (%s): rate limits are not counted until it is back", type(error).__name__)
    elif error is None and _outage.is_set():
        _outage.clear()
        logger.warning("cache available again: rate limits are counted")


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


def client_address(request) -> str | None:
    """`client_ip` when it is an IP address (what a database's address column takes), else None."""
    return _address(client_ip(request))


@functools.lru_cache(maxsize=1024)  # every request asks (the audit trail's address); few clients at a time
def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:  # no address (an internal request), or garbage a proxy passed on
        return None


def client_ident(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- sign-in, sign-up and password resets: per address ----------------------------------------

_ACTIONS = {"LOGIN": "sign-in", "REGISTER": "sign-up", "PASSWORD_RESET": "password reset"}


def address_refusal(request, name: str) -> Refusal | None:
    """Count a LOGIN, REGISTER or PASSWORD_RESET attempt from the client's address; a Refusal past the limit."""
    rate = configured_rate(name)
    if rate is None:
        return None
    decision = rate_hit(name.lower(), client_ip(request), rate)
    if decision.allowed:
        return None
    action = _ACTIONS[name]
    return Refusal(
        f"Too many {action} attempts from your address. Try again in {wait_text(decision.retry_after)}.",
        decision.retry_after,
    )


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


class _AddressThrottle(BaseThrottle):
    """An address limit of `address_refusal`, refused with the same message as on the pages."""

    rate_name: str

    def allow_request(self, request, view) -> bool:
        if refusal := address_refusal(request, self.rate_name):
            raise RateLimited(refusal)
        return True


class LoginAddressThrottle(_AddressThrottle):
    """RATE_LIMITS['LOGIN'] (10/min) sign-in attempts per address; shared with the login pages."""

    rate_name = "LOGIN"


class RegisterAddressThrottle(_AddressThrottle):
    """RATE_LIMITS['REGISTER'] (10/min) sign-up attempts per address; shared with the register page."""

    rate_name = "REGISTER"
