"""Signing in, guarded alike on every path: the storefront's form, POST /api/auth/login, /admin/login/.

Two limits apply, each shared by every process of the shop:

- per address: RATE_LIMITS["LOGIN"] (10/min) attempts per IP address (store.throttling,
  counted in the shared cache);
- per account: after RATE_LIMITS["LOGIN_FAILURES"] (5 in 15 minutes) failed sign-ins,
  django-axes locks the account. Until the period after the failure that locked it has
  passed, every sign-in for it is refused, the right password too (a right guess must look
  like any other refusal). Axes learns of failures from Django's `user_login_failed` signal
  and keeps them in its database tables (staff see them in the admin under "Axes"), and its
  authentication backend refuses a locked account wherever `authenticate()` runs.

Checking the lock and counting a failure are two steps, so the sign-ins of one account take
turns (`account_turn`, a lock in the shared cache): concurrent guesses cannot all pass the
check before the first failure is counted. `authenticate_guarded` is the one way the store
checks a password: signing in on any path, and confirming the current password before a
change (so a stolen session cannot guess it either).

Refusals keep the store's shapes and words: a form shows the message and its view answers
429 with Retry-After (`refusal_status`); the API answers 429 `{"error", "code": "throttled"}`.
The functions named in settings.AXES_* are here too.
"""
import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from store import throttling

# How long a sign-in waits for the account's turn, and how long a turn may last at most. A
# password check takes well under a second; a turn left behind (its process died, or Redis
# failed as it was given back) lapses before the next sign-in stops waiting, so it never
# refuses the account's owner.
TURN_WAIT_SECONDS = 5
TURN_HOLD_SECONDS = 3

# With LOGIN_FAILURES "off" axes still records failures but never locks.
_NEVER = 2**31


def _lockout_rate():
    return throttling.configured_rate("LOGIN_FAILURES")


def failure_limit(request: HttpRequest | None, credentials: dict | None) -> int:
    """settings.AXES_FAILURE_LIMIT: failed sign-ins that lock an account (RATE_LIMITS["LOGIN_FAILURES"])."""
    rate = _lockout_rate()
    return rate.limit if rate else _NEVER


def lockout_duration(request: HttpRequest | None = None) -> timedelta:
    """settings.AXES_COOLOFF_TIME: how long failures count and a lock lasts (the rate's period)."""
    rate = _lockout_rate()
    return timedelta(seconds=rate.period if rate else 900)


def email_normalize(email: str | None) -> str:
    """An e-mail address as accounts are stored and looked up (User.objects.get_by_natural_key)."""
    return (email or "").strip().lower()


def attempted_email(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """settings.AXES_USERNAME_CALLABLE: the account a sign-in tried, spelled as it is stored."""
    email = (credentials or {}).get("username")
    if email is None and request is not None:
        email = request.POST.get("username")
    return email_normalize(email) or None


def lockout_refusal(request: HttpRequest, email: str) -> throttling.Refusal | None:
    """A Refusal while the account of `email` is locked out, saying for how long; else None."""
    email = email_normalize(email)
    if not email or AxesProxyHandler.is_allowed(request, {"username": email}):
        return None
    last_failure = AccessAttempt.objects.filter(username=email).aggregate(last=Max("attempt_time"))["last"]
    ends = (last_failure or timezone.now()) + lockout_duration(request)
    retry_after = max(1, int((ends - timezone.now()).total_seconds() + 0.999))
    return throttling.Refusal(
        f"Too many failed sign-in attempts for this account. For your security, signing in is blocked "
        f"for {throttling.wait_text(retry_after)}; try again then.",
        retry_after,
    )


def _turn_take(key: str, mine: str) -> bool | None:
    """Take the turn: True, False when another attempt held it TURN_WAIT_SECONDS, None without a cache."""
    deadline = time.monotonic() + TURN_WAIT_SECONDS
    try:
        while not cache.add(key, mine, timeout=TURN_HOLD_SECONDS):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
    except throttling.CACHE_ERRORS as error:
        throttling.cache_outage(error)
        return None
    return True


@contextmanager
def account_turn(email: str) -> Iterator[throttling.Refusal | None]:
    """Hold the account's turn to check a password, across processes; yields a Refusal instead
    when another attempt held it for TURN_WAIT_SECONDS. Without the cache, sign-ins go on
    without taking turns (the lock itself is in the database)."""
    key = f"signin-turn:{hashlib.sha256(email_normalize(email).encode()).hexdigest()[:32]}"
    mine = uuid.uuid4().hex
    taken = _turn_take(key, mine)
    if taken is False:
        yield throttling.Refusal("Another sign-in for this account is in progress. Try again in a few seconds.", 5)
        return
    try:
        yield None
    finally:
        if taken:
            try:
                if cache.get(key) == mine:
                    cache.delete(key)
            except throttling.CACHE_ERRORS as error:
                throttling.cache_outage(error)


def authenticate_guarded(request: HttpRequest, email: str, password: str):
    """(user or None, Refusal or None): the password checked in the account's turn, unless it is locked.

    A wrong password is counted against the account by django-axes (through Django's
    `user_login_failed`) before the turn passes on. The per-address limit is the caller's.
    """
    with account_turn(email) as busy:
        if refusal := busy or lockout_refusal(request, email):
            return None, refusal
        return authenticate(request, username=email_normalize(email), password=password), None


def failures_forget(email: str) -> None:
    """Forget the account's failed sign-ins (and so lift a lock): after a sign-in that does not go
    through Django's login() (the API), as settings.AXES_RESET_ON_SUCCESS does for the pages,
    and after a password reset by e-mail."""
    axes_reset(username=email_normalize(email))


def refusal_status(response: HttpResponse, refusal: throttling.Refusal | None) -> HttpResponse:
    """A sign-in page refused by a limit answers 429 with Retry-After (it still shows the form)."""
    if refusal is not None:
        response.status_code = 429
        response["Retry-After"] = str(refusal.retry_after)
    return response


def lockout_response(request: HttpRequest, original_response: HttpResponse, credentials: dict | None) -> HttpResponse:
    """settings.AXES_LOCKOUT_CALLABLE: keep the store's own answer to the failure that locked an account.

    That failure is answered like any wrong password (401 on the API, the form's error on a
    page); the next attempt meets the lock and its view says so in its own format.
    """
    return original_response
