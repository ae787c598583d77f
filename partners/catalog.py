"""The partner tiles of Partner Integrations > Technology Partners."""

from __future__ import annotations

from dataclasses import dataclass

from partners.models import ConnectionStatus, TikTokConnection


@dataclass(frozen=True)
class PartnerTile:
    key: str
    name: str
    summary: str
    url_name: str | None  # None: not available in this product
    status: str = ""


# Braze's Audience Sync partners (docs/ARCHITECTURE.md B3); only TikTok is built here.
AUDIENCE_SYNC_PARTNERS = [
    ("tiktok", "TikTok", "Sync Canvas users to TikTok custom audiences."),
    ("facebook", "Facebook", "Custom Audiences on Facebook and Instagram."),
    ("google", "Google", "Customer Match audiences for Google Ads and YouTube."),
    ("snapchat", "Snapchat", "Snap Audience Match audiences."),
    ("pinterest", "Pinterest", "Customer list audiences on Pinterest."),
    ("linkedin", "LinkedIn", "Matched Audiences on LinkedIn."),
    ("criteo", "Criteo", "Customer list audiences on Criteo."),
]


def partner_tiles(*, query: str, tiktok_connection: TikTokConnection | None) -> list[PartnerTile]:
    tiles = []
    for key, name, summary in AUDIENCE_SYNC_PARTNERS:
        if query and query.lower() not in f"{name} {summary}".lower():
            continue
        if key == "tiktok":
            status = "Not connected"
            if tiktok_connection and tiktok_connection.status != ConnectionStatus.DISCONNECTED:
                status = tiktok_connection.get_status_display()
            tiles.append(PartnerTile(key, name, summary, "partners:tiktok", status))
        else:
            tiles.append(PartnerTile(key, name, summary, None, "Not available yet"))
    return tiles
