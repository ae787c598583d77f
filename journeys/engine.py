"""The journey engine: moves due entries through their steps, a batch at a time.

Each batch is one transaction: claim up to CHUNK entries due at one step (SKIP LOCKED on
PostgreSQL, so several workers share the work), act on them with set-based statements (queue
Audience Sync rows, record Message sends, route a Decision Split, start a Delay), move them to
the next step or out of the Canvas, and bump the step's counters. A worker that dies mid-batch
rolls the whole batch back; nothing is lost and nothing counted twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from analytics.services import not_synced_reasons_bump, step_error_record, step_stats_bump
from audience_sync.enqueue import SyncPlan
from audience_sync.erasure import erasure_lock_shared
from audience_sync.wakeups import flush_wake_soon
from canvas.models import Branch, CanvasState, Step, StepType, SyncAction
from core.rawsql import execute, fetchall, new_claim_token, skip_locked, table
from journeys.models import Entry, MessageSend, Phase
from telemetry.worker import shutdown_requested
from users.models import Profile

logger = logging.getLogger(__name__)

# Entries per transaction: large enough for set-based speed, small enough that a batch's
# locks and its rollback stay cheap.
CHUNK = 20_000


def journeys_advance(
    *,
    now: datetime | None = None,
    max_seconds: float = 20.0,
    chunk: int = CHUNK,
    on_backlog: Callable[[], None] | None = None,
) -> int:
    """Process every entry due by `now` (until `max_seconds` have passed). Returns how many
    entries were handled. Tests pass `now` to move the clock.

    `on_backlog` is called once, after the first full chunk, so the task can wake one more
    worker for a large backlog.
    """
    fixed_now = now
    started = time.monotonic()
    handled = 0
    failed: set[int | None] = set()
    # SIGTERM: stop between chunks (each commits on its own), not mid-way through max_seconds.
    while time.monotonic() - started < max_seconds and not shutdown_requested():
        # The clock moves on from pass to pass: users reach a step, and are queued for TikTok,
        # at the time they do (the flush holds a partial batch back from that time, D1).
        now = fixed_now or timezone.now()
        step_ids = list(
            Entry.objects.filter(due_at__lte=now)
            .exclude(step_id__in=[f for f in failed if f is not None])
            .order_by()
            .values_list("step_id", flat=True)
            .distinct()[:100]
        )
        step_ids = [s for s in step_ids if s not in failed]
        if not step_ids:
            break
        progress = 0
        for step_id in step_ids:
            try:
                claimed = _advance_step(step_id, now=now, chunk=chunk)
            except Exception as exc:
                # One broken step (its batch rolled back) must not stop every other Canvas,
                # of every app group; it is retried on the next pass and shown on the step.
                logger.exception("journeys: step %s could not be processed", step_id)
                _record_step_failure(step_id, exc, now=now)
                failed.add(step_id)
                continue
            progress += claimed
            if claimed == chunk and on_backlog is not None:
                on_backlog()
                on_backlog = None
        if not progress:
            # Everything due is being handled by other workers right now.
            break
        handled += progress
    return handled


def _record_step_failure(step_id: int | None, exc: Exception, *, now: datetime) -> None:
    if step_id is None:
        return
    try:
        step_error_record(
            [step_id],
            code=None,
            message=f"The step could not be processed ({type(exc).__name__}); "
            "its users wait and are retried.",
            at=now,
        )
    except Exception:  # the database itself may be what failed
        logger.exception("journeys: could not record the failure of step %s", step_id)


def _claim(step_id: int | None, *, now: datetime, chunk: int, token: int) -> int:
    step_match = "step_id = %s" if step_id is not None else "step_id IS NULL"
    step_params = [step_id] if step_id is not None else []
    return execute(
        f"UPDATE {table(Entry)} SET claim = %s WHERE id IN ("
        f"SELECT id FROM {table(Entry)} WHERE {step_match} AND due_at <= %s "
        f"ORDER BY due_at LIMIT %s{skip_locked()})",
        [token, *step_params, now, chunk],
    )


# Users who reach a step that is not fully set up wait there and are looked at again this
# often, until the step is completed (or deleted).
HOLD_SECONDS = 60


def _setup_problem(step: Step) -> str | None:
    """Why a live step cannot act on users yet ("Invalid Settings"), or None."""
    if step.step_type == StepType.AUDIENCE_SYNC and not SyncPlan.for_step(step).complete:
        # Stored in English on the step's counters (analytics shows it); marked so the page
        # can translate it when it shows it.
        return gettext_noop(
            "Invalid Settings: choose the ad account, the audience and the fields to match; "
            "users wait at this step until then."
        )
    if step.step_type == StepType.DECISION_SPLIT and not (step.config or {}).get("filters"):
        return gettext_noop(
            "Invalid Settings: the Decision Split has no filter; users wait here until then."
        )
    return None


def _advance_step(step_id: int | None, *, now: datetime, chunk: int) -> int:
    step = (
        Step.objects.select_related("canvas", "audience_sync").filter(pk=step_id).first()
        if step_id
        else None
    )
    if acts_in_one_statement(step):
        with transaction.atomic():
            return _advance_in_one_statement(step, now=now, chunk=chunk)
    active = step is not None and not step.deleted_at and step.canvas.state == CanvasState.ACTIVE
    problem = _setup_problem(step) if active else None
    with transaction.atomic():
        token = new_claim_token()
        claimed = _claim(step_id, now=now, chunk=chunk, token=token)
        if not claimed:
            return 0
        entries = Entry.objects.filter(claim=token)
        if problem is not None:
            # An incomplete step added to a live Canvas holds its users rather than counting
            # them Not Synced or sending them all down Yes.
            entries.update(due_at=now + timedelta(seconds=HOLD_SECONDS), claim=None)
            step_error_record([step.pk], code=None, message=problem, at=now)
            return claimed
        replacement = _replacement(step) if step is not None and step.deleted_at else None
        if replacement is not None and step.canvas.state == CanvasState.ACTIVE:
            # The step was deleted while users waited in it: they go on at the step that took
            # its place (Braze redirects them once their wait ends).
            moved = entries.update(step=replacement, phase=Phase.ARRIVE, due_at=now, claim=None)
            step_stats_bump(step.pk, proceeded=moved, at=now)
            return claimed
        if not active:
            # A stopped Canvas moves nobody on: users whose wait ends exit (Braze).
            exited = _exit(entries, now=now)
            if step is not None:
                step_stats_bump(step.pk, exited=exited, at=now)
            return claimed
        handler = {
            StepType.AUDIENCE_SYNC: _audience_sync,
            StepType.DELAY: _delay,
            StepType.DECISION_SPLIT: _decision_split,
            StepType.MESSAGE: _message,
        }[step.step_type]
        handler(step, entries, token=token, now=now)
    return claimed


def _replacement(deleted: Step) -> Step | None:
    """The live step now hanging where a deleted one hung (same parent and branch)."""
    return Step.objects.filter(
        canvas_id=deleted.canvas_id, parent_id=deleted.parent_id, branch=deleted.branch,
        deleted_at__isnull=True,
    ).first()  # fmt: skip


def _next_step(step: Step, branch: str) -> Step | None:
    return Step.objects.filter(parent=step, branch=branch, deleted_at__isnull=True).first()


def _exit(entries: QuerySet[Entry], *, now: datetime) -> int:
    return entries.update(step=None, due_at=None, exited_at=now, claim=None, phase=Phase.ARRIVE)


def _move_on(step: Step, branch: str, entries: QuerySet[Entry], *, now: datetime) -> int:
    """Send `entries` down `branch`: into the next step, or out of the Canvas at the end of
    the branch. Bumps Proceeded to Next Step or Exited Canvas; returns how many moved."""
    child = _next_step(step, branch)
    if child is None:
        moved = _exit(entries, now=now)
        step_stats_bump(step.pk, exited=moved, at=now)
    else:
        moved = entries.update(step=child, phase=Phase.ARRIVE, due_at=now, claim=None)
        step_stats_bump(step.pk, proceeded=moved, at=now)
    return moved


def _message(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    sent = execute(
        f"INSERT INTO {table(MessageSend)} (step_id, entry_id, profile_id, sent_at) "
        f"SELECT %s, e.id, e.profile_id, %s FROM {table(Entry)} e WHERE e.claim = %s",
        [step.pk, now, token],
    )
    step_stats_bump(step.pk, entered=sent, sends=sent, at=now)
    _move_on(step, Branch.NEXT, entries, now=now)


def _delay(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    seconds = int((step.config or {}).get("seconds") or 0)
    # Arrivals start waiting from the moment they arrived, even when the engine runs behind;
    # a wait already over is simply due again and handled by the next loop.
    arrived = entries.filter(phase=Phase.ARRIVE).update(
        phase=Phase.WAIT, due_at=F("due_at") + timedelta(seconds=seconds), claim=None
    )
    step_stats_bump(step.pk, entered=arrived, at=now)
    # The entries still claimed were waiting, and their delay is over.
    _move_on(step, Branch.NEXT, Entry.objects.filter(claim=token), now=now)


def _decision_split(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    from canvas.audience import audience_filter_q

    entered = entries.count()
    matching = Profile.objects.filter(audience_filter_q((step.config or {}).get("filters", [])))
    yes = _move_on(
        step, Branch.YES, entries.filter(Exists(matching.filter(pk=OuterRef("profile_id")))),
        now=now,
    )  # fmt: skip
    no = _move_on(step, Branch.NO, Entry.objects.filter(claim=token), now=now)
    step_stats_bump(step.pk, entered=entered, yes=yes, no=no, at=now)


def _audience_sync(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    """Queue the hashed ids of users who have at least one field to match; count the others
    as Not Synced with their reason. Everyone proceeds at once (Braze auto-advances). Only
    complete steps get here (_setup_problem holds users at the others)."""
    entered = entries.count()
    plan = SyncPlan.for_step(step)
    source = (
        f"FROM {table(Entry)} e JOIN {table(Profile)} p ON p.id = e.profile_id WHERE e.claim = %s"
    )
    sql, params = plan.insert_sql(source, [token], now=now)
    queued = execute(sql, params)
    if queued:
        flush_wake_soon()
    members = plan.members_sql(plan.queued_bits_sql(source), [token])
    if members is not None:
        execute(*members)
    if entered - queued:
        sql, params = plan.reasons_sql(source, [token])
        not_synced_reasons_bump(step.pk, dict(fetchall(sql, params)))
    step_stats_bump(step.pk, entered=entered, not_synced=entered - queued, at=now)
    _move_on(step, Branch.NEXT, entries, now=now)


# PostgreSQL: claim, move and act in one data-modifying statement per chunk. Each entry row
# is then updated once, not twice (claim, then move), which halves the work on the table
# the engine writes most (bench/sync_throughput.py --workers 0).
ONE_STATEMENT_TYPES = (StepType.AUDIENCE_SYNC, StepType.MESSAGE)
COUNT_LABELS = ("moved", "queued", "sent")


# Audiences that already had a member when a batch added users to them, in this process: their
# batches write memberships with the upsert from the start (see _act_in_one_statement).
_AUDIENCES_WITH_MEMBERS: set[int] = set()


def _advance_in_one_statement(step: Step, *, now: datetime, chunk: int) -> int:
    """Claim, move and act on one chunk of the step's due entries in one statement."""

    def claim_and_move(child: Step | None) -> tuple[list[tuple[str, list]], str]:
        if child is None:
            move, move_params = "step_id = NULL, due_at = NULL, exited_at = %s, phase = 0", [now]
        else:
            move, move_params = "step_id = %s, due_at = %s, phase = 0", [child.pk, now]
        ctes = [
            (
                f"claimed AS (SELECT id, profile_id, due_at FROM {table(Entry)} "
                "WHERE step_id = %s AND due_at <= %s ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED)",
                [step.pk, now, chunk],
            ),
            (
                f"moved AS (UPDATE {table(Entry)} m SET {move} FROM claimed c WHERE m.id = c.id "
                "RETURNING 1)",
                move_params,
            ),
        ]
        return ctes, "moved"

    return _act_in_one_statement(step, claim_and_move, now=now)


