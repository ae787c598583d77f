"""Profiles enter by API and by schedule, pass a Delay and a Decision Split, and the counters of
every step match the paths taken exactly (issue 6)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import StepStats
from canvas.models import Branch, CanvasState, EntryType, StepType
from journeys.engine import journeys_advance
from journeys.entries import canvas_entries_create_for, scheduled_entries_run
from journeys.models import Entry, MessageSend
from tests.factories import CanvasFactory
from tests.plugins.canvases import add_step

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


def stats(step) -> dict:
    row = StepStats.objects.filter(step=step).first()
    names = ["entered", "proceeded", "exited", "yes", "no", "sends"]
    return {n: getattr(row, n) if row else 0 for n in names}


@pytest.fixture
def journey(active_canvas):
    """Delay 1 h → Decision Split (country is FR) → yes: Message; no: end of branch."""
    canvas = active_canvas
    delay = add_step(canvas, StepType.DELAY, name="Wait an hour", seconds=3600)
    split = add_step(
        canvas, StepType.DECISION_SPLIT, parent=delay, name="French?",
        filters=[{"field": "country", "op": "equals", "value": "FR"}],
    )  # fmt: skip
    message = add_step(canvas, StepType.MESSAGE, parent=split, branch=Branch.YES, name="Bonjour")
    return canvas, delay, split, message


def test_profiles_entering_by_api_follow_their_paths_and_counters_match(journey, make_profiles):
    canvas, delay, split, message = journey
    profiles = make_profiles(
        {"external_id": "fr-1", "country": "FR"},
        {"external_id": "fr-2", "country": "FR"},
        {"external_id": "us-1", "country": "US"},
    )

    entered = canvas_entries_create_for(
        canvas=canvas,
        recipients=[(p.pk, {"source": "api"}) for p in profiles.values()],
        now=T0,
    )
    assert len(entered) == 3

    # Arriving at the Delay: everyone waits there.
    journeys_advance(now=T0)
    assert stats(delay) == {**stats(delay), "entered": 3, "proceeded": 0}
    assert Entry.objects.filter(step=delay, due_at=T0 + timedelta(hours=1)).count() == 3

    # Half an hour later nothing moves.
    journeys_advance(now=T0 + timedelta(minutes=30))
    assert stats(split)["entered"] == 0

    # After the hour: the split sends the two French profiles to Message, the other exits.
    journeys_advance(now=T0 + timedelta(hours=1))
    assert stats(delay)["proceeded"] == 3
    assert stats(split) == {
        "entered": 3,
        "proceeded": 2,
        "exited": 1,
        "yes": 2,
        "no": 1,
        "sends": 0,
    }
    assert stats(message) == {
        "entered": 2,
        "proceeded": 0,
        "exited": 2,
        "yes": 0,
        "no": 0,
        "sends": 2,
    }
    assert set(MessageSend.objects.values_list("profile__external_id", flat=True)) == {
        "fr-1",
        "fr-2",
    }
    assert Entry.objects.filter(exited_at__isnull=False).count() == 3
    canvas.refresh_from_db()
    assert canvas.total_entries == 3


def test_scheduled_entry_admits_the_target_audience_once(journey, make_profiles):
    canvas, delay, *_ = journey
    canvas.entry_type = EntryType.SCHEDULED
    canvas.schedule_at = T0 + timedelta(minutes=10)
    canvas.audience_filters = [{"field": "has_email", "op": "is", "value": True}]
    canvas.save()
    make_profiles(
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "B@Example.com "},
        {"external_id": "c"},
    )

    assert scheduled_entries_run(now=T0) == 0  # not yet time
    assert scheduled_entries_run(now=T0 + timedelta(minutes=10)) == 2
    assert scheduled_entries_run(now=T0 + timedelta(minutes=20)) == 0  # once only
    assert set(Entry.objects.values_list("profile__external_id", flat=True)) == {"a", "b"}
    journeys_advance(now=T0 + timedelta(minutes=10))
    assert stats(delay)["entered"] == 2


def test_reentry_rules(active_canvas, make_profiles):
    canvas = active_canvas
    add_step(canvas, StepType.MESSAGE)
    profile = make_profiles({"external_id": "u"})["u"]

    assert canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)
    journeys_advance(now=T0)  # the Message is the last step: the user exits
    assert not canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)

    canvas.allow_reentry = True
    canvas.save()
    assert canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)
    # Not twice at the same time, even with re-entry allowed.
    assert not canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)
    assert Entry.objects.filter(profile=profile).count() == 2


def test_recipients_must_match_the_target_audience(active_canvas, make_profiles):
    active_canvas.audience_filters = [{"field": "has_phone", "op": "is", "value": True}]
    active_canvas.save()
    add_step(active_canvas, StepType.MESSAGE)
    profiles = make_profiles(
        {"external_id": "with", "phone": "+33 6 12 34 56 78"}, {"external_id": "without"}
    )

    entered = canvas_entries_create_for(
        canvas=active_canvas, recipients=[(p.pk, None) for p in profiles.values()], now=T0
    )

    assert entered == [profiles["with"].pk]


def test_a_stopped_canvas_admits_no_one_and_waiting_users_exit_when_their_delay_ends(
    journey, make_profiles
):
    canvas, delay, split, _ = journey
    profiles = make_profiles({"external_id": "x", "country": "FR"}, {"external_id": "y"})
    canvas_entries_create_for(
        canvas=canvas, recipients=[(p.pk, None) for p in profiles.values()], now=T0
    )
    journeys_advance(now=T0)

    canvas.state = CanvasState.STOPPED
    canvas.save()
    newcomer = make_profiles({"external_id": "z"})["z"]
    assert canvas_entries_create_for(canvas=canvas, recipients=[(newcomer.pk, None)], now=T0) == []

    journeys_advance(now=T0 + timedelta(hours=1))
    assert stats(delay)["exited"] == 2
    assert stats(split)["entered"] == 0
    assert not Entry.objects.filter(exited_at__isnull=True).exists()


def test_resumed_before_the_delay_ends_users_continue(journey, make_profiles):
    canvas, delay, split, _ = journey
    profile = make_profiles({"external_id": "x", "country": "FR"})["x"]
    canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)
    journeys_advance(now=T0)
    canvas.state = CanvasState.STOPPED
    canvas.save()
    canvas.state = CanvasState.ACTIVE
    canvas.save()

    journeys_advance(now=T0 + timedelta(hours=1))

    assert stats(split)["yes"] == 1


def test_delay_counts_from_arrival_even_when_the_engine_runs_late(journey, make_profiles):
    canvas, delay, split, _ = journey
    profile = make_profiles({"external_id": "x"})["x"]
    canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)

    journeys_advance(now=T0 + timedelta(minutes=59, seconds=59))  # arrives late, waits 1 s
    assert stats(split)["entered"] == 0
    journeys_advance(now=T0 + timedelta(hours=1))
    assert stats(split)["entered"] == 1


def test_a_large_backlog_wakes_one_more_worker_once(active_canvas, make_profiles):
    add_step(active_canvas, StepType.MESSAGE)
    profiles = make_profiles(*[{"external_id": f"u{i}"} for i in range(7)])
    canvas_entries_create_for(
        canvas=active_canvas, recipients=[(p.pk, None) for p in profiles.values()], now=T0
    )
    woken = []

    handled = journeys_advance(now=T0, chunk=3, on_backlog=lambda: woken.append(1))

    assert handled == 7
    assert woken == [1]


def test_users_waiting_in_a_deleted_step_continue_at_the_step_that_took_its_place(
    active_canvas, make_profiles
):
    delay = add_step(active_canvas, StepType.DELAY, seconds=3600)
    message = add_step(active_canvas, StepType.MESSAGE, parent=delay)
    profile = make_profiles({"external_id": "x"})["x"]
    canvas_entries_create_for(canvas=active_canvas, recipients=[(profile.pk, None)], now=T0)
    journeys_advance(now=T0)

    # Deleting the Delay puts the Message in its place (canvas.services does the same).
    delay.deleted_at = T0
    delay.save()
    message.parent = None
    message.save()
    journeys_advance(now=T0 + timedelta(hours=1))

    assert stats(message)["sends"] == 1
    assert stats(delay)["proceeded"] == 1


def test_users_waiting_in_a_deleted_last_step_exit(active_canvas, make_profiles):
    delay = add_step(active_canvas, StepType.DELAY, seconds=60)
    profile = make_profiles({"external_id": "x"})["x"]
    canvas_entries_create_for(canvas=active_canvas, recipients=[(profile.pk, None)], now=T0)
    journeys_advance(now=T0)
    delay.deleted_at = T0
    delay.save()

    journeys_advance(now=T0 + timedelta(minutes=1))

    assert Entry.objects.get().exited_at == T0 + timedelta(minutes=1)


def test_the_profile_page_shows_canvas_history(admin_client, journey, make_profiles):
    from django.urls import reverse

    canvas, *_ = journey
    profile = make_profiles({"external_id": "h"})["h"]
    canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)
    journeys_advance(now=T0)

    content = admin_client.get(reverse("users:user-detail", args=[profile.pk])).content.decode()

    assert canvas.name in content
    assert "Waiting in a Delay" in content
    assert reverse("analytics:canvas-analytics", args=[canvas.pk]) in content


def test_an_incomplete_step_on_a_live_canvas_holds_its_users_until_it_is_set_up(
    active_canvas, make_profiles
):
    split = add_step(active_canvas, StepType.DECISION_SPLIT)  # no filter yet
    message = add_step(active_canvas, StepType.MESSAGE, parent=split, branch=Branch.NO)
    profile = make_profiles({"external_id": "x", "country": "US"})["x"]
    canvas_entries_create_for(canvas=active_canvas, recipients=[(profile.pk, None)], now=T0)

    journeys_advance(now=T0)
    assert stats(split)["entered"] == 0  # held, not routed
    assert StepStats.objects.get(step=split).last_error_message.startswith("Invalid Settings")

    split.config = {"filters": [{"field": "country", "op": "equals", "value": "FR"}]}
    split.save()
    journeys_advance(now=T0 + timedelta(minutes=1))
    assert (stats(split)["no"], stats(message)["sends"]) == (1, 1)


def test_a_broken_step_does_not_stop_the_other_canvases(active_canvas, make_profiles, monkeypatch):
    from journeys import engine

    broken = add_step(active_canvas, StepType.MESSAGE, name="broken")
    other = CanvasFactory(app_group=active_canvas.app_group, name="Other", state=CanvasState.ACTIVE)
    fine = add_step(other, StepType.MESSAGE, name="fine")
    profile = make_profiles({"external_id": "x"})["x"]
    for canvas in (active_canvas, other):
        canvas_entries_create_for(canvas=canvas, recipients=[(profile.pk, None)], now=T0)
    real = engine._message

    def failing_for_broken(step, *args, **kwargs):
        if step.pk == broken.pk:
            raise RuntimeError("boom")
        return real(step, *args, **kwargs)

    monkeypatch.setattr(engine, "_message", failing_for_broken)
    monkeypatch.setattr(engine, "ONE_STATEMENT_TYPES", ())  # same path on every database

    journeys_advance(now=T0)

    assert stats(fine)["sends"] == 1
    assert stats(broken)["sends"] == 0
    assert Entry.objects.get(canvas=active_canvas).due_at == T0  # rolled back, retried later
    assert "could not be processed" in StepStats.objects.get(step=broken).last_error_message


def test_a_scheduled_entry_commits_a_chunk_at_a_time_and_resumes_after_a_failure(
    journey, make_profiles, monkeypatch
):
    """Each chunk commits with the Canvas's progress, so the first users move on while the
    rest enter, and a run that fails goes on from the last chunk: nobody enters twice, even
    with re-entry allowed (the users of the first chunks have exited by then)."""
    from journeys import entries

    canvas, *_ = journey
    canvas.entry_type = EntryType.SCHEDULED
    canvas.allow_reentry = True
    canvas.save()
    make_profiles(*[{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(5)])
    monkeypatch.setattr(entries, "SCHEDULED_ENTRY_CHUNK", 2)
    create = entries.canvas_entries_create
    calls = []

    def fail_on_the_third_chunk(**kwargs):
        profiles = kwargs["profiles"]
        if kwargs["ids_after"] is not None:
            profiles = profiles.filter(pk__gt=kwargs["ids_after"])
        if kwargs["ids_up_to"] is not None:
            profiles = profiles.filter(pk__lte=kwargs["ids_up_to"])
        calls.append(profiles.count())
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return create(**kwargs)

    monkeypatch.setattr(entries, "canvas_entries_create", fail_on_the_third_chunk)

    assert scheduled_entries_run(now=T0) == 4  # two chunks of 2 committed, the third failed
    canvas.refresh_from_db()
    first_four = Entry.objects.order_by("profile_id").values_list("profile_id", flat=True)
    assert canvas.scheduled_entry_done_at is None
    assert canvas.scheduled_entry_after == list(first_four)[-1]
    Entry.objects.update(exited_at=T0)  # the first users went through and left

    assert scheduled_entries_run(now=T0 + timedelta(minutes=1)) == 1
    assert scheduled_entries_run(now=T0 + timedelta(minutes=2)) == 0  # done
    assert calls == [2, 2, 1, 1]
    assert Entry.objects.count() == 5
    assert Entry.objects.values("profile_id").distinct().count() == 5
    canvas.refresh_from_db()
    assert canvas.scheduled_entry_done_at == T0 + timedelta(minutes=1)
    assert canvas.total_entries == 5


def test_without_a_given_time_each_chunk_enters_at_its_own_time(
    journey, make_profiles, monkeypatch
):
    """The flush sees a launch's users arrive chunk by chunk (and holds back partial batches
    while they do), not all at the time the launch began."""
    from journeys import entries

    canvas, *_ = journey
    canvas.entry_type = EntryType.SCHEDULED
    canvas.save()
    make_profiles(*[{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(5)])
    monkeypatch.setattr(entries, "SCHEDULED_ENTRY_CHUNK", 2)
    before = timezone.now()

    assert scheduled_entries_run() == 5

    times = list(Entry.objects.order_by("profile_id").values_list("entered_at", flat=True))
    assert times[0] == times[1] < times[2] == times[3] < times[4]
    assert before < times[0]
    canvas.refresh_from_db()
    assert canvas.scheduled_entry_done_at >= times[4]
