"""Reads of the re-reading of phone numbers after a change of the default country
(users.phone_renormalize), worded for the Workspace Settings page."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from appgroups.countries import country_name
from appgroups.models import AppGroup
from appgroups.signals import WorkspaceNotice
from core.i18n import number_grouped
from users.models import PhoneRenormalization

NOTICE_KEY = "phone-renormalization"
# A finished re-reading stays on the page this long.
DONE_NOTICE_DAYS = 7
SYNCED_USERS_NOTE = gettext_lazy(
    "Users already synced to TikTok keep their old phone hash in TikTok's audiences: this "
    "product does not take it back. Syncing them again adds the new hash beside it."
)


def _country(region: str) -> str:
    """The country's name in the active language (English where the table has no other)."""
    return country_name(region, (get_language() or "en").split("-")[0])


def phone_renormalization_latest(*, app_group: AppGroup) -> PhoneRenormalization | None:
    return (
        PhoneRenormalization.objects.filter(app_group=app_group)
        .order_by("-created_at", "-id")
        .first()
    )


def phone_renormalization_notice(
    job: PhoneRenormalization | None, *, now: dt.datetime | None = None
) -> WorkspaceNotice | None:
    """What the settings page says about `job` (the group's latest), or None; worded in the
    active language (the page's request)."""
    if job is None or job.status == PhoneRenormalization.Status.SUPERSEDED:
        return None
    now = now or timezone.now()
    where = _country(job.country)
    total = number_grouped(job.profiles_total or 0)
    if job.status == PhoneRenormalization.Status.DONE:
        if job.finished_at and job.finished_at < now - dt.timedelta(days=DONE_NOTICE_DAYS):
            return None
        return WorkspaceNotice(
            key=NOTICE_KEY,
            text=_(
                "Phone numbers re-read in %(country)s: %(total)s profiles checked, "
                "%(changed)s numbers read differently."
            )
            % {"country": where, "total": total, "changed": number_grouped(job.phones_changed)},
            detail=str(SYNCED_USERS_NOTE),
        )
    if job.profiles_total is None:
        text = _("Re-reading phone numbers in %(country)s: waiting for a worker.") % {
            "country": where
        }
    elif job.phase == PhoneRenormalization.Phase.SWEEP:
        text = _("Re-reading phone numbers in %(country)s: %(done)s of %(total)s profiles.") % {
            "country": where,
            "done": number_grouped(job.profiles_done),
            "total": total,
        }
    else:
        text = _(
            "Re-reading phone numbers in %(country)s: %(total)s of %(total)s profiles; checking "
            "the numbers written while the country changed."
        ) % {"country": where, "total": total}
    if job.previous_country:
        until = _(
            "Until it finishes, some numbers typed without a country code are still read in "
            "%(country)s."
        ) % {"country": _country(job.previous_country)}
    else:
        until = _(
            "Until it finishes, some numbers typed without a country code are still read in "
            "an earlier country."
        )
    return WorkspaceNotice(
        key=NOTICE_KEY,
        text=text,
        detail=f"{until} {SYNCED_USERS_NOTE}",
        in_progress=True,
        percent=job.percent,
    )
