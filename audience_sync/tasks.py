"""Celery entry point of the flush: a thin wake-up, safe to drop or run twice (the queue and
the claims are in the database). A flush that finds a backlog wakes one more, so every free
worker joins in; one that leaves a partial batch waiting asks for a wake-up when it is ready
(audience_sync/wakeups.py)."""

from celery import shared_task
from django.conf import settings


@shared_task(bind=True)
def audience_sync_flush(self) -> dict:
    from audience_sync.flush import audience_sync_flush as flush
    from audience_sync.wakeups import flush_wake_when_ready
    from telemetry.services import task_run_finished, task_run_started

    task_run_started("audience_sync_flush", hostname=self.request.hostname or "")
    report = flush(
        on_backlog=lambda: audience_sync_flush.apply_async(
            expires=settings.WAKE_UP_EXPIRES_SECONDS
        ),
        on_waiting=flush_wake_when_ready,
    )
    result = {
        "requests": report.requests,
        "failed_requests": report.failed_requests,
        "synced": report.synced,
        "errored": report.errored,
    }
    task_run_finished("audience_sync_flush", result=result)
    return result
