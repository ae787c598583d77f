"""Celery tasks of users: thin wrappers that call one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from users import phone_renormalize
from users.csv_import import lifecycle
from users.selectors import phone_renormalizations

logger = logging.getLogger(__name__)

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


# --- re-reading phone numbers after a change of the default country ------------------------------

# Between two deliveries of a job that waits (writes begun before the change, a lock).
PHONE_RENORMALIZATION_WAIT_SECONDS = 10


@shared_task
def phone_renormalization_run(job_id: int) -> str:
    """Work on a re-reading for up to RUN_SECONDS (50 s, within the default time limits), then
    queue the next delivery; a duplicate delivery finds it claimed and does nothing
    (users.phone_renormalize)."""
    outcome = phone_renormalize.phone_renormalization_run(job_id=job_id)
    if outcome == phone_renormalize.Outcome.MORE:
        _phone_renormalization_queue(job_id)
    elif outcome == phone_renormalize.Outcome.WAIT:
        _phone_renormalization_queue(job_id, countdown=PHONE_RENORMALIZATION_WAIT_SECONDS)
    return str(outcome)


@shared_task
def phone_renormalizations_resume() -> int:
    """Wake the re-readings whose worker died or whose message was lost (for beat; the
    Workspace Settings page does the same for its app group while it is open)."""
    stalled = phone_renormalize.phone_renormalizations_stalled()
    for job_id in stalled:
        _phone_renormalization_queue(job_id)
    return len(stalled)


def _phone_renormalization_queue(job_id: int, countdown: int | None = None) -> None:
    try:
        phone_renormalization_run.apply_async((job_id,), countdown=countdown)
    except Exception:
        # The job is in the database: the settings page or the resume task wakes it later.
        logger.warning("phone re-reading %s: its task could not be queued", job_id, exc_info=True)


def on_default_country_changed(sender, *, app_group, previous_country, actor=None, **kwargs):
    """In the settings transaction: record the re-reading, queue it once committed."""
    job = phone_renormalize.phone_renormalization_start(
        app_group=app_group,
        previous_country=previous_country,
        changed_by=getattr(actor, "user", None),
    )
    transaction.on_commit(lambda: _phone_renormalization_queue(job.pk))


def on_workspace_settings_notices(sender, *, app_group, **kwargs):
    """The settings page's notice; a stalled job is woken while someone watches it."""
    job = phone_renormalizations.phone_renormalization_latest(app_group=app_group)
    if job is not None and not job.is_finished:
        if phone_renormalize.phone_renormalization_wake_if_stalled(job_id=job.pk):
            _phone_renormalization_queue(job.pk)
    return phone_renormalizations.phone_renormalization_notice(job)