def acts_in_one_statement(step: Step | None) -> bool:
    """Whether users reaching `step` now are acted on by one statement (PostgreSQL; a live,
    complete Audience Sync or Message step): what lets new entries go through their Canvas's
    first step in the statement that writes them (entries_enter_through)."""
    return (
        connection.vendor == "postgresql"
        and step is not None
        and not step.deleted_at
        and step.canvas.state == CanvasState.ACTIVE
        and step.step_type in ONE_STATEMENT_TYPES
        and _setup_problem(step) is None
    )


def entries_enter_through(
    step: Step,
    *,
    rows_sql: str,
    rows_params: list,
    now: datetime,
    profiles_where: tuple[str, list] = ("", []),
) -> int:
    """New entries, already past `step` (their Canvas's first step, acts_in_one_statement),
    written and acted on in one statement: `rows_sql` names the entries to write (canvas_id,
    profile_id, entered_at, properties, dispatch_id, in this order), and they are stored at
    the next step, or exited, while the step queues them or records their sends and counts
    them, as the engine would a moment later. It saves updating each entry once more: about
    half of what a user costs the database on the way to TikTok (docs/PERFORMANCE.md).
    `profiles_where` (" AND …" on the profiles `p`, and its parameters) tells PostgreSQL what it
    knows of them, e.g. their id range. Returns how many entered."""

    def enter(child: Step | None) -> tuple[list[tuple[str, list]], str]:
        if child is None:
            place, place_params = "NULL, NULL, %s", [now]
        else:
            place, place_params = "%s, %s, NULL", [child.pk, now]
        insert = (
            f"claimed AS (INSERT INTO {table(Entry)} (canvas_id, profile_id, entered_at, "
            "properties, dispatch_id, step_id, due_at, exited_at, phase) "
            f"SELECT r.*, {place}, 0 FROM ({rows_sql}) r "
            # The time users reached the step: what the queue counts its latency from.
            "RETURNING id, profile_id, entered_at AS due_at)"
        )
        return [(insert, [*place_params, *rows_params])], "claimed"

    return _act_in_one_statement(step, enter, now=now, profiles_where=profiles_where)


