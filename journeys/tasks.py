"""Celery entry points of the engine: thin wake-ups, safe to drop or run twice (the state
and the claims are in the database)."""

from celery import shared_task


@shared_task
def journeys_advance() -> int:
    from journeys.engine import journeys_advance as advance
    from journeys.entries import scheduled_entries_run

    scheduled_entries_run()
    return advance()


@shared_task
def audience_sync_flush() -> dict:
    from journeys.sync import audience_sync_flush as flush

    report = flush()
    return {"requests": report.requests, "synced": report.synced, "errored": report.errored}
