"""Per-step counters. Bumped with one UPDATE per batch, inside the batch's transaction."""

from __future__ import annotations

from django.db.models import F

from journeys.models import NotSyncedReason, StepStats


def step_stats_bump(step_id: int, **deltas: int) -> None:
    deltas = {name: value for name, value in deltas.items() if value}
    if not deltas:
        return
    changes = {name: F(name) + value for name, value in deltas.items()}
    if not StepStats.objects.filter(step_id=step_id).update(**changes):
        StepStats.objects.get_or_create(step_id=step_id)
        StepStats.objects.filter(step_id=step_id).update(**changes)


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
