"""Entering a Canvas: set-based, whatever the number of users (docs/PERFORMANCE.md: 1M in ≤ 30 s)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from canvas.models import Canvas, CanvasState, EntryType, Step
from core.rawsql import execute, json_param, table
from journeys.engine import acts_in_one_statement, entries_enter_through
from journeys.models import Entry, Phase
from users.models import Profile

logger = logging.getLogger(__name__)


def canvas_root_step(canvas: Canvas) -> Step | None:
    return Step.objects.filter(canvas=canvas, parent__isnull=True, deleted_at__isnull=True).first()


def canvas_audience(canvas: Canvas) -> QuerySet[Profile]:
    """The profiles of the Canvas's app group that match its target audience."""
    from canvas.audience import audience_filter_q

    return Profile.objects.filter(app_group_id=canvas.app_group_id).filter(
        audience_filter_q(canvas.audience_filters)
    )


def _not_entered_before(canvas: Canvas, alias: str, id_range: str = "") -> str:
    """Re-entry rule as SQL: without re-entry a profile enters once; with it, once more after
    its previous entry has exited (never twice at the same time)."""
    still_in = "" if not canvas.allow_reentry else " AND x.exited_at IS NULL"
    return (
        f"NOT EXISTS (SELECT 1 FROM {table(Entry)} x "
        f"WHERE x.canvas_id = %s AND x.profile_id = {alias}.id{id_range}{still_in})"
    )


# Up to this many profiles, entering probes the entries' index per profile (see below).
FEW_PROFILES = 10_000


def canvas_entries_create(
    *,
    canvas: Canvas,
    profiles: QuerySet[Profile],
    properties: dict | None = None,
    dispatch_id: str = "",
    now: datetime | None = None,
    ids_after: int | None = None,
    ids_up_to: int | None = None,
) -> int:
    """Put every profile of `profiles` (already filtered) that may enter into the Canvas's
    first step, in one INSERT … SELECT. Returns how many entered.

    `ids_after` and `ids_up_to` bound the profile ids: the re-entry check then reads only the
    Canvas's entries in that range (a chunk of a scheduled entry, not every entry so far)."""
    now = now or timezone.now()
    if canvas.state != CanvasState.ACTIVE:
        return 0
    root = canvas_root_step(canvas)
    if ids_after is not None:
        profiles = profiles.filter(pk__gt=ids_after)
    if ids_up_to is not None:
        profiles = profiles.filter(pk__lte=ids_up_to)
    bounds = [
        (op, bound) for op, bound in ((">", ids_after), ("<=", ids_up_to)) if bound is not None
    ]

    def in_range(column: str) -> str:
        return "".join(f" AND {column} {op} %s" for op, _ in bounds)

    select_sql, select_params = profiles.values("id").query.sql_with_params()
    rows_sql = (
        f"SELECT %s, src.id, %s, {json_param()}, %s "
        f"FROM ({select_sql}) src WHERE {_not_entered_before(canvas, 'src', in_range('x.profile_id'))}"
    )
    rows_params = [
        canvas.pk, now, json.dumps(properties) if properties is not None else None, dispatch_id,
        *select_params, canvas.pk, *[bound for _, bound in bounds],
    ]  # fmt: skip
    with transaction.atomic():
        # One entry at a time per Canvas (as canvas_entries_create_for does), so the re-entry
        # rule holds when two triggers or a trigger and a schedule overlap.
        Canvas.objects.select_for_update().filter(pk=canvas.pk).first()
        if connection.vendor == "postgresql":
            # Before its statistics exist (a new Canvas, a fresh table), PostgreSQL may answer
            # the NOT EXISTS with a nested loop that rescans journeys_entry per profile while
            # this very INSERT grows it: quadratic (160 s for 100k). A hash or merge anti-join
            # reads it once, whatever the statistics say. A chunk of a scheduled entry or a
            # few profiles (a small segment, the bench's steady entry) take index probes
            # instead (a nested loop without sequential scans): a hash or merge join would read
            # every entry and profile before the chunk, or all of a journeys_entry that the
            # statistics think empty (1.5 s per statement beside a 2M-user launch; 1M users
            # in 50,000-profile chunks took 19.5 s with hash and merge joins, 9.6 s with
            # probes, docs/PERFORMANCE.md sitting 8).
            if bounds or profiles[:FEW_PROFILES].count() < FEW_PROFILES:
                execute("SET LOCAL enable_seqscan = off", [])
            else:
                execute("SET LOCAL enable_nestloop = off", [])
        if acts_in_one_statement(root):
            # An Audience Sync or Message first step acts on the users in the statement that
            # enters them (docs/ARCHITECTURE.md D5).
            entered = entries_enter_through(
                root, rows_sql=rows_sql, rows_params=rows_params, now=now,
                profiles_where=(in_range("p.id"), [bound for _, bound in bounds]),
            )  # fmt: skip
        else:
            entered = execute(
                f"INSERT INTO {table(Entry)} (canvas_id, profile_id, entered_at, properties, "
                "dispatch_id, step_id, phase, due_at, exited_at) "
                f"SELECT r.*, %s, %s, %s, %s FROM ({rows_sql}) r",
                [
                    root.pk if root else None, Phase.ARRIVE, now if root else None,
                    None if root else now, *rows_params,
                ],
            )  # fmt: skip
        if entered:
            Canvas.objects.filter(pk=canvas.pk).update(total_entries=F("total_entries") + entered)
    logger.info("canvas %s: %d entries", canvas.pk, entered)
    return entered


