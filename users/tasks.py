"""Celery tasks of users: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task

from users.csv_import import lifecycle

# A 500 MB file at the documented rate takes well under this; the default limits (2 min) fit
# request-sized work, not imports.
IMPORT_SOFT_TIME_LIMIT = 60 * 60
IMPORT_TIME_LIMIT = IMPORT_SOFT_TIME_LIMIT + 5 * 60


@shared_task(soft_time_limit=IMPORT_SOFT_TIME_LIMIT, time_limit=IMPORT_TIME_LIMIT)
def user_import_run(user_import_id: int) -> None:
    """Run a queued CSV import; a second delivery finds it taken and does nothing."""
    lifecycle.user_import_run(user_import_id=user_import_id)


@shared_task(
    name="appgroups.tasks.user_import_run",
    soft_time_limit=IMPORT_SOFT_TIME_LIMIT,
    time_limit=IMPORT_TIME_LIMIT,
)
def user_import_run_queued_before_upgrade(user_import_id: int) -> None:
    """The same task under its name from before the apps' reorganisation (it lived in
    appgroups): an import queued by an older release still runs after the upgrade. Unlike the
    engine's wake-ups, nothing else would pick such an import up again."""
    lifecycle.user_import_run(user_import_id=user_import_id)
