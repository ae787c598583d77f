"""The Audience Sync engine against the TikTok sandbox over HTTP: what TikTok ends up holding,
per id type, through faults, revocation, deleted and not-yet-ready audiences; and once end to
end through a real broker and worker process."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import StepStats
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField, SyncAction
from partners.models import ConnectionStatus
from tests.plugins.canvases import T0, enter, members
from users.identifiers import sha256_hex

pytestmark = pytest.mark.django_db


def test_users_land_in_the_tiktok_audience_per_id_type(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    step = sync_to_sandbox([MatchField.EMAIL, MatchField.PHONE, MatchField.GAID])
    gaid = "38400000-8CF0-11BD-B23E-10B96E40000D"
    enter(active_canvas, make_profiles(
        {"external_id": "a", "email": "Ana@Example.com", "phone": "+33 6 12 34 56 78"},
        {"external_id": "b", "devices": [{"device_id": "d1", "google_ad_id": gaid}]},
        {"external_id": "c"},
    ).values())  # fmt: skip

    report = audience_sync_flush(now=T0)

    assert report.synced == 2 and report.requests == 1
    assert members(tiktok_sandbox, sandbox_tiktok[1]) == {
        "EMAIL_SHA256": {sha256_hex("ana@example.com")},
        "PHONE_SHA256": {sha256_hex("+33612345678")},
        "AAID_SHA256": {sha256_hex(gaid.lower())},
    }
    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.not_synced, stats.pending) == (2, 1, 0)
    # Only hashes ever reached TikTok.
    assert "ana@example.com" not in str(tiktok_sandbox.requests("/segment/mapping/"))


def test_a_remove_step_deletes_users_from_the_audience(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    add = sync_to_sandbox([MatchField.EMAIL])
    sync_to_sandbox([MatchField.EMAIL], action=SyncAction.REMOVE, parent=add)
    profiles = make_profiles(
        {"external_id": "a", "email": "a@example.com"}, {"external_id": "b", "email": "b@x.com"}
    )

    enter(active_canvas, profiles.values())
    audience_sync_flush(now=T0)

    assert members(tiktok_sandbox, sandbox_tiktok[1]) == {}
    # Added, then removed: in the order the users went through the steps.
    history = tiktok_sandbox.audience(sandbox_tiktok[1].tiktok_audience_id)[
        "history"
    ]  # newest first
    assert [event["action"] for event in reversed(history)] == ["create", "add", "delete"]


def test_tiktok_side_failures_are_retried_until_synced(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    tiktok_sandbox.set_faults(script=["40100", "50000", "http_502"])

    later = T0
    for _ in range(4):
        audience_sync_flush(now=later)
        later += timedelta(minutes=5)

    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.errored, stats.pending) == (1, 0, 0)
    assert members(tiktok_sandbox, sandbox_tiktok[1]) == {
        "EMAIL_SHA256": {sha256_hex("a@example.com")}
    }


def test_a_new_audience_not_ready_yet_is_retried_not_errored(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles, admin
):
    tiktok_sandbox.set_faults(audience_not_ready_seconds=600)
    connection, audience = sandbox_tiktok
    audience.tiktok_audience_id = tiktok_sandbox.create_audience(
        connection.access_token, audience.ad_account.advertiser_id, "Fresh"
    )
    audience.save()
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())

    audience_sync_flush(now=T0)
    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.errored, stats.last_error_code) == (0, 0, 40002)

    tiktok_sandbox.advance_clock(601)
    audience_sync_flush(now=T0 + timedelta(hours=1))
    stats.refresh_from_db()
    assert (stats.synced, stats.errored) == (1, 0)


def test_a_revoked_token_marks_the_connection_invalid_at_once_and_pauses_sending(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    connection, audience = sandbox_tiktok
    sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    tiktok_sandbox.revoke(connection.access_token)

    audience_sync_flush(now=T0)
    connection.refresh_from_db()
    assert (connection.status, connection.invalid_code) == (ConnectionStatus.INVALID, 40105)

    sent_before = len(tiktok_sandbox.requests("/segment/mapping/"))
    audience_sync_flush(now=T0 + timedelta(hours=1))
    assert len(tiktok_sandbox.requests("/segment/mapping/")) == sent_before  # none wasted
    assert AudienceSyncItem.objects.count() == 1


def test_a_deleted_audience_shows_on_the_step_at_once_and_errors_at_the_deadline(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    tiktok_sandbox.delete_audience(sandbox_tiktok[1].tiktok_audience_id)

    audience_sync_flush(now=T0)
    stats = StepStats.objects.get(step=step)
    assert stats.last_error_code == 40007
    assert (stats.errored, stats.pending) == (0, 1)

    audience_sync_flush(now=T0 + timedelta(hours=13))
    stats.refresh_from_db()
    assert (stats.errored, stats.pending, stats.last_error_code) == (1, 0, 40007)


@pytest.mark.django_db(transaction=True)
def test_end_to_end_through_a_real_broker_and_worker(
    tiktok_sandbox,
    sandbox_tiktok,
    sync_to_sandbox,
    active_canvas,
    make_profiles,
    celery_worker_process,
):
    from audience_sync.tasks import audience_sync_flush as flush_task
    from journeys.tasks import journeys_advance

    step = sync_to_sandbox([MatchField.EMAIL])
    from journeys.entries import canvas_entries_create_for

    profiles = make_profiles(*[{"external_id": f"u{i}", "email": f"u{i}@x.com"} for i in range(5)])
    canvas_entries_create_for(
        canvas=active_canvas, recipients=[(p.pk, None) for p in profiles.values()]
    )

    journeys_advance.delay()
    deadline = time.monotonic() + 60
    while StepStats.objects.filter(step=step, entered=5).count() == 0:
        assert time.monotonic() < deadline, celery_worker_process.log()
        time.sleep(0.2)
    flush_task.delay()
    while StepStats.objects.filter(step=step, synced=5).count() == 0:
        assert time.monotonic() < deadline, celery_worker_process.log()
        time.sleep(0.2)

    assert members(tiktok_sandbox, sandbox_tiktok[1])["EMAIL_SHA256"] == {
        sha256_hex(f"u{i}@x.com") for i in range(5)
    }
    assert timezone.now() - T0 < timedelta(minutes=10)