def canvas_entries_create_for(
    *,
    canvas: Canvas,
    recipients: Iterable[tuple[int, dict | None]],
    dispatch_id: str = "",
    now: datetime | None = None,
) -> list[int]:
    """API-triggered entry of a few named profiles, each with its own entry properties.

    Recipients must also match the target audience (Braze). Returns the profile ids that
    entered.
    """
    now = now or timezone.now()
    recipients = dict(recipients)
    with transaction.atomic():
        # One trigger at a time per Canvas, so the re-entry rule holds under concurrency.
        canvas = Canvas.objects.select_for_update().get(pk=canvas.pk)
        if canvas.state != CanvasState.ACTIVE:
            return []
        eligible = canvas_audience(canvas).filter(pk__in=list(recipients))
        previous = Entry.objects.filter(canvas=canvas, profile_id=OuterRef("pk"))
        if canvas.allow_reentry:
            previous = previous.filter(exited_at__isnull=True)
        profile_ids = list(eligible.exclude(Exists(previous)).values_list("pk", flat=True))
        root = canvas_root_step(canvas)
        Entry.objects.bulk_create(
            Entry(
                canvas=canvas,
                profile_id=profile_id,
                entered_at=now,
                step=root,
                phase=Phase.ARRIVE,
                due_at=now if root else None,
                exited_at=None if root else now,
                properties=recipients[profile_id],
                dispatch_id=dispatch_id,
            )  # fmt: skip
            for profile_id in profile_ids
        )
        if profile_ids:
            Canvas.objects.filter(pk=canvas.pk).update(
                total_entries=F("total_entries") + len(profile_ids)
            )
    return profile_ids


# Profiles per transaction of a scheduled entry: the first users reach the flush (and the
# engine) while the rest are still entering (docs/PERFORMANCE.md).
SCHEDULED_ENTRY_CHUNK = 20_000


def scheduled_entries_run(*, now: datetime | None = None) -> int:
    """Enter the audience of every active Scheduled Canvas whose time has come, once.

    Without `now`, each chunk's users enter at the time of their chunk: the flush then sees a
    launch's users arrive chunk by chunk, and sends only full batches while more are
    entering (a partial one waits AUDIENCE_SYNC_BATCH_WAIT_SECONDS from its oldest user)."""
    due = Canvas.objects.filter(
        state=CanvasState.ACTIVE,
        entry_type=EntryType.SCHEDULED,
        scheduled_entry_done_at__isnull=True,
    ).exclude(schedule_at__gt=now or timezone.now())
    entered = 0
    for canvas in due:
        entered += _scheduled_entry_run(canvas, now=now)
    return entered


def _scheduled_entry_run(canvas: Canvas, *, now: datetime | None) -> int:
    """Enter a Scheduled Canvas's audience SCHEDULED_ENTRY_CHUNK profiles at a time, in
    profile id order. Each chunk commits with the Canvas's progress (the chunk's last profile
    id), under the Canvas's row lock: a second runner skips a Canvas that is entering, and a
    run that fails or dies goes on from the last chunk committed, so nobody enters twice.
    Returns how many entered."""
    entered = 0
    try:
        while True:
            count, done = _scheduled_entry_chunk(canvas, now=now)
            entered += count
            if done:
                return entered
    except Exception:
        # The chunk rolled back; the Canvas stays due and goes on from there next time. The
        # other Canvases go on.
        logger.exception("scheduled entry of canvas %s failed", canvas.pk)
        return entered


@transaction.atomic
def _scheduled_entry_chunk(canvas: Canvas, *, now: datetime | None) -> tuple[int, bool]:
    """Enter the next chunk. Returns (how many entered, whether the entry is over for now)."""
    now = now or timezone.now()
    locked = (
        Canvas.objects.select_for_update(skip_locked=True)
        .filter(pk=canvas.pk, state=CanvasState.ACTIVE, scheduled_entry_done_at=None)
        .first()
    )
    if locked is None:
        return 0, True  # done, stopped, or another runner holds it
    after = locked.scheduled_entry_after
    profiles = canvas_audience(locked)
    ids = profiles.filter(pk__gt=after) if after is not None else profiles
    ids = ids.order_by("pk").values_list("pk", flat=True)
    last = next(iter(ids[SCHEDULED_ENTRY_CHUNK - 1 : SCHEDULED_ENTRY_CHUNK]), None)
    entered = canvas_entries_create(
        canvas=locked, profiles=profiles, now=now, ids_after=after, ids_up_to=last
    )
    if last is None:
        Canvas.objects.filter(pk=locked.pk).update(scheduled_entry_done_at=now)
        return entered, True
    Canvas.objects.filter(pk=locked.pk).update(scheduled_entry_after=last)
    return entered, False
