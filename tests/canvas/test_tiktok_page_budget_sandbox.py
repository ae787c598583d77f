"""100 page views during a sync leave the flush's request rate alone (security issue 5,
item 5), against the TikTok sandbox over HTTP with a real Celery worker flushing.

The flush runs limiter-bound (small batches, a deep backlog). Its rate is measured from the
sandbox's request log for a few seconds without page views, then while Marketers load the
Summary tab, the Audience Sync editor and its audience list 100 times. The page views' TikTok
calls must stay within the interactive share, and the flush's rate must not drop by more than
TOLERANCE.

The limit is TikTok's Basic tier, 10/s (2 interactive, the default fifth), not the product's
50/s: what is measured is the TikTok budget, and at 10/s two workers flushing stay
limiter-bound even when the machine is busy. At 50/s on a loaded 2-core machine the CPU that
100 page views take slowed the flush by 15-50% with a single TikTok call among them, which no
tolerance can tell from a budget taken. Phases last whole limiter windows: the limiter grants
in bursts that repeat every window, so any whole number of windows holds the same count."""

from __future__ import annotations

import math
import time

import pytest
from django.test import Client
from django.urls import reverse

from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField
from journeys.entries import canvas_entries_create
from partners.tiktok.ratelimit import WINDOW_SECONDS
from tests.plugins.canvases import bulk_profiles
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)

MAX_PER_SECOND = 10
INTERACTIVE_PER_SECOND = 2
# 10 users per request: 600 requests of backlog, about a minute at 10/s, longer than the test.
USERS_PER_REQUEST = 10
USERS = 6_000
PHASE_WINDOWS = 8
PAGE_VIEWS = 100
TOLERANCE = 0.10
MAPPING = "/segment/mapping/"


def requests_between(log: list[dict], start: float, end: float, *, mapping: bool) -> list[float]:
    return sorted(
        e["at"] for e in log if start <= e["at"] < end and (e["endpoint"] == MAPPING) == mapping
    )


def busiest_second(times: list[float]) -> int:
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


def test_page_views_during_a_sync_leave_the_flushs_rate_alone(
    settings, tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, app_group,
    marketer, celery_worker_processes,
):  # fmt: skip
    from audience_sync.tasks import audience_sync_flush as flush_task
    from journeys.engine import journeys_advance

    settings.TIKTOK_MAX_REQUESTS_PER_SECOND = MAX_PER_SECOND
    settings.TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND = INTERACTIVE_PER_SECOND
    settings.TIKTOK_MAX_USERS_PER_REQUEST = USERS_PER_REQUEST
    step = sync_to_sandbox([MatchField.EMAIL])
    ad_account = sandbox_tiktok[1].ad_account
    bulk_profiles(app_group, USERS)
    canvas_entries_create(canvas=active_canvas, profiles=Profile.objects.all())
    journeys_advance()
    assert AudienceSyncItem.objects.count() == USERS
    marketer_client = Client()
    marketer_client.force_login(marketer.user)
    pages = [
        reverse("canvas:summary", args=[active_canvas.pk]),
        reverse("canvas:audience-sync", args=[active_canvas.pk, step.pk]),
        reverse("canvas:audience-options", args=[active_canvas.pk, step.pk])
        + f"?ad_account={ad_account.pk}&audience_query=Buy",
    ]

    # Two workers flush side by side, so a request that takes longer on a busy machine still
    # leaves the flush waiting for the limiter, not for itself.
    for _ in celery_worker_processes(2):
        flush_task.delay()
    deadline = time.monotonic() + 60
    while not tiktok_sandbox.requests(MAPPING, limit=1):
        assert time.monotonic() < deadline, "the worker never flushed"
        time.sleep(0.1)
    time.sleep(1.0)  # the flush is up to speed

    # Phase A: the flush alone.
    phase_seconds = PHASE_WINDOWS * WINDOW_SECONDS
    a_start = time.time()
    a_end = a_start + phase_seconds
    time.sleep(phase_seconds)

    # Phase B: 100 page views by Marketers, spread over as long (or longer, if they are slow:
    # the phase then lasts as many whole windows as they took).
    b_start = time.time()
    for i in range(PAGE_VIEWS):
        response = marketer_client.get(pages[i % len(pages)])
        assert response.status_code == 200
        assert "could not be reached" not in response.content.decode()
        pause = b_start + (i + 1) * phase_seconds / PAGE_VIEWS - time.time()
        if pause > 0:
            time.sleep(pause)
    windows = max(PHASE_WINDOWS, math.ceil((time.time() - b_start) / WINDOW_SECONDS))
    b_end = b_start + windows * WINDOW_SECONDS
    time.sleep(max(0.0, b_end - time.time()) + 0.5)  # the last requests reach the log

    # The measurement only counts if the flush had work the whole time.
    assert AudienceSyncItem.objects.count() > 0, "the backlog ran out: make it larger"
    log = tiktok_sandbox.requests(limit=5000)
    flush_alone = len(requests_between(log, a_start, a_end, mapping=True)) / (a_end - a_start)
    flush_with_views = len(requests_between(log, b_start, b_end, mapping=True)) / (b_end - b_start)
    interactive = requests_between(log, b_start, b_end, mapping=False)
    figures = (
        f"flush alone {flush_alone:.1f} req/s; with {PAGE_VIEWS} page views "
        f"{flush_with_views:.1f} req/s over {b_end - b_start:.1f} s; page views' TikTok calls "
        f"{len(interactive)}, at most {busiest_second(interactive)} in any second"
    )
    print(figures)

    # The flush was limiter-bound (else this proves nothing), the page views stayed within
    # their share, and the flush kept its rate.
    assert flush_alone >= 0.8 * MAX_PER_SECOND / 1.05, figures
    assert busiest_second(interactive) <= INTERACTIVE_PER_SECOND, figures
    assert flush_with_views >= (1 - TOLERANCE) * flush_alone, figures
    assert tiktok_sandbox.stats()["mapping"]["rate_limited"] == 0
