"""Fixed-window rate limiting shared by every process and machine.

A window is `window_seconds` long and aligned to the epoch, so all processes agree on where it
starts. Counters live in Redis when settings.REDIS_URL is set (one INCRBY + EXPIREAT round trip),
else in the database (one upsert). Used by the REST API (per key and endpoint); the TikTok
limiter can call `rate_limit_hit` with its own key, e.g. a 1-second window of 50.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction

from core.models import RateLimitWindow

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "braze_sync:ratelimit:"
# A slow Redis must not hold up requests: fail over to the database quickly.
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    # UTC epoch seconds at which the current window ends (Braze's X-RateLimit-Reset).
    reset_at: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


def rate_limit_hit(
    *, key: str, limit: int, window_seconds: int, cost: int = 1, now: float | None = None
) -> RateLimitResult:
    """Count `cost` against `key` in the current window; allowed while the total stays within
    `limit`. Refused hits still count, which only matters within the window they fall in."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    reset_at = window_start + window_seconds
    count = None
    if settings.REDIS_URL:
        count = _hit_redis(key, window_start, reset_at, cost)
    if count is None:
        count = _hit_database(key, window_start, cost)
    return RateLimitResult(
        allowed=count <= limit, limit=limit, remaining=max(0, limit - count), reset_at=reset_at
    )


@lru_cache(maxsize=4)
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )


def _hit_redis(key: str, window_start: int, reset_at: int, cost: int) -> int | None:
    import redis

    name = f"{REDIS_KEY_PREFIX}{key}:{window_start}"
    try:
        pipe = _redis_client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incrby(name, cost)
        # Keep the counter a little past the window so a clock skew between hosts is harmless.
        pipe.expireat(name, reset_at + 5)
        count, _ = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("rate limit: Redis unavailable (%s), counting in the database", exc)
        return None
    return int(count)


def _hit_database(key: str, window_start: int, cost: int) -> int:
    q = connection.ops.quote_name
    table, k, start, count_ = (
        q(RateLimitWindow._meta.db_table),
        q("key"),
        q("window_start"),
        q("count"),
    )
    # Its own transaction (or savepoint): the count stands even if the caller's work fails.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({k}, {start}, {count_}) VALUES (%s, %s, %s) "
            f"ON CONFLICT ({k}, {start}) DO UPDATE SET {count_} = {table}.{count_} + EXCLUDED.{count_} "
            f"RETURNING {count_}",
            [key, window_start, cost],
        )
        count = cursor.fetchone()[0]
        if count == cost:
            # First hit of a new window: forget this key's older windows.
            cursor.execute(
                f"DELETE FROM {table} WHERE {k} = %s AND {start} < %s", [key, window_start]
            )
    return int(count)


def rate_limit_reset(*, key: str, window_seconds: int, now: float | None = None) -> None:
    """Forget `key`'s count in the current window (both stores: a hit may have fallen back to
    the database while Redis was down)."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    if settings.REDIS_URL:
        import redis

        try:
            _redis_client(settings.REDIS_URL).delete(f"{REDIS_KEY_PREFIX}{key}:{window_start}")
        except redis.RedisError as exc:
            logger.warning("rate limit: Redis unavailable (%s), resetting in the database", exc)
    RateLimitWindow.objects.filter(key=key).delete()
