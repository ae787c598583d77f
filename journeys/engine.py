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

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from appgroups.models import Profile
from canvas.models import Branch, CanvasState, MatchField, Step, StepType
from canvas.models import SyncAction as StepAction
from journeys.models import AudienceSyncItem, Entry, MessageSend, Phase, SyncAction
from journeys.sql import column, execute, new_claim_token, skip_locked, table
from journeys.stats import not_synced_reasons_bump, step_stats_bump

logger = logging.getLogger(__name__)

# Entries per transaction: large enough for set-based speed, small enough that a batch's
# locks and its rollback stay cheap.
CHUNK = 20_000

# Profile columns per field to match, in TikTok id_schema order (DESIGN.md §4.5), and the bit
# of each in AudienceSyncItem.schema.
MATCH_COLUMNS = {
    MatchField.EMAIL: ("email_sha256", "email_invalid_reason", 1),
    MatchField.PHONE: ("phone_sha256", "phone_invalid_reason", 2),
    MatchField.IDFA: ("idfa_sha256", "idfa_invalid_reason", 4),
    MatchField.GAID: ("gaid_sha256", "gaid_invalid_reason", 8),
}


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
    now = now or timezone.now()
    started = time.monotonic()
    handled = 0
    while time.monotonic() - started < max_seconds:
        step_ids = list(
            Entry.objects.filter(due_at__lte=now)
            .order_by()
            .values_list("step_id", flat=True)
            .distinct()[:100]
        )
        if not step_ids:
            break
        progress = 0
        for step_id in step_ids:
            claimed = _advance_step(step_id, now=now, chunk=chunk)
            progress += claimed
            if claimed == chunk and on_backlog is not None:
                on_backlog()
                on_backlog = None
        if not progress:
            # Everything due is being handled by other workers right now.
            break
        handled += progress
    return handled


def _claim(step_id: int | None, *, now: datetime, chunk: int, token: int) -> int:
    step_match = "step_id = %s" if step_id is not None else "step_id IS NULL"
    step_params = [step_id] if step_id is not None else []
    return execute(
        f"UPDATE {table(Entry)} SET claim = %s WHERE id IN ("
        f"SELECT id FROM {table(Entry)} WHERE {step_match} AND due_at <= %s "
        f"ORDER BY due_at LIMIT %s{skip_locked()})",
        [token, *step_params, now, chunk],
    )


def _advance_step(step_id: int | None, *, now: datetime, chunk: int) -> int:
    with transaction.atomic():
        token = new_claim_token()
        claimed = _claim(step_id, now=now, chunk=chunk, token=token)
        if not claimed:
            return 0
        entries = Entry.objects.filter(claim=token)
        step = Step.objects.select_related("canvas").filter(pk=step_id).first() if step_id else None
        if step is None or step.deleted_at or step.canvas.state != CanvasState.ACTIVE:
            # A stopped Canvas moves nobody on: users whose wait ends exit (Braze).
            exited = _exit(entries, now=now)
            if step is not None:
                step_stats_bump(step.pk, exited=exited)
            return claimed
        handler = {
            StepType.AUDIENCE_SYNC: _audience_sync,
            StepType.DELAY: _delay,
            StepType.DECISION_SPLIT: _decision_split,
            StepType.MESSAGE: _message,
        }[step.step_type]
        handler(step, entries, token=token, now=now)
    return claimed


def _exit(entries: QuerySet[Entry], *, now: datetime) -> int:
    return entries.update(step=None, due_at=None, exited_at=now, claim=None, phase=Phase.ARRIVE)


def _move_on(step: Step, branch: str, entries: QuerySet[Entry], *, now: datetime) -> int:
    """Send `entries` down `branch`: into the next step, or out of the Canvas at the end of
    the branch. Bumps Proceeded to Next Step or Exited Canvas; returns how many moved."""
    child = Step.objects.filter(parent=step, branch=branch, deleted_at__isnull=True).first()
    if child is None:
        moved = _exit(entries, now=now)
        step_stats_bump(step.pk, exited=moved)
    else:
        moved = entries.update(step=child, phase=Phase.ARRIVE, due_at=now, claim=None)
        step_stats_bump(step.pk, proceeded=moved)
    return moved


