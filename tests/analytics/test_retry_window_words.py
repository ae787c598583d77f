"""Every text that names the sync's retry window states the configured one, in words: the
analytics page's help and last-error line, and the "Users Are Erroring Out" notification."""

from datetime import timedelta

import pytest
from django.urls import reverse

from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField
from notifications.models import Notification
from partners.tiktok.client import TikTokRateLimitError
from tests.analytics.test_analytics_page import metric
from tests.fakes import FakeTikTokClient
from tests.plugins.canvases import T0, enter

pytestmark = pytest.mark.django_db


def test_a_short_window_is_named_as_configured(
    settings, viewer_client, active_canvas, sync_step, make_profiles, marketer
):
    settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS = 30
    active_canvas.created_by = marketer.user
    active_canvas.save()
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    qps = TikTokRateLimitError("App reaches the QPS limit", code=40100)
    failing = FakeTikTokClient(errors=[qps, qps])
    page = reverse("analytics:canvas-analytics", args=[active_canvas.pk])

    audience_sync_flush(now=T0, client=failing)
    content = viewer_client.get(page).content.decode()
    assert "Users Errored only after 30 seconds of retries." in content
    assert "Users are retried for 30 seconds." in content
    assert "13 hours" not in content and "about" not in content

    audience_sync_flush(now=T0 + timedelta(seconds=31), client=failing)
    content = viewer_client.get(page).content.decode()
    assert metric(content, step, "errored") == 1
    told = Notification.objects.get(title="Users Are Erroring Out For Canvas Journey")
    assert "within the retry window (30 seconds)" in told.body
    assert "hour" not in told.body


def test_the_default_window_reads_13_hours(viewer_client, active_canvas, sync_step):
    sync_step([MatchField.EMAIL])
    content = viewer_client.get(
        reverse("analytics:canvas-analytics", args=[active_canvas.pk])
    ).content.decode()
    assert "Users Errored only after 13 hours of retries." in content
