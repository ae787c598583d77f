"""Entering an Audience Sync step and flushing the queue, with a fake TikTok client (unit
level). The same flows against the sandbox over HTTP are in test_flush_sandbox.py."""

from datetime import timedelta

import pytest

from analytics.models import AudienceSyncBatch, NotSyncedReason, StepStats
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField, SyncAction
from partners.models import (
    AdAccountStatus,
    ConnectionStatus,
    TikTokAdAccount,
    TikTokConnection,
)
from partners.tiktok.client import TikTokAdAccountAccessError, TikTokAuthError, TikTokRateLimitError
from tests.fakes import FakeTikTokClient
from tests.plugins.canvases import T0, enter
from users.identifiers import sha256_hex

pytestmark = pytest.mark.django_db

EMAIL_A = sha256_hex("a@example.com")
PHONE_B = sha256_hex("+33612345678")


def stats(step):
    return StepStats.objects.get(step=step)


def test_entering_queues_hashed_ids_and_counts_users_without_fields_as_not_synced(
    active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL, MatchField.PHONE])
    profiles = make_profiles(
        {"external_id": "a", "email": " A@Example.com"},
        {"external_id": "b", "phone": "+33 6 12 34 56 78"},
        {"external_id": "none"},
        {"external_id": "bad", "email": "not-an-email"},
    )

    enter(active_canvas, profiles.values())

    items = list(AudienceSyncItem.objects.all())
    assert {(i.email_sha256, i.phone_sha256) for i in items} == {(None, PHONE_B), (EMAIL_A, None)}
    assert {i.schema for i in items} == {1 | 2}
    assert all(i.deadline_at == T0 + timedelta(hours=13) for i in items)
    s = stats(step)
    assert (s.entered, s.not_synced, s.synced, s.pending, s.exited) == (4, 2, 0, 2, 4)
    reasons = dict(NotSyncedReason.objects.values_list("reason", "count"))
    assert reasons["No Email or Phone"] == 1
    assert [r for r in reasons if r.startswith("Email: ")] and sum(reasons.values()) == 2


def test_flush_sends_positional_rows_in_id_schema_order(active_canvas, sync_step, make_profiles):
    step = sync_step([MatchField.PHONE, MatchField.EMAIL])
    profiles = make_profiles(
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "phone": "+33612345678"},
    )
    enter(active_canvas, profiles.values())
    client = FakeTikTokClient()
    woken = []

    report = audience_sync_flush(now=T0, client=client, on_backlog=lambda: woken.append(1))

    assert woken == []  # no full batch: no other worker is needed
    (call,) = client.calls
    assert call["id_schema"] == ["EMAIL_SHA256", "PHONE_SHA256"]
    assert call["action"] == "add"
    assert call["advertiser_ids"] == ["7001"]
    assert call["access_token"] == "unit-test-token"
    assert sorted(call["rows"], key=str) == sorted(
        [
            [{"id": EMAIL_A, "audience_ids": ["9001"]}, {}],
            [{}, {"id": PHONE_B, "audience_ids": ["9001"]}],
        ],
        key=str,
    )
    assert report.synced == 2
    assert not AudienceSyncItem.objects.exists()
    s = stats(step)
    assert (s.synced, s.pending) == (2, 0)
    batch = AudienceSyncBatch.objects.get()
    assert (batch.request_id, batch.size, batch.oldest_enqueued_at) == ("fake-1", 2, T0)


def test_remove_steps_send_delete(active_canvas, sync_step, make_profiles):
    sync_step([MatchField.EMAIL], action=SyncAction.REMOVE)
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    client = FakeTikTokClient()

    audience_sync_flush(now=T0, client=client)

    assert client.calls[0]["action"] == "delete"


