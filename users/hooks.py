"""Extension points other apps fill in, so users needs no import of them.

Canvas history on the user profile page: an app registers a provider, typically in its
AppConfig.ready():

    from users.hooks import register_canvas_history

    register_canvas_history(lambda profile: [CanvasHistoryRow(...), ...])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from users.models import Profile


@dataclass(frozen=True)
class CanvasHistoryRow:
    canvas_name: str
    url: str  # the Canvas page, or "" when there is none to link to
    entered_at: dt.datetime
    step: str  # where the user is or left ("Delay 1 day", "Exited")
    status: str  # short, e.g. "In progress", "Exited", "Synced to TikTok"


_providers: list[Callable[[Profile], list[CanvasHistoryRow]]] = []


def register_canvas_history(provider: Callable[[Profile], list[CanvasHistoryRow]]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def canvas_history_for(profile: Profile) -> list[CanvasHistoryRow]:
    rows = [row for provider in _providers for row in provider(profile)]
    return sorted(rows, key=lambda row: row.entered_at, reverse=True)