def _message(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    sent = execute(
        f"INSERT INTO {table(MessageSend)} (step_id, entry_id, profile_id, sent_at) "
        f"SELECT %s, e.id, e.profile_id, %s FROM {table(Entry)} e WHERE e.claim = %s",
        [step.pk, now, token],
    )
    step_stats_bump(step.pk, entered=sent, sends=sent)
    _move_on(step, Branch.NEXT, entries, now=now)


def _delay(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    seconds = int((step.config or {}).get("seconds") or 0)
    # Arrivals start waiting from the moment they arrived, even when the engine runs behind;
    # a wait already over is simply due again and handled by the next loop.
    arrived = entries.filter(phase=Phase.ARRIVE).update(
        phase=Phase.WAIT, due_at=F("due_at") + timedelta(seconds=seconds), claim=None
    )
    step_stats_bump(step.pk, entered=arrived)
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
    step_stats_bump(step.pk, entered=entered, yes=yes, no=no)


def _audience_sync(step: Step, entries: QuerySet[Entry], *, token: int, now: datetime) -> None:
    """Queue the hashed ids of users who have at least one field to match; count the others
    as Not Synced with their reason. Everyone proceeds at once (Braze auto-advances)."""
    entered = entries.count()
    settings_ = getattr(step, "audience_sync", None)
    fields = [f for f in MATCH_COLUMNS if settings_ and f in (settings_.match_fields or [])]
    queued = 0
    if settings_ is not None and settings_.audience_id and fields:
        queued = _enqueue(step, settings_, fields, token=token, now=now)
    not_synced = entered - queued
    if not_synced:
        not_synced_reasons_bump(step.pk, _not_synced_reasons(entries, fields))
    step_stats_bump(step.pk, entered=entered, not_synced=not_synced)
    _move_on(step, Branch.NEXT, entries, now=now)


def _enqueue(step: Step, settings_, fields: list[str], *, token: int, now: datetime) -> int:
    """One INSERT … SELECT of the claimed users' hashes. `enqueued_at` is when the user reached
    the step (the entry's due time), so latency to TikTok counts from there."""
    audience = settings_.audience
    schema = sum(MATCH_COLUMNS[f][2] for f in fields)
    hash_columns = [MATCH_COLUMNS[f][0] for f in MATCH_COLUMNS]
    selected = [
        f"p.{column(Profile, MATCH_COLUMNS[f][0])}" if f in fields else "NULL"
        for f in MATCH_COLUMNS
    ]
    any_present = " OR ".join(
        f"p.{column(Profile, MATCH_COLUMNS[f][0])} IS NOT NULL" for f in fields
    )
    action = SyncAction.DELETE if settings_.action == StepAction.REMOVE else SyncAction.ADD
    return execute(
        f"INSERT INTO {table(AudienceSyncItem)} (step_id, audience_id, connection_id, action, "
        f"schema, {', '.join(hash_columns)}, enqueued_at, next_attempt_at, deadline_at, "
        "attempts, last_error_message) "
        f"SELECT %s, %s, %s, %s, %s, {', '.join(selected)}, e.due_at, %s, %s, 0, '' "
        f"FROM {table(Entry)} e JOIN {table(Profile)} p ON p.id = e.profile_id "
        f"WHERE e.claim = %s AND ({any_present})",
        [
            step.pk, audience.pk, audience.ad_account.connection_id, action, schema, now,
            now + timedelta(seconds=settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS), token,
        ],
    )  # fmt: skip


def _not_synced_reasons(entries: QuerySet[Entry], fields: list[str]) -> dict[str, int]:
    """Why each unsent user was not sent: the first selected field whose value could not be
    normalized, else the fields that are missing."""
    labels = {f: MatchField(f).label for f in MATCH_COLUMNS}
    if not fields:
        return {"The step has no field to match": entries.count()}
    none_present = Q()
    for f in fields:
        none_present &= Q(**{f"profile__{MATCH_COLUMNS[f][0]}__isnull": True})
    missing = f"No {' or '.join(labels[f] for f in fields)}"
    reason = Case(
        *[
            When(
                ~Q(**{f"profile__{MATCH_COLUMNS[f][1]}": ""}),
                then=Concat(Value(f"{labels[f]}: "), F(f"profile__{MATCH_COLUMNS[f][1]}")),
            )
            for f in fields
        ],
        default=Value(missing),
        output_field=CharField(),
    )
    rows = (
        entries.filter(none_present)
        .annotate(reason=reason)
        .order_by()
        .values("reason")
        .annotate(count=Count("id"))
    )
    return {row["reason"][:200]: row["count"] for row in rows}