ChunkHead = Callable[[Step | None], tuple[list[tuple[str, list]], str]]


def _act_in_one_statement(
    step: Step, head: ChunkHead, *, now: datetime, profiles_where: tuple[str, list] = ("", [])
) -> int:
    """Act on the entries that `head` claims (or writes) in its `claimed` CTE (id,
    profile_id, due_at) and moves on, in one statement; `head` gets the next step and returns
    its CTEs and the one whose rows count the entries moved.

    An Audience Sync step that adds users also records them as the audience's members. Most
    batches add users who are not members yet, for whom a plain INSERT costs PostgreSQL half
    of what an upsert does; so it is tried first, in a savepoint, and a batch that meets a
    member (a user added again, or by another worker at the same moment) is run again with the
    upsert, which its audience then keeps in this process."""
    sync = (
        getattr(step, "audience_sync", None) if step.step_type == StepType.AUDIENCE_SYNC else None
    )
    if sync is not None:
        # Deleting users of the app group waits for this transaction, and this one for a
        # deletion in progress: a user deleted meanwhile is either seen by the deletion, queue
        # row and membership included, or no longer found here (audience_sync/erasure.py).
        erasure_lock_shared(step.canvas.app_group_id)
    statement = partial(_statement, step, head, now=now, profiles_where=profiles_where)
    adds = sync is not None and sync.action == SyncAction.ADD
    if not adds or sync.audience_id in _AUDIENCES_WITH_MEMBERS:
        return statement(known_new=False)
    try:
        with transaction.atomic():
            return statement(known_new=True)
    except IntegrityError:
        _AUDIENCES_WITH_MEMBERS.add(sync.audience_id)
        return statement(known_new=False)


