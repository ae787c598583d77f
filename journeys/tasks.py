"""Celery entry points of the engine: thin wake-ups, safe to drop or run twice (the state
and the claims are in the database). A task that finds a large backlog wakes one more task,
so every free worker joins in; each wakes at most one, and stale wake-ups expire."""

from celery import shared_task

# A wake-up not picked up within this many seconds is dropped: beat sends fresh ones.
WAKE_UP_EXPIRES_SECONDS = 30


@shared_task
def journeys_advance() -> int:
    from journeys.engine import journeys_advance as advance
    from journeys.entries import scheduled_entries_run

    scheduled_entries_run()
    return advance(on_backlog=lambda: journeys_advance.apply_async(expires=WAKE_UP_EXPIRES_SECONDS))


@shared_task(bind=True)
def audience_sync_flush(self) -> dict:
    from journeys.sync import audience_sync_flush as flush
    from telemetry.services import task_run_finished, task_run_started

    task_run_started("audience_sync_flush", hostname=self.request.hostname or "")
    report = flush(
        on_backlog=lambda: audience_sync_flush.apply_async(expires=WAKE_UP_EXPIRES_SECONDS)
    )
    result = {
        "requests": report.requests,
        "failed_requests": report.failed_requests,
        "synced": report.synced,
        "errored": report.errored,
    }
    task_run_finished("audience_sync_flush", result=result)
    return result


@shared_task
def journeys_housekeeping() -> dict:
    from django.utils import timezone

    from journeys.stats import journeys_housekeeping as housekeeping
    from telemetry.services import monitoring_housekeeping

    now = timezone.now()
    return housekeeping(now=now) | monitoring_housekeeping(now=now)
