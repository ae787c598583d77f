"""Reads of the journey runtime for other pages: a profile's Canvas entries."""

from __future__ import annotations

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from journeys.models import Entry, Phase
from users.hooks import CanvasHistoryRow

PROFILE_HISTORY_LIMIT = 50


def profile_canvas_history(profile) -> list:
    """The profile's latest Canvas entries, for Audience > Users (users.hooks)."""
    entries = (
        Entry.objects.filter(profile=profile)
        .select_related("canvas", "step")
        .order_by("-entered_at")[:PROFILE_HISTORY_LIMIT]
    )
    rows = []
    for entry in entries:
        if entry.exited_at:
            # Translators: where the user is in the Canvas: they left it.
            where = pgettext("Canvas entry step", "Exited")
            # Translators: when the user left the Canvas, e.g. "Exited 2026-01-05 14:30" (UTC).
            status = _("Exited %(when)s") % {
                "when": date_format(entry.exited_at, "SHORT_DATETIME_FORMAT")
            }
        elif entry.step is None:
            where, status = "—", _("In progress")
        else:
            where = str(entry.step)
            status = _("Waiting in a Delay") if entry.phase == Phase.WAIT else _("In progress")
        rows.append(
            CanvasHistoryRow(
                canvas_name=entry.canvas.name,
                url=reverse("analytics:canvas-analytics", args=[entry.canvas_id]),
                entered_at=entry.entered_at,
                step=where,
                status=status,
            )
        )
    return rows