def _statement(
    step: Step,
    head: ChunkHead,
    *,
    now: datetime,
    known_new: bool,
    profiles_where: tuple[str, list] = ("", []),
) -> int:
    child = _next_step(step, Branch.NEXT)
    ctes, counted = head(child)
    results = [f"SELECT 'moved', COUNT(*) FROM {counted}"]
    where, where_params = profiles_where
    source = f"FROM claimed e JOIN {table(Profile)} p ON p.id = e.profile_id WHERE TRUE{where}"
    plan = None
    if step.step_type == StepType.AUDIENCE_SYNC:
        plan = SyncPlan.for_step(step)
        sql, params = plan.insert_sql(source, where_params, now=now)
        members = plan.members_sql("queued", [], known_new=known_new)
        # The members are read from the queued rows, not from a second join of the entries
        # with their profiles.
        returning = f"profile_id, {plan.sent_bits_sql()} AS sent" if members else "1"
        ctes.append((f"queued AS ({sql} RETURNING {returning})", params))
        results.append("SELECT 'queued', COUNT(*) FROM queued")
        if members is not None:
            ctes.append((f"members AS ({members[0]})", members[1]))
        sql, params = plan.reasons_sql(source, where_params)
        ctes.append((f"missing AS ({sql})", params))
        results.append("SELECT * FROM missing")
    else:
        ctes.append(
            (
                f"sent AS (INSERT INTO {table(MessageSend)} (step_id, entry_id, profile_id, "
                "sent_at) SELECT %s, c.id, c.profile_id, %s FROM claimed c RETURNING 1)",
                [step.pk, now],
            )
        )
        results.append("SELECT 'sent', COUNT(*) FROM sent")
    sql = "WITH " + ", ".join(c for c, _ in ctes) + " " + " UNION ALL ".join(results)
    rows = fetchall(sql, [p for _, params in ctes for p in params])
    # Counts are labelled; any other row is a not-synced reason (which never reads like these).
    counts = {label: n for label, n in rows if label in COUNT_LABELS}
    claimed = counts["moved"]
    if not claimed:
        return 0
    moved = {"exited" if child is None else "proceeded": claimed}
    if plan is not None:
        reasons = {reason: n for reason, n in rows if reason not in COUNT_LABELS}
        not_synced = claimed - counts["queued"]
        if counts["queued"]:
            flush_wake_soon()
        if reasons:
            not_synced_reasons_bump(step.pk, reasons)
        step_stats_bump(step.pk, entered=claimed, not_synced=not_synced, **moved, at=now)
    else:
        step_stats_bump(step.pk, entered=claimed, sends=counts["sent"], **moved, at=now)
    return claimed
