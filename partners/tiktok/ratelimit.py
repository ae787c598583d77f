"""The shared TikTok rate limiter: at most N requests in any sliding window, counted across
every worker on every machine (docs/ARCHITECTURE.md D3). Celery's per-worker `rate_limit` cannot do
this.

Redis (settings.REDIS_URL) keeps a sorted set of send times per key and decides atomically in
a Lua script with the Redis server's clock, so machines with skewed clocks still agree. Without
Redis, a row per key in the database holds the same list under a row lock.
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

_ACQUIRE_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return {0, now}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {tonumber(oldest[2]) + window - now, now}
"""


@cache
def _redis():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    return client, client.register_script(_ACQUIRE_LUA)


class RateLimiter:
    """`acquire()` blocks until a send is allowed (or the timeout passes).

    `last_grant_at` is the time of the latest slot granted, on the limiter's own clock (Redis
    server time, or this machine's in database mode): what the window is measured against.
    """

    def __init__(self, key: str, *, limit: int, window: float = WINDOW_SECONDS):
        self.key = f"ratelimit:{key}"
        self.limit = limit
        self.window = window
        self.last_grant_at: float | None = None

    def try_acquire(self) -> float:
        """Take a slot and return 0, or return the seconds to wait before one frees up."""
        if settings.REDIS_URL:
            _, script = _redis()
            wait_us, now_us = script(
                keys=[self.key], args=[self.limit, int(self.window * 1e6), uuid.uuid4().hex]
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
            state, _ = RateLimiterState.objects.select_for_update().get_or_create(key=self.key)
            now = time.time()
            recent = [t for t in state.recent if t > now - self.window]
            if len(recent) < self.limit:
                recent.append(now)
                state.recent = recent
                state.save(update_fields=["recent"])
                self.last_grant_at = now
                return 0.0
            return min(recent) + self.window - now


def tiktok_rate_limiter(app_id: str) -> RateLimiter:
    """TikTok counts requests per developer app."""
    return RateLimiter(f"tiktok:{app_id}", limit=settings.TIKTOK_MAX_REQUESTS_PER_SECOND)
