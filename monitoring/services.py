"""Writes of the monitoring app (heartbeats are written by monitoring/worker.py)."""

from __future__ import annotations

from django.utils import timezone

from monitoring.models import TaskRun


def task_run_started(name: str, *, hostname: str = "") -> None:
    """Record that a periodic task started (the status page shows when the flush last ran)."""
    TaskRun.objects.bulk_create(
        [TaskRun(name=name, last_started_at=timezone.now(), last_hostname=hostname[:255])],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["last_started_at", "last_hostname"],
    )


def task_run_finished(name: str, *, result: dict) -> None:
    TaskRun.objects.filter(name=name).update(last_finished_at=timezone.now(), last_result=result)
