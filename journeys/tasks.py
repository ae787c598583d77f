"""Celery entry points of the engine: thin wake-ups, safe to drop or run twice (the state
and the claims are in the database). A task that finds a large backlog wakes one more task,
so every free worker joins in; each wakes at most one, and stale wake-ups expire."""

from celery import shared_task
from django.conf import settings


@shared_task
def journeys_advance() -> int:
    from journeys.engine import journeys_advance as advance
    from journeys.entries import scheduled_entries_run

    scheduled_entries_run()
    return advance(
        on_backlog=lambda: journeys_advance.apply_async(expires=settings.WAKE_UP_EXPIRES_SECONDS)
    )
