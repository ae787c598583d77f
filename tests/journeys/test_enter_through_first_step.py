"""Entering a Canvas whose first step is a live Audience Sync or Message step: on PostgreSQL the
entries go through that step in the statement that writes them (journeys.engine
entries_enter_through); on SQLite the engine moves them a moment later. Either way the queue,
the memberships, the sends, the counters and where the entries stand are the same."""

import pytest
from django.db import connection

from analytics.models import NotSyncedReason, StepStats
from audience_sync.models import AudienceMember, AudienceSyncItem
from canvas.models import MatchField, StepType
from journeys.engine import journeys_advance
from journeys.entries import canvas_entries_create
from journeys.models import Entry, MessageSend, Phase
from tests.factories import AudienceSyncSettingsFactory
from tests.plugins.canvases import T0, add_step
from users.models import Profile

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def enter_all(canvas):
    return canvas_entries_create(
        canvas=canvas, profiles=Profile.objects.filter(app_group=canvas.app_group), now=T0
    )


def counters(step):
    stats = StepStats.objects.get(step=step)
    return (stats.entered, stats.not_synced, stats.proceeded, stats.exited, stats.sends)


@pytest.fixture
def three(make_profiles):
    return make_profiles(
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "b@example.com", "phone": "+33612345678"},
        {"external_id": "c", "first_name": "No identifiers"},
    )


def test_an_audience_sync_first_step_queues_counts_and_ends_the_branch(
    active_canvas, sync_step, three
):
    step = sync_step([MatchField.EMAIL, MatchField.PHONE])

    assert enter_all(active_canvas) == 3

    # PostgreSQL: done by the entering statement. SQLite: nothing yet until the engine runs.
    assert AudienceSyncItem.objects.count() == (2 if POSTGRES else 0)
    journeys_advance(now=T0)
    assert counters(step) == (3, 1, 0, 3, 0)
    items = AudienceSyncItem.objects.order_by("profile_id")
    assert [(i.profile_id, i.schema, i.enqueued_at) for i in items] == [
        (three["a"].pk, 3, T0),
        (three["b"].pk, 3, T0),
    ]
    assert sorted(AudienceMember.objects.values_list("profile_id", "schema")) == [
        (three["a"].pk, 1),
        (three["b"].pk, 3),
    ]
    # c: why it was not synced.
    assert list(NotSyncedReason.objects.values_list("step_id", "count")) == [(step.pk, 1)]
    entries = Entry.objects.all()
    assert {(e.step_id, e.due_at, e.exited_at) for e in entries} == {(None, None, T0)}
    active_canvas.refresh_from_db()
    assert active_canvas.total_entries == 3


def test_the_next_step_receives_them_at_once(active_canvas, sync_step, three):
    step = sync_step([MatchField.EMAIL])
    delay = add_step(active_canvas, StepType.DELAY, parent=step, seconds=3600)

    enter_all(active_canvas)
    journeys_advance(now=T0)

    assert counters(step) == (3, 1, 3, 0, 0)
    assert {(e.step_id, e.phase) for e in Entry.objects.all()} == {(delay.pk, Phase.WAIT)}
    assert StepStats.objects.get(step=delay).entered == 3


def test_a_user_already_in_the_audience_enters_again(active_canvas, sync_step, three):
    """Re-entry meets the memberships of the first entry: the plain insert fails and the
    statement runs again with the upsert, in the same transaction, nothing lost."""
    active_canvas.allow_reentry = True
    active_canvas.save(update_fields=["allow_reentry"])
    step = sync_step([MatchField.EMAIL])
    enter_all(active_canvas)
    journeys_advance(now=T0)

    assert enter_all(active_canvas) == 3
    journeys_advance(now=T0)

    assert counters(step) == (6, 2, 0, 6, 0)
    assert AudienceSyncItem.objects.count() == 4
    assert AudienceMember.objects.count() == 2


def test_an_incomplete_first_step_holds_its_users(active_canvas, tiktok, three):
    step = add_step(active_canvas, StepType.AUDIENCE_SYNC)
    AudienceSyncSettingsFactory(step=step, audience=None, match_fields=[MatchField.EMAIL])

    enter_all(active_canvas)
    journeys_advance(now=T0)

    assert not AudienceSyncItem.objects.exists()
    assert set(Entry.objects.values_list("step_id", flat=True)) == {step.pk}


def test_a_message_first_step_records_its_sends(active_canvas, three):
    step = add_step(active_canvas, StepType.MESSAGE)

    enter_all(active_canvas)
    assert MessageSend.objects.count() == (3 if POSTGRES else 0)
    journeys_advance(now=T0)

    assert counters(step) == (3, 0, 0, 3, 3)
    sends = MessageSend.objects.all()
    assert sorted(s.profile_id for s in sends) == sorted(p.pk for p in three.values())
    entry_ids = set(Entry.objects.values_list("id", flat=True))
    assert {s.entry_id for s in sends} == entry_ids


def test_a_scheduled_entry_in_chunks_goes_through_the_first_step_once_per_user(
    active_canvas, sync_step, make_profiles, monkeypatch
):
    """Each chunk enters a range of profile ids, with that range given to the statement that
    also queues them: everyone is queued once, the ones without a field count once."""
    from canvas.models import EntryType
    from journeys import entries

    step = sync_step([MatchField.EMAIL])
    profiles = make_profiles(
        *[{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(4)],
        {"external_id": "none"},
    )
    active_canvas.entry_type = EntryType.SCHEDULED
    active_canvas.save()
    monkeypatch.setattr(entries, "SCHEDULED_ENTRY_CHUNK", 2)

    assert entries.scheduled_entries_run(now=T0) == 5
    journeys_advance(now=T0)

    queued = AudienceSyncItem.objects.values_list("profile_id", flat=True)
    assert sorted(queued) == sorted(p.pk for key, p in profiles.items() if key != "none")
    assert AudienceMember.objects.count() == 4
    assert counters(step) == (5, 1, 0, 5, 0)
    assert Entry.objects.count() == 5
