"""The Canvas analytics page shows Braze's seven metrics per Audience Sync step, from counters."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField
from partners.tiktok.client import TikTokRateLimitError
from tests.factories import CanvasFactory
from tests.fakes import FakeTikTokClient
from tests.plugins.canvases import T0, enter

pytestmark = pytest.mark.django_db


def metric(content: str, step, name: str) -> int:
    row = re.search(rf'id="sync-step-{step.pk}">(.*?)</tr>', content, re.S).group(1)
    value = re.search(rf'data-metric="{name}"[^>]*>([\d,]+)<', row).group(1)
    return int(value.replace(",", ""))


def test_the_seven_metrics_match_what_happened(
    viewer_client, active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles(
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "b@example.com"},
        {"external_id": "c"},
    ).values())  # fmt: skip
    audience_sync_flush(now=T0, client=FakeTikTokClient())

    content = viewer_client.get(
        reverse("analytics:canvas-analytics", args=[active_canvas.pk])
    ).content.decode()

    expected = {"entered": 3, "proceeded": 0, "synced": 2, "not_synced": 1, "pending": 0,
                "errored": 0, "exited": 3}  # fmt: skip
    assert {name: metric(content, step, name) for name in expected} == expected
    assert "No Email: 1" in content
    assert "Total entries" in content


def test_the_last_tiktok_error_shows_on_the_step_at_once(
    viewer_client, active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    failing = FakeTikTokClient(
        errors=[TikTokRateLimitError("App reaches the QPS limit", code=40100)]
    )
    audience_sync_flush(now=T0, client=failing)

    content = viewer_client.get(
        reverse("analytics:canvas-analytics", args=[active_canvas.pk])
    ).content.decode()

    assert metric(content, step, "pending") == 1
    assert "Last TikTok error (40100): App reaches the QPS limit" in content


def test_another_app_groups_canvas_answers_404(viewer_client, other_app_group):
    theirs = CanvasFactory(app_group=other_app_group, name="Theirs")

    response = viewer_client.get(reverse("analytics:canvas-analytics", args=[theirs.pk]))

    assert response.status_code == 404


def test_the_page_reads_counters_not_users(viewer_client, active_canvas, sync_step, make_profiles):
    sync_step([MatchField.EMAIL])
    url = reverse("analytics:canvas-analytics", args=[active_canvas.pk])

    def queries_for(users: int) -> int:
        profiles = make_profiles(
            *[
                {"external_id": f"u{users}-{i}", "email": f"u{users}-{i}@x.com"}
                for i in range(users)
            ]
        )
        enter(active_canvas, profiles.values())
        viewer_client.get(url)  # the first request also sets up the session
        with CaptureQueriesContext(connection) as captured:
            assert viewer_client.get(url).status_code == 200
        return len(captured)

    assert queries_for(2) == queries_for(40)


def test_time_buckets_count_per_minute_and_per_day(active_canvas, sync_step, make_profiles):
    from datetime import timedelta

    from analytics.models import Period, StepActivity
    from analytics.services import analytics_housekeeping

    step = sync_step([MatchField.EMAIL])
    # Noon of the test day: both minutes fall in one day, whenever the suite runs (a run at
    # 23:58 once put them on two).
    first = T0.replace(hour=12, minute=0)
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values(),
          now=first)  # fmt: skip
    later = first + timedelta(minutes=3)
    enter(active_canvas, make_profiles({"external_id": "b", "email": "b@example.com"}).values(),
          now=later)  # fmt: skip
    audience_sync_flush(now=later, client=FakeTikTokClient())

    minutes = {
        a.start: (a.entered, a.synced)
        for a in StepActivity.objects.filter(step=step, period=Period.MINUTE)
    }
    assert minutes == {
        first.replace(second=0): (1, 0),
        later.replace(second=0): (1, 2),
    }
    day = StepActivity.objects.get(step=step, period=Period.DAY)
    assert (day.entered, day.synced) == (2, 2)

    analytics_housekeeping(now=T0 + timedelta(days=3))
    assert not StepActivity.objects.filter(period=Period.MINUTE).exists()
    assert StepActivity.objects.filter(period=Period.DAY).count() == 1


def test_the_chart_is_drawn_from_the_buckets(
    viewer_client, active_canvas, sync_step, make_profiles
):
    sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles(
        {"external_id": "a", "email": "a@example.com"}, {"external_id": "b"}
    ).values())  # fmt: skip
    audience_sync_flush(now=T0, client=FakeTikTokClient())

    content = viewer_client.get(
        reverse("analytics:canvas-analytics", args=[active_canvas.pk])
    ).content.decode()

    minute_chart = re.search(r'<figure class="activity-chart" data-period="minute"[^>]*>', content)
    assert 'data-entered="2"' in minute_chart.group(0)
    assert 'data-synced="1"' in minute_chart.group(0)
    assert 'data-errored="0"' in minute_chart.group(0)
    assert content.count("<polyline") == 6  # three series, two charts
