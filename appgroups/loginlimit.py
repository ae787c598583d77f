"""Sign-in rate limiting: failed sign-ins counted per email and per client address.

Every sign-in attempt takes a slot in both counters before the password is checked, so racing
requests cannot slip past the limit; a successful sign-in gives its slots back (and clears the
email's counter). A counter over its limit refuses the form, even with the right password,
until its window ends. The refusal is the same whether or not an account has that email, and
the counters are named by a keyed hash of the email, so no email is stored in Redis or in the
database. The email is counted as Django signs in with it: its sign-in form strips and
NFKC-normalizes what was typed before looking the account up, so "ａna@acme.test" (full-width
ａ) opens ana@acme.test's account, and both must share one counter (normalized_email). Both
sign-in pages, the dashboard's and Django admin's, share the counters (appgroups/views/auth.py).
Counting uses core.ratelimit (fixed windows: Redis when REDIS_URL is set, else the database),
so every web process on every machine shares the counts.

Settings (environment variables of the same name, see .env.example):
    LOGIN_FAILURES_PER_EMAIL     failed sign-ins for one email per window (default 5)
    LOGIN_FAILURES_PER_ADDRESS   failed sign-ins from one client address per window (default 50)
    LOGIN_FAILURE_WINDOW_SECONDS the window (default 900 s)
    LOGIN_CLIENT_ADDRESS_HEADER  request header holding the client's address behind a proxy,
                                 e.g. X-Forwarded-For (its last entry, the one the proxy
                                 appended, is used); empty: the connection's address.
                                 Required behind the proxy: `check --deploy` fails while it
                                 is empty (appgroups/checks.py)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from core.ratelimit import rate_limit_hit, rate_limit_reset


@dataclass(frozen=True)
class LoginLimit:
    per_email: int
    per_address: int
    window_seconds: int


def login_limit() -> LoginLimit:
    # Defaults and types come from braze_sync/settings.py (env.int).
    return LoginLimit(
        per_email=settings.LOGIN_FAILURES_PER_EMAIL,
        per_address=settings.LOGIN_FAILURES_PER_ADDRESS,
        window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS,
    )


def client_address(request: HttpRequest) -> str:
    """The client's address: the configured proxy header's last entry, else REMOTE_ADDR."""
    header = settings.LOGIN_CLIENT_ADDRESS_HEADER
    candidates = []
    if header:
        candidates.append(request.headers.get(header, "").split(",")[-1].strip())
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return "unknown"


def _keyed(kind: str, value: str) -> str:
    # Keyed, so the counters' names say nothing about who tried to sign in.
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"login:{kind}:{digest[:32]}"


def normalized_email(typed: str) -> str:
    """What names an email's counter: every spelling that can sign in to one account gives
    the same value.

    Django's sign-in form (UsernameField) strips the value and normalizes it with NFKC, then
    the authentication backend looks the email up exactly; the manager stores emails in lower
    case. This is coarser than both: NFKC, case folded (then NFKC again, as folding can undo
    it), without any whitespace (no email has any, and NFKC can turn a character into one at
    the edge, where Django's strip came too early to remove it). tests/security/
    test_login_ratelimit.py checks it against Django's form for arbitrary text.
    """
    text = unicodedata.normalize("NFKC", typed or "")
    text = unicodedata.normalize("NFKC", text.casefold())
    return "".join(text.split())


def _email_key(email: str) -> str:
    return _keyed("email", normalized_email(email))


def _address_key(address: str) -> str:
    return _keyed("address", address)


@dataclass(frozen=True)
class LoginAttempt:
    """The slots one sign-in attempt took: `allowed` False when a counter is over its limit."""

    email_key: str
    address_key: str
    allowed: bool
    retry_after_seconds: int


def login_attempt_begin(*, email: str, address: str, now: float | None = None) -> LoginAttempt:
    """Count one attempt for `email` and `address`; refused when either is over its limit."""
    limit = login_limit()
    email_key, address_key = _email_key(email), _address_key(address)
    by_email = rate_limit_hit(
        key=email_key, limit=limit.per_email, window_seconds=limit.window_seconds, now=now
    )
    by_address = rate_limit_hit(
        key=address_key, limit=limit.per_address, window_seconds=limit.window_seconds, now=now
    )
    # Both windows have the same length and start, so they end together.
    now = time.time() if now is None else now
    retry_after = max(1, math.ceil(by_email.reset_at - now))
    return LoginAttempt(
        email_key, address_key, by_email.allowed and by_address.allowed, retry_after
    )


def login_attempt_succeeded(attempt: LoginAttempt, *, now: float | None = None) -> None:
    """A successful sign-in clears its email's failures and gives back its address slot."""
    limit = login_limit()
    rate_limit_reset(key=attempt.email_key, window_seconds=limit.window_seconds, now=now)
    rate_limit_hit(
        key=attempt.address_key,
        limit=limit.per_address,
        window_seconds=limit.window_seconds,
        cost=-1,
        now=now,
    )