def test_a_backlog_goes_out_in_full_batches(active_canvas, sync_step, make_profiles, settings):
    settings.TIKTOK_MAX_USERS_PER_REQUEST = 3
    sync_step([MatchField.EMAIL])
    profiles = make_profiles(
        *[{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(7)]
    )
    enter(active_canvas, profiles.values())
    client = FakeTikTokClient()

    woken = []
    report = audience_sync_flush(now=T0, client=client, on_backlog=lambda: woken.append(1))

    assert [len(c["rows"]) for c in client.calls] == [3, 3, 1]
    assert woken == [1]  # one more worker woken for the backlog, once
    assert report.users_per_request == [3, 3, 1]
    assert len({row[0]["id"] for row in client.sent_rows}) == 7


def test_rate_limited_batches_are_retried_later_and_counted_once(
    active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    client = FakeTikTokClient(
        errors=[TikTokRateLimitError("App reaches the QPS limit", code=40100)]
    )

    audience_sync_flush(now=T0, client=client)
    item = AudienceSyncItem.objects.get()
    assert (item.attempts, item.last_error_code, item.first_attempt_at) == (1, 40100, T0)
    assert item.next_attempt_at > T0
    assert stats(step).last_error_code == 40100

    audience_sync_flush(now=T0, client=client)  # not due yet: nothing sent
    assert len(client.calls) == 1

    audience_sync_flush(now=T0 + timedelta(seconds=2), client=client)
    assert len(client.calls) == 2
    s = stats(step)
    assert (s.synced, s.errored, s.pending, s.last_error_code) == (1, 0, 0, None)


def test_a_failed_batch_retries_together_in_one_request(active_canvas, sync_step, make_profiles):
    """One delay per batch: rows spread over the backoff window would return as many tiny
    requests (seen in `make chaos` with 40 % TikTok errors)."""
    sync_step([MatchField.EMAIL])
    users = [{"external_id": f"r{i}", "email": f"r{i}@example.com"} for i in range(30)]
    enter(active_canvas, make_profiles(*users).values())
    client = FakeTikTokClient(
        errors=[TikTokRateLimitError("App reaches the QPS limit", code=40100)]
    )

    audience_sync_flush(now=T0, client=client)

    assert AudienceSyncItem.objects.values("next_attempt_at").distinct().count() == 1
    audience_sync_flush(now=T0 + timedelta(minutes=10), client=client)
    assert [len(call["rows"]) for call in client.calls] == [30, 30]


@pytest.mark.parametrize(
    "error",
    [
        TikTokAuthError("Access token is revoked", code=40105),
        TikTokRateLimitError("App reaches the QPS limit", code=40100),
    ],
)
def test_a_failed_request_ends_the_flush_of_its_group(
    error, settings, active_canvas, sync_step, make_profiles
):
    """Three full batches queued, TikTok refuses one: one request, not three (`make chaos`
    saw 27 requests with a revoked token while the flush went on batch after batch)."""
    settings.TIKTOK_MAX_USERS_PER_REQUEST = 1
    sync_step([MatchField.EMAIL])
    users = [{"external_id": f"f{i}", "email": f"f{i}@example.com"} for i in range(3)]
    enter(active_canvas, make_profiles(*users).values())
    client = FakeTikTokClient(errors=[error] * 3)

    audience_sync_flush(now=T0, client=client)

    assert len(client.calls) == 1
    assert AudienceSyncItem.objects.count() == 3


def test_an_invalid_token_pauses_the_queue_until_reconnect(
    active_canvas, sync_step, make_profiles, tiktok
):
    connection = tiktok[0]
    sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    client = FakeTikTokClient(errors=[TikTokAuthError("Access token is revoked", code=40105)])

    audience_sync_flush(now=T0, client=client)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.INVALID
    assert connection.invalid_code == 40105

    # Paused: no request is wasted while the token is known to be invalid.
    audience_sync_flush(now=T0 + timedelta(hours=1), client=client)
    assert len(client.calls) == 1

    TikTokConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.CONNECTED)
    audience_sync_flush(now=T0 + timedelta(hours=1), client=client)
    assert len(client.calls) == 2
    assert not AudienceSyncItem.objects.exists()


def test_lost_ad_account_access_is_recorded_on_the_ad_account(
    active_canvas, sync_step, make_profiles, tiktok
):
    sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    client = FakeTikTokClient(errors=[TikTokAdAccountAccessError("No permission", code=40001)])

    audience_sync_flush(now=T0, client=client)

    assert TikTokAdAccount.objects.get().status == AdAccountStatus.NO_ACCESS
    assert TikTokConnection.objects.get().status == ConnectionStatus.CONNECTED


def test_users_still_queued_at_the_deadline_are_errored_with_the_last_error(
    active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles(
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "b@example.com"},
    ).values())  # fmt: skip
    always_failing = FakeTikTokClient(errors=[TikTokRateLimitError("QPS", code=40100)] * 1000)

    # Retry for the whole window (an accelerated clock, not sleeping).
    for minutes in range(0, 13 * 60, 7):
        audience_sync_flush(now=T0 + timedelta(minutes=minutes), client=always_failing)
    assert stats(step).errored == 0
    audience_sync_flush(now=T0 + timedelta(hours=13), client=always_failing)

    s = stats(step)
    assert (s.errored, s.synced, s.pending) == (2, 0, 0)
    assert (s.last_error_code, s.last_error_message) == (40100, "QPS")
    assert not AudienceSyncItem.objects.exists()
    # Counted once, however often the sweep runs.
    audience_sync_flush(now=T0 + timedelta(hours=14), client=always_failing)
    assert stats(step).errored == 2
