"""Writes of the telemetry app (heartbeats are written by telemetry/worker.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from telemetry.models import InFlightRequest, TaskRun, WorkerHeartbeat

# Workers not heard from in this long leave the status page's list for good.
HEARTBEATS_KEPT = timedelta(days=7)


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


def telemetry_housekeeping(*, now: datetime) -> dict[str, int]:
    """Forget in-flight markers of processes that died mid-request, and long-gone workers."""
    markers, _ = InFlightRequest.objects.filter(expires_at__lt=now).delete()
    workers, _ = WorkerHeartbeat.objects.filter(last_seen_at__lt=now - HEARTBEATS_KEPT).delete()
    return {"in_flight_markers": markers, "worker_heartbeats": workers}
