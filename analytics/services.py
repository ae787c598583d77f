"""Per-step counters and time buckets. Bumped with one statement each per batch, inside the
batch's transaction, so a user is counted once or not at all."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from analytics.models import AudienceSyncBatch, NotSyncedReason, Period, StepActivity, StepStats
from core import rawsql

# What the chart shows per minute; older minutes are pruned (days stay).
MINUTES_KEPT = timedelta(days=2)
ACTIVITY_FIELDS = ("entered", "synced", "errored")


def step_stats_bump(step_id: int, *, at: datetime | None = None, **deltas: int) -> None:
    """Add `deltas` to the step's counters, and the charted ones to the buckets of `at` (the
    caller's clock: tests inject one)."""
    deltas = {name: value for name, value in deltas.items() if value}
    if not deltas:
        return
    changes = {name: F(name) + value for name, value in deltas.items()}
    if not StepStats.objects.filter(step_id=step_id).update(**changes):
        StepStats.objects.get_or_create(step_id=step_id)
        StepStats.objects.filter(step_id=step_id).update(**changes)
    charted = {name: deltas.get(name, 0) for name in ACTIVITY_FIELDS}
    if any(charted.values()):
        step_activity_bump(step_id, at=at or timezone.now(), **charted)


def step_error_record(step_ids, *, code: int | None, message: str, at: datetime) -> None:
    """Show a problem on steps at once, as Braze shows errors on the step (the analytics page
    reads these fields). Creates the steps' counter rows when they have none yet."""
    step_ids = list(step_ids)
    StepStats.objects.bulk_create(
        [StepStats(step_id=step_id) for step_id in step_ids], ignore_conflicts=True
    )
    StepStats.objects.filter(step_id__in=step_ids).update(
        last_error_code=code, last_error_message=message[:1000], last_error_at=at
    )


def step_activity_bump(step_id: int, *, at: datetime, entered=0, synced=0, errored=0) -> None:
    """Add to the minute and the day bucket of `at`: one upsert of both rows."""
    minute = at.replace(second=0, microsecond=0)
    day = minute.replace(hour=0, minute=0)
    name = StepActivity._meta.db_table
    rawsql.insert(
        name,
        ("step_id", "period", "start", *ACTIVITY_FIELDS),
        [
            (step_id, period, start, entered, synced, errored)
            for period, start in ((Period.MINUTE, minute), (Period.DAY, day))
        ],
        model=StepActivity,
        conflict=("step_id", "period", "start"),
        update={f: f"{rawsql.quote(name)}.{f} + EXCLUDED.{f}" for f in ACTIVITY_FIELDS},
    )


def step_activity_prune(*, now: datetime) -> int:
    deleted, _ = StepActivity.objects.filter(
        period=Period.MINUTE, start__lt=now - MINUTES_KEPT
    ).delete()
    return deleted


def not_synced_reasons_bump(step_id: int, counts: dict[str, int]) -> None:
    for reason, count in counts.items():
        updated = NotSyncedReason.objects.filter(step_id=step_id, reason=reason).update(
            count=F("count") + count
        )
        if not updated:
            row, created = NotSyncedReason.objects.get_or_create(
                step_id=step_id, reason=reason, defaults={"count": count}
            )
            if not created:
                NotSyncedReason.objects.filter(pk=row.pk).update(count=F("count") + count)


# The sync log keeps a week of requests.
SYNC_LOG_KEPT = timedelta(days=7)


def analytics_housekeeping(*, now: datetime) -> dict[str, int]:
    """Prune what only recent history needs: minute buckets and old sync-log rows."""
    batches, _ = AudienceSyncBatch.objects.filter(sent_at__lt=now - SYNC_LOG_KEPT).delete()
    return {"minute_buckets": step_activity_prune(now=now), "sync_log": batches}
