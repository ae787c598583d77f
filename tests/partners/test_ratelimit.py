"""The TikTok limiter holds across concurrent senders (Redis when REDIS_URL is set, as in CI's
second run; the database otherwise)."""

import threading
import uuid

import pytest
from django.db import connection

from partners.tiktok.ratelimit import RateLimiter

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_senders_never_exceed_the_limit_in_any_window():
    limit, window = 20, 0.5
    key = f"test-{uuid.uuid4().hex}"
    granted: list[float] = []
    lock = threading.Lock()

    def sender():
        limiter = RateLimiter(key, limit=limit, window=window)
        for _ in range(15):
            assert limiter.acquire(timeout=10)
            with lock:
                granted.append(limiter.last_grant_at)
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    granted.sort()
    assert len(granted) == 60
    # Sliding windows: for every grant, the grants within `window` after it.
    busiest = max(sum(1 for t in granted if start <= t < start + window) for start in granted)
    assert busiest <= limit
    # And the limiter does not starve senders: 60 grants at 20 per 0.5 s take about 1 s.
    assert granted[-1] - granted[0] < 3 * window * 60 / limit


def test_try_acquire_reports_how_long_to_wait():
    limiter = RateLimiter(f"test-{uuid.uuid4().hex}", limit=2, window=1.0)

    assert limiter.try_acquire() == 0
    assert limiter.try_acquire() == 0
    wait = limiter.try_acquire()

    assert 0.5 < wait <= 1.0
    assert limiter.acquire(timeout=0.1) is False
