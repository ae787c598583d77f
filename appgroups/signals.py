"""Signals appgroups sends, so that apps above it act on workspace settings without appgroups
importing them (docs/ARCHITECTURE.md, "What may import what"). users receives both
(users/apps.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

# Sent by app_group_settings_update inside its transaction, with `app_group`,
# `previous_country` and `actor`: users queues the re-reading of the phone numbers it stores
# (users/phone_renormalize.py).
default_country_changed = Signal()

# Sent by the Workspace Settings page with `app_group`: a receiver returns a WorkspaceNotice
# about work in progress on the settings, or None.
workspace_settings_notices = Signal()


@dataclass(frozen=True)
class WorkspaceNotice:
    """What the Workspace Settings page shows about work a settings change started."""

    key: str  # stable, for the page's element ids and tests
    text: str  # one sentence, e.g. "Re-reading phone numbers in Germany: 40,000 of 120,000 …"
    detail: str = ""  # what the change means for the user of the page
    in_progress: bool = False  # the page refreshes itself while any notice is in progress
    percent: int | None = None  # a progress bar when set
