"""Reads of the re-reading of phone numbers after a change of the default country
(users.phone_renormalize), worded for the Workspace Settings page."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from appgroups.countries import country_name
from appgroups.models import AppGroup
from appgroups.signals import WorkspaceNotice
from users.models import PhoneRenormalization

NOTICE_KEY = "phone-renormalization"
# A finished re-reading stays on the page this long.
DONE_NOTICE_DAYS = 7
SYNCED_USERS_NOTE = (
    "Users already synced to TikTok keep their old phone hash in TikTok's audiences: this "
    "product does not take it back. Syncing them again adds the new hash beside it."
)


def phone_renormalization_latest(*, app_group: AppGroup) -> PhoneRenormalization | None:
    return (
        PhoneRenormalization.objects.filter(app_group=app_group)
        .order_by("-created_at", "-id")
        .first()
    )


def phone_renormalization_notice(
    job: PhoneRenormalization | None, *, now: dt.datetime | None = None
) -> WorkspaceNotice | None:
    """What the settings page says about `job` (the group's latest), or None."""
    if job is None or job.status == PhoneRenormalization.Status.SUPERSEDED:
        return None
    now = now or timezone.now()
    where = country_name(job.country)
    total = job.profiles_total or 0
    if job.status == PhoneRenormalization.Status.DONE:
        if job.finished_at and job.finished_at < now - dt.timedelta(days=DONE_NOTICE_DAYS):
            return None
        return WorkspaceNotice(
            key=NOTICE_KEY,
            text=(
                f"Phone numbers re-read in {where}: {total:,} profiles checked, "
                f"{job.phones_changed:,} numbers read differently."
            ),
            detail=SYNCED_USERS_NOTE,
        )
    if job.profiles_total is None:
        text = f"Re-reading phone numbers in {where}: waiting for a worker."
    elif job.phase == PhoneRenormalization.Phase.SWEEP:
        text = f"Re-reading phone numbers in {where}: {job.profiles_done:,} of {total:,} profiles."
    else:
        text = (
            f"Re-reading phone numbers in {where}: {total:,} of {total:,} profiles; checking "
            "the numbers written while the country changed."
        )
    before = country_name(job.previous_country) if job.previous_country else "an earlier country"
    return WorkspaceNotice(
        key=NOTICE_KEY,
        text=text,
        detail=(
            "Until it finishes, some numbers typed without a country code are still read in "
            f"{before}. {SYNCED_USERS_NOTE}"
        ),
        in_progress=True,
        percent=job.percent,
    )
