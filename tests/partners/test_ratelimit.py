"""The TikTok limiter holds across concurrent senders (Redis when REDIS_URL is set, as in CI's
second run; the database otherwise)."""

import os
import threading
import time
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


# The interactive share (docs/ARCHITECTURE.md D3): page views, look-ups, OAuth and token checks
# take a slot in the TikTok app's window and in a smaller interactive window, both or neither;
# the flush takes one in the app's window only. Each mode is tested: the database always,
# Redis when REDIS_URL is set (CI's second run).

MODES = [
    "database",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            not os.environ.get("REDIS_URL"), reason="Redis mode runs when REDIS_URL is set"
        ),
    ),
]


@pytest.fixture(params=MODES)
def mode(request, settings):
    if request.param == "database":
        settings.REDIS_URL = ""
    return request.param


def busiest(times: list[float], window: float) -> int:
    """The most grants in any sliding window of `window` seconds."""
    times = sorted(times)
    return max((sum(1 for t in times if s <= t < s + window) for s in times), default=0)


def test_an_interactive_slot_is_taken_in_both_windows_or_in_neither(mode):
    key = f"test-{uuid.uuid4().hex}"
    interactive = RateLimiter(
        key, limit=4, window=5.0, share_key=f"{key}:interactive", share_limit=2
    )
    flush = RateLimiter(key, limit=4, window=5.0)

    assert interactive.try_acquire() == 0
    assert interactive.try_acquire() == 0
    # The share is used up: refused, and the refusal took nothing from the app's window.
    assert 4.0 < interactive.try_acquire() <= 5.0
    assert interactive.try_acquire() > 0
    assert flush.try_acquire() == 0
    assert flush.try_acquire() == 0
    # The app's window is full: 2 interactive + 2 flush.
    assert flush.try_acquire() > 0
    assert interactive.try_acquire() > 0


def test_a_full_app_window_refuses_interactive_calls_too(mode):
    key = f"test-{uuid.uuid4().hex}"
    interactive = RateLimiter(
        key, limit=3, window=5.0, share_key=f"{key}:interactive", share_limit=2
    )
    flush = RateLimiter(key, limit=3, window=5.0)
    for _ in range(3):
        assert flush.try_acquire() == 0

    assert interactive.try_acquire() > 0
    # Refused by the app's window: its share was not spent either (both of its slots are free).
    share_window = RateLimiter(f"{key}:interactive", limit=2, window=5.0)
    assert share_window.try_acquire() == 0
    assert share_window.try_acquire() == 0


def test_interactive_callers_keep_to_their_share_and_never_starve_the_flush(mode):
    """Five interactive senders hammer the limiter while two flush senders do: together they
    never pass the app's limit, the interactive ones never pass their share, and the flush
    gets the rest of every window."""
    limit, share, window, seconds = 20, 5, 0.5, 2.0
    key = f"test-{uuid.uuid4().hex}"
    grants: dict[str, list[float]] = {"interactive": [], "flush": []}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def sender(kind: str):
        if kind == "interactive":
            limiter = RateLimiter(
                key, limit=limit, window=window, share_key=f"{key}:interactive", share_limit=share
            )
        else:
            limiter = RateLimiter(key, limit=limit, window=window)
        while time.monotonic() < stop:
            if limiter.acquire(timeout=max(0.0, stop - time.monotonic())):
                with lock:
                    grants[kind].append(limiter.last_grant_at)
        connection.close()

    threads = [threading.Thread(target=sender, args=("interactive",)) for _ in range(5)]
    threads += [threading.Thread(target=sender, args=("flush",)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = grants["interactive"] + grants["flush"]
    assert busiest(everything, window) <= limit
    assert busiest(grants["interactive"], window) <= share
    assert grants["interactive"], "the interactive senders got no slot at all"
    # The flush keeps the rest: at least limit - share per window over the run (one window of
    # slack for the start and the end).
    windows = seconds / window
    assert len(grants["flush"]) >= (limit - share) * (windows - 1)


def test_the_products_limiters_share_the_tiktok_apps_window(settings):
    from partners.tiktok.ratelimit import tiktok_interactive_limiter, tiktok_rate_limiter

    settings.TIKTOK_MAX_REQUESTS_PER_SECOND = 50
    settings.TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND = 10
    flush = tiktok_rate_limiter("7000000000000000042")
    interactive = tiktok_interactive_limiter("7000000000000000042")

    assert (flush.key, flush.limit, flush.share_key) == (
        "ratelimit:tiktok:7000000000000000042",
        50,
        None,
    )
    assert (interactive.key, interactive.limit) == (flush.key, 50)
    assert (interactive.share_key, interactive.share_limit) == (
        "ratelimit:tiktok:7000000000000000042:interactive",
        10,
    )
    # A share as large as the whole would leave the flush nothing: at least one slot is kept.
    settings.TIKTOK_MAX_REQUESTS_PER_SECOND = 8
    assert tiktok_interactive_limiter("7000000000000000042").share_limit == 7
