"""The partner tiles of Partner Integrations > Technology Partners."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners.models import ConnectionStatus, TikTokConnection


@dataclass(frozen=True)
class PartnerTile:
    key: str
    name: str
    summary: str
    url_name: str | None  # None: not available in this product
    status: str = ""
    # The status pill's CSS class suffix (status-…): the same whatever the language.
    status_key: str = ""


# Braze's Audience Sync partners (docs/ARCHITECTURE.md B3); only TikTok is built here.
AUDIENCE_SYNC_PARTNERS = [
    ("tiktok", "TikTok", gettext_lazy("Sync Canvas users to TikTok custom audiences.")),
    ("facebook", "Facebook", gettext_lazy("Custom Audiences on Facebook and Instagram.")),
    ("google", "Google", gettext_lazy("Customer Match audiences for Google Ads and YouTube.")),
    ("snapchat", "Snapchat", gettext_lazy("Snap Audience Match audiences.")),
    ("pinterest", "Pinterest", gettext_lazy("Customer list audiences on Pinterest.")),
    ("linkedin", "LinkedIn", gettext_lazy("Matched Audiences on LinkedIn.")),
    ("criteo", "Criteo", gettext_lazy("Customer list audiences on Criteo.")),
]

# The pills' CSS classes, as they were when the labels were English only.
_STATUS_KEYS = {
    ConnectionStatus.CONNECTED: "connected",
    ConnectionStatus.INVALID: "invalid-token",
}


def partner_tiles(*, query: str, tiktok_connection: TikTokConnection | None) -> list[PartnerTile]:
    """The tiles whose name or summary (in the reader's language) contains `query`."""
    tiles = []
    for key, name, lazy_summary in AUDIENCE_SYNC_PARTNERS:
        summary = str(lazy_summary)
        if query and query.lower() not in f"{name} {summary}".lower():
            continue
        if key == "tiktok":
            status, status_key = _("Not connected"), "not-connected"
            if tiktok_connection and tiktok_connection.status != ConnectionStatus.DISCONNECTED:
                status = tiktok_connection.get_status_display()
                status_key = _STATUS_KEYS.get(tiktok_connection.status, tiktok_connection.status)
            tiles.append(PartnerTile(key, name, summary, "partners:tiktok", status, status_key))
        else:
            tiles.append(
                PartnerTile(key, name, summary, None, _("Not available yet"), "not-available-yet")
            )
    return tiles
