"""Reads of the journey runtime for other pages: a profile's Canvas entries."""

from __future__ import annotations

from django.urls import reverse

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
            where, status = "Exited", f"Exited {entry.exited_at:%b %d, %H:%M}"
        elif entry.step is None:
            where, status = "—", "In progress"
        else:
            where = str(entry.step)
            status = "Waiting in a Delay" if entry.phase == Phase.WAIT else "In progress"
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
