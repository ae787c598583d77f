"""The shared TikTok rate limiter: at most N requests in any sliding window, counted across
every worker on every machine (docs/ARCHITECTURE.md D3). Celery's per-worker `rate_limit` cannot do
this.

Redis (settings.REDIS_URL) keeps a sorted set of send times per key and decides atomically in
a Lua script with the Redis server's clock, so machines with skewed clocks still agree. Without
Redis, a row per key in the database holds the same list under a row lock.

A limiter may also be given a *share*: a second, smaller window that its slots must fit in as
well. A slot is then recorded in both windows or in neither, in one atomic step, so the share's
callers never hold more than `share_limit` of the main window's slots and everyone else always
keeps the rest. TikTok calls use it this way: the flush's `/segment/mapping/` requests take a
slot of the app's window only (`tiktok_rate_limiter`); every other call (page views, look-ups,
launches, OAuth, token checks) also needs room in the app's interactive share
(`tiktok_interactive_limiter`, TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND).
"""

from __future__ import annotations

import time
import uuid
from functools import cache

from django.conf import settings
from django.db import transaction

from partners.models import RateLimiterState
from telemetry.counters import limiter_wait_observed

# The window is a little longer than TikTok's second: requests leave here a few milliseconds
# before TikTok counts them, and must still fit in any one-second window over there.
WINDOW_SECONDS = 1.05

# KEYS: the windows a slot must fit in (the main one, then its share, if any).
# ARGV: the window in microseconds, the slot's member, then each key's limit.
# Either the slot is added to every window, or to none and the wait until one frees up
# (the longest of the full windows' waits) is returned.
_ACQUIRE_LUA = """
local window = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then
  return {wait, now}
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
end
return {0, now}
"""


@cache
def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    return client, client.register_script(_ACQUIRE_LUA)


class RateLimiter:
    """`acquire()` blocks until a send is allowed (or the timeout passes).

    At most `limit` slots in any `window` seconds under `key`; with `share_key`, a slot also
    needs room for at most `share_limit` under `share_key`, and is recorded under both or
    neither (see the module docstring).

    `last_grant_at` is the time of the latest slot granted, on the limiter's own clock (Redis
    server time, or this machine's in database mode): what the window is measured against.
    """

    def __init__(
        self,
        key: str,
        *,
        limit: int,
        window: float = WINDOW_SECONDS,
        share_key: str | None = None,
        share_limit: int = 0,
    ):
        self.key = f"ratelimit:{key}"
        self.limit = limit
        self.window = window
        self.share_key = f"ratelimit:{share_key}" if share_key else None
        self.share_limit = share_limit
        self.last_grant_at: float | None = None

    @property
    def _windows(self) -> list[tuple[str, int]]:
        """(key, limit) of every window a slot must fit in, the main one first: database mode
        locks their rows in this order, so two limiters never wait for each other's lock."""
        windows = [(self.key, self.limit)]
        if self.share_key:
            windows.append((self.share_key, self.share_limit))
        return windows

    def try_acquire(self) -> float:
        """Take a slot and return 0, or return the seconds to wait before one frees up."""
        if settings.REDIS_URL:
            _, script = _redis()
            windows = self._windows
            wait_us, now_us = script(
                keys=[key for key, _ in windows],
                args=[int(self.window * 1e6), uuid.uuid4().hex, *(limit for _, limit in windows)],
            )
            if int(wait_us) <= 0:
                self.last_grant_at = int(now_us) / 1e6
                return 0.0
            return int(wait_us) / 1e6
        return self._try_acquire_in_database()

    def acquire(self, *, timeout: float) -> bool:
        started = time.monotonic()
        deadline = started + timeout
        waited = False
        while True:
            wait = self.try_acquire()
            if wait == 0:
                if waited:
                    limiter_wait_observed(time.monotonic() - started, timed_out=False)
                return True
            if time.monotonic() + wait > deadline:
                limiter_wait_observed(time.monotonic() - started, timed_out=True)
                return False
            waited = True
            time.sleep(wait)

    def _try_acquire_in_database(self) -> float:
        with transaction.atomic():
            states = [
                (RateLimiterState.objects.select_for_update().get_or_create(key=key)[0], limit)
                for key, limit in self._windows
            ]
            now = time.time()
            wait = 0.0
            kept = []
            for state, limit in states:
                recent = [t for t in state.recent if t > now - self.window]
                if len(recent) >= limit:
                    wait = max(wait, min(recent) + self.window - now)
                kept.append((state, recent))
            if wait > 0:
                return wait
            for state, recent in kept:
                state.recent = [*recent, now]
                state.save(update_fields=["recent"])
            self.last_grant_at = now
            return 0.0


def tiktok_rate_limiter(app_id: str) -> RateLimiter:
    """TikTok counts requests per developer app: the flush's window, all of it."""
    return RateLimiter(f"tiktok:{app_id}", limit=settings.TIKTOK_MAX_REQUESTS_PER_SECOND)


def tiktok_interactive_limiter(app_id: str) -> RateLimiter:
    """Every TikTok call but the flush's: a slot of the app's window and of its interactive
    share, so these calls never hold more than TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND of it
    and the flush always keeps the rest (at least one slot, whatever the settings say)."""
    limit = settings.TIKTOK_MAX_REQUESTS_PER_SECOND
    share = max(1, min(settings.TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND, limit - 1))
    return RateLimiter(
        f"tiktok:{app_id}", limit=limit, share_key=f"tiktok:{app_id}:interactive", share_limit=share
    )
