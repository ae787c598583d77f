"""Settings > Sync Status against a known queue state: every figure, the paused state, and who
may see it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import AudienceSyncBatch, BatchOutcome, Period, StepActivity, StepStats
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField
from monitoring import selectors
from partners.models import ConnectionStatus
from telemetry.models import InFlightRequest, TaskRun, WorkerHeartbeat

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now():
    """The state is built around the test's start: the page tests compare it with the view's
    own clock, which must not have moved past the 30 s and 60 s retries by then."""
    global NOW
    NOW = timezone.now().replace(microsecond=0)


def queue(step, audience, connection, *, enqueued_ago, due_in=0, **fields):
    enqueued = NOW - timedelta(seconds=enqueued_ago)
    return AudienceSyncItem.objects.create(
        step=step, audience=audience, connection=connection, action="add", schema=1,
        email_sha256="a" * 64, enqueued_at=enqueued,
        next_attempt_at=NOW + timedelta(seconds=due_in),
        deadline_at=enqueued + timedelta(hours=13), **fields,
    )  # fmt: skip


@pytest.fixture
def known_state(tiktok, sync_step):
    connection, ad_account, audience = tiktok
    step = sync_step([MatchField.EMAIL])
    StepStats.objects.create(step=step, entered=100, synced=30, not_synced=5, errored=2)
    queue(step, audience, connection, enqueued_ago=300)  # the oldest
    queue(step, audience, connection, enqueued_ago=100)
    queue(step, audience, connection, enqueued_ago=10)
    queue(step, audience, connection, enqueued_ago=50, due_in=60, attempts=1)  # retry later
    queue(step, audience, connection, enqueued_ago=5, due_in=30, attempts=1)
    InFlightRequest.objects.create(
        audience_id=audience.pk, users=10,
        started_at=NOW, expires_at=NOW + timedelta(minutes=2),
    )  # fmt: skip
    InFlightRequest.objects.create(  # a dead worker's marker: expired
        audience_id=audience.pk, users=999,
        started_at=NOW - timedelta(minutes=5), expires_at=NOW - timedelta(minutes=3),
    )  # fmt: skip
    StepActivity.objects.create(
        step=step, period=Period.MINUTE, start=NOW - timedelta(minutes=10), synced=20, errored=1
    )
    StepActivity.objects.create(  # older than an hour
        step=step, period=Period.MINUTE, start=NOW - timedelta(hours=2), synced=999, errored=9
    )
    second = NOW - timedelta(seconds=20)
    for sent_at, outcome, code in [
        (second, BatchOutcome.SYNCED, 0),
        (second + timedelta(milliseconds=300), BatchOutcome.RETRY, 50000),
        (NOW - timedelta(seconds=40), BatchOutcome.SYNCED, 0),
        (NOW - timedelta(minutes=5), BatchOutcome.SYNCED, 0),  # not in the last minute
    ]:
        AudienceSyncBatch.objects.create(
            audience=audience, action="add", size=10, outcome=outcome, code=code,
            message="Internal error" if code else "", sent_at=sent_at,
        )  # fmt: skip
    return step


def test_figures_of_a_known_queue_state(app_group, known_state, tiktok):
    [row] = selectors.sync_status(app_group=app_group, now=NOW)
    [account] = row.ad_accounts

    for figures in (row.figures, account.figures):
        assert figures.pending == 100 - 30 - 5 - 2
        assert figures.oldest_age_seconds == 300
        assert figures.due_now == 3
        assert figures.in_flight == 10
        assert (figures.synced_last_hour, figures.errored_last_hour) == (20, 1)
        assert (figures.requests_last_minute, figures.peak_requests_in_a_second) == (3, 2)
        assert (figures.last_error_code, figures.last_error_message) == (50000, "Internal error")
    assert row.paused_reason == account.paused_reason == ""


def test_another_app_groups_queue_is_not_counted(other_app_group, known_state):
    assert selectors.sync_status(app_group=other_app_group, now=NOW) == []


def test_an_invalid_token_shows_sending_paused(app_group, known_state, tiktok):
    connection = tiktok[0]
    TikTokConnection = type(connection)
    TikTokConnection.objects.filter(pk=connection.pk).update(
        status=ConnectionStatus.INVALID, invalid_code=40105, invalid_message="Access token revoked",
        invalid_at=NOW,
    )  # fmt: skip

    [row] = selectors.sync_status(app_group=app_group, now=NOW)

    assert row.paused_reason.startswith("Paused: Invalid Token")
    assert row.ad_accounts[0].paused_reason.startswith("Paused: Invalid Token")
    assert (row.figures.last_error_code, row.figures.last_error_message) == (
        40105,
        "Access token revoked",
    )


def test_the_page_shows_the_figures_workers_and_flush(admin_client, known_state):
    WorkerHeartbeat.objects.create(
        hostname="worker1@box-a", pid=11, concurrency=4, started_at=NOW - timedelta(hours=1),
        last_seen_at=timezone.now() - timedelta(seconds=5),
    )  # fmt: skip
    WorkerHeartbeat.objects.create(
        hostname="worker2@box-b", pid=12, concurrency=4, started_at=NOW - timedelta(hours=1),
        last_seen_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip
    TaskRun.objects.create(
        name="audience_sync_flush", last_started_at=timezone.now() - timedelta(seconds=3),
        last_finished_at=timezone.now(), last_hostname="worker1@box-a",
        last_result={"requests": 2, "synced": 20000},
    )  # fmt: skip

    response = admin_client.get(reverse("monitoring:sync-status"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-figure="pending">63<' in page
    assert 'data-figure="in-flight">10<' in page
    assert 'data-figure="due">3<' in page
    assert "50000: Internal error" in page
    assert "Sending" in page
    workers = {row.heartbeat.hostname: row.alive for row in response.context["workers"]}
    assert workers == {"worker1@box-a": True, "worker2@box-b": False}
    assert "Not answering" in page and "Answering" in page
    assert "on worker1@box-a" in page and "20,000 users synced" in page
    assert 'hx-trigger="every 5s"' in page


def test_the_htmx_refresh_returns_the_body_only(admin_client, known_state):
    response = admin_client.get(reverse("monitoring:sync-status"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert b"<html" not in response.content
    assert b'data-figure="pending">63<' in response.content


def test_only_admins_see_the_status_page(marketer_client, viewer):
    assert marketer_client.get(reverse("monitoring:sync-status")).status_code == 403


def test_due_now_is_counted_up_to_a_cap(app_group, tiktok, sync_step, monkeypatch):
    connection, _, audience = tiktok
    step = sync_step([MatchField.EMAIL])
    for _ in range(4):
        queue(step, audience, connection, enqueued_ago=1)
    monkeypatch.setattr(selectors, "DUE_COUNT_CAP", 2)

    [row] = selectors.sync_status(app_group=app_group, now=NOW)

    assert row.figures.due_now == 3 and row.figures.due_now_capped


def test_without_a_connection_the_page_says_so(admin_client):
    response = admin_client.get(reverse("monitoring:sync-status"))

    assert b"TikTok is not connected" in response.content
    assert b"No worker has sent a heartbeat" in response.content
    assert b"No worker has run the flush yet" in response.content
