"""When the flush sends (docs/ARCHITECTURE.md D1): a full batch at once, a partial one when its
oldest user has waited AUDIENCE_SYNC_BATCH_WAIT_SECONDS, one request per ready group in turn,
adds and removes of one audience in the order they were queued, and the wake-ups that make it
happen without waiting for beat's tick."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from analytics.models import AudienceSyncBatch, StepStats
from audience_sync import wakeups
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField, StepType, SyncAction
from journeys.entries import canvas_entries_create
from tests.factories import AudienceSyncSettingsFactory, TikTokAudienceFactory
from tests.fakes import FakeTikTokClient
from tests.plugins.canvases import T0, add_step, bulk_profiles, enter
from users.models import Profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def wait_5s(settings):
    settings.AUDIENCE_SYNC_BATCH_WAIT_SECONDS = 5


def users(make_profiles, count, prefix="u"):
    return make_profiles(
        *[
            {"external_id": f"{prefix}{i}", "email": f"{prefix}{i}@example.com"}
            for i in range(count)
        ]
    ).values()


def sync(canvas, audience, *, action=SyncAction.ADD, parent=None):
    step = add_step(canvas, StepType.AUDIENCE_SYNC, parent=parent)
    AudienceSyncSettingsFactory(
        step=step, audience=audience, action=action, match_fields=[MatchField.EMAIL]
    )
    return step


def test_a_partial_batch_waits_until_its_oldest_user_has_waited(
    wait_5s, active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, users(make_profiles, 3))
    client = FakeTikTokClient()
    ready_at = []

    report = audience_sync_flush(now=T0 + timedelta(seconds=4.9), client=client,
                                 on_waiting=ready_at.append)  # fmt: skip

    assert (client.calls, report.synced) == ([], 0)
    assert ready_at == [T0 + timedelta(seconds=5)]
    assert StepStats.objects.get(step=step).pending == 3

    report = audience_sync_flush(now=T0 + timedelta(seconds=5), client=client)

    assert [len(call["rows"]) for call in client.calls] == [3]
    assert not AudienceSyncItem.objects.exists()


def test_full_batches_go_at_once_and_the_rest_waits(
    wait_5s, settings, active_canvas, sync_step, make_profiles
):
    settings.TIKTOK_MAX_USERS_PER_REQUEST = 2
    sync_step([MatchField.EMAIL])
    enter(active_canvas, users(make_profiles, 5))
    client = FakeTikTokClient()
    ready_at = []

    audience_sync_flush(now=T0, client=client, on_waiting=ready_at.append)

    assert [len(call["rows"]) for call in client.calls] == [2, 2]
    assert ready_at == [T0 + timedelta(seconds=5)]
    assert AudienceSyncItem.objects.count() == 1

    audience_sync_flush(now=T0 + timedelta(seconds=5), client=client)

    assert [len(call["rows"]) for call in client.calls] == [2, 2, 1]


def test_ready_groups_take_turns_one_request_each(settings, active_canvas, tiktok, make_profiles):
    settings.TIKTOK_MAX_USERS_PER_REQUEST = 2
    second = TikTokAudienceFactory(ad_account=tiktok[1], name="Fans", tiktok_audience_id="9002")
    # Every user is queued for 9001 before any is queued for 9002.
    sync(active_canvas, second, parent=sync(active_canvas, tiktok[2]))
    enter(active_canvas, users(make_profiles, 5))
    client = FakeTikTokClient()

    audience_sync_flush(now=T0, client=client)

    sent = [(call["rows"][0][0]["audience_ids"][0], len(call["rows"])) for call in client.calls]
    assert sent == [
        ("9001", 2), ("9002", 2), ("9001", 2), ("9002", 2), ("9001", 1), ("9002", 1)
    ]  # fmt: skip


def test_a_remove_waits_for_the_adds_queued_before_it(
    wait_5s, settings, active_canvas, tiktok, make_profiles
):
    settings.TIKTOK_MAX_USERS_PER_REQUEST = 2
    sync(active_canvas, tiktok[2], action=SyncAction.REMOVE,
         parent=sync(active_canvas, tiktok[2]))  # fmt: skip
    enter(active_canvas, users(make_profiles, 3))
    client = FakeTikTokClient()

    # The adds' full batch goes; their partial one waits, and the removes (two full batches'
    # worth) wait behind it: the next wake-up is for the adds' partial batch.
    ready_at = []
    audience_sync_flush(now=T0, client=client, on_waiting=ready_at.append)
    assert [(call["action"], len(call["rows"])) for call in client.calls] == [("add", 2)]
    assert ready_at == [T0 + timedelta(seconds=5)]

    audience_sync_flush(now=T0 + timedelta(seconds=5), client=client)

    assert [(call["action"], len(call["rows"])) for call in client.calls] == [
        ("add", 2), ("add", 1), ("delete", 2), ("delete", 1)
    ]  # fmt: skip


def test_a_re_add_waits_for_the_remove_queued_before_it(active_canvas, tiktok, make_profiles):
    sync(active_canvas, tiktok[2], parent=sync(active_canvas, tiktok[2], action=SyncAction.REMOVE))
    enter(active_canvas, users(make_profiles, 3))
    client = FakeTikTokClient()

    audience_sync_flush(now=T0, client=client)

    assert [(call["action"], len(call["rows"])) for call in client.calls] == [
        ("delete", 3), ("add", 3)
    ]  # fmt: skip


# Wake-ups


@pytest.fixture
def sent_wakeups(monkeypatch):
    from celery import current_app
    from django.core.cache import cache

    cache.clear()
    sent = []

    def send_task(name, **options):
        assert name == "audience_sync.tasks.audience_sync_flush"
        sent.append(options)

    monkeypatch.setattr(current_app, "send_task", send_task)
    return sent


def test_one_wake_up_per_slot_however_many_ask(sent_wakeups):
    soon = time.time() + 60
    for _ in range(3):
        wakeups.flush_wake_at(soon, slot_seconds=0.1)
    wakeups.flush_wake_at(soon + 0.2, slot_seconds=0.1)

    assert len(sent_wakeups) == 2
    # Never before the time asked for, and at most one slot after it.
    assert all(
        60 - 1 < wake["countdown"] <= 60.3 and wake["expires"] > wake["countdown"]
        for wake in sent_wakeups
    )


def test_queueing_users_wakes_the_flush_once_committed(
    sent_wakeups, active_canvas, sync_step, make_profiles, django_capture_on_commit_callbacks
):
    sync_step([MatchField.EMAIL])
    profiles = users(make_profiles, 2)

    with django_capture_on_commit_callbacks(execute=True):
        enter(active_canvas, profiles)

    assert len(sent_wakeups) == 1 and sent_wakeups[0]["countdown"] <= wakeups.SOON_SECONDS


def test_a_waiting_batch_asks_to_be_woken_when_ready(sent_wakeups):
    ready_at = datetime.fromtimestamp(time.time() + 5, UTC)

    wakeups.flush_wake_when_ready(ready_at)

    (wake,) = sent_wakeups
    assert 4 < wake["countdown"] <= 5.1


@pytest.mark.django_db(transaction=True)
def test_queued_users_are_sent_by_wake_ups_alone_after_the_wait(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, settings, app_group,
    celery_worker_processes,
):  # fmt: skip
    """A real worker and broker, no beat and no flush started by hand: queueing wakes a flush,
    which finds the partial batch too young and asks to be woken when it is ready."""
    from journeys.engine import journeys_advance

    settings.AUDIENCE_SYNC_BATCH_WAIT_SECONDS = 1
    step = sync_to_sandbox([MatchField.EMAIL])
    bulk_profiles(app_group, 30)
    (worker,) = celery_worker_processes(1)

    canvas_entries_create(canvas=active_canvas, profiles=Profile.objects.all())
    journeys_advance()

    deadline = time.monotonic() + 30
    while StepStats.objects.get(step=step).synced < 30:
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.1)
    batch = AudienceSyncBatch.objects.get()
    assert batch.size == 30
    assert batch.sent_at - batch.oldest_enqueued_at >= timedelta(seconds=1)
    assert tiktok_sandbox.audience(sandbox_tiktok[1].tiktok_audience_id)["size"] == 30


def test_the_engine_queues_users_at_the_time_it_reaches_them(
    active_canvas, sync_step, make_profiles
):
    """Without a given time, each pass of the engine queues its users at its own time, so a
    long pass does not make its last users look 5 s old to the flush (partial batches)."""
    from journeys.engine import journeys_advance
    from journeys.entries import canvas_entries_create_for

    sync_step([MatchField.EMAIL])
    profiles = users(make_profiles, 5)
    canvas_entries_create_for(
        canvas=active_canvas, recipients=[(p.pk, None) for p in profiles], now=T0
    )

    journeys_advance(chunk=2)

    times = sorted(AudienceSyncItem.objects.values_list("next_attempt_at", flat=True))
    assert len(times) == 5 and times[0] == times[1] < times[2] == times[3] < times[4]
