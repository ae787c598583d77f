from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.i18n import number_grouped

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """12 s, 4 min 10 s, 3 h 5 min, 2 d 4 h: ages on a page that refreshes every 5 s."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        # Translators: durations on the Sync Status page, with abbreviated units (s = seconds,
        # min = minutes, h = hours, d = days), e.g. "4 min 10 s".
        return _("%(seconds)d s") % {"seconds": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        if seconds:
            return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": seconds}
        return _("%(minutes)d min") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes:
            return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
        return _("%(hours)d h") % {"hours": hours}
    days, hours = divmod(hours, 24)
    if hours:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    return _("%(days)d d") % {"days": days}


@register.filter
def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        # Translators: when something last happened, e.g. a worker's last heartbeat.
        return _("never")
    # Translators: a moment in the past, e.g. "4 min 10 s ago".
    return _("%(duration)s ago") % {"duration": duration(max((now - moment).total_seconds(), 0))}


@register.simple_tag
def flush_sentence(flush, now: datetime) -> str:
    """When the flush last ran (a telemetry TaskRun), where, and how it ended, in one sentence."""
    values = {"ago": ago(flush.last_started_at, now), "host": flush.last_hostname}
    finished = flush.last_finished_at and flush.last_finished_at >= flush.last_started_at
    if not finished:
        if flush.last_hostname:
            return _("The flush last started %(ago)s on %(host)s, and is running.") % values
        return _("The flush last started %(ago)s, and is running.") % values
    requests = _count(flush.last_result.get("requests"))
    if requests is None:
        if flush.last_hostname:
            return _("The flush last started %(ago)s on %(host)s, and finished.") % values
        return _("The flush last started %(ago)s, and finished.") % values
    synced = _count(flush.last_result.get("synced")) or 0
    values["requests"] = requests
    values["synced"] = ngettext("%(count)s user synced", "%(count)s users synced", synced) % {
        "count": number_grouped(synced)
    }
    if flush.last_hostname:
        return (
            ngettext(
                "The flush last started %(ago)s on %(host)s, and finished after %(requests)s request "
                "(%(synced)s).",
                "The flush last started %(ago)s on %(host)s, and finished after %(requests)s "
                "requests (%(synced)s).",
                requests,
            )
            % values
        )
    return (
        ngettext(
            "The flush last started %(ago)s, and finished after %(requests)s request (%(synced)s).",
            "The flush last started %(ago)s, and finished after %(requests)s requests (%(synced)s).",
            requests,
        )
        % values
    )


def _count(value) -> int | None:
    """A count from a task's stored result, None when there is none (or it is not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
