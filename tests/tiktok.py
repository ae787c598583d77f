"""Connecting the product to the TikTok sandbox the way the product does it (real OAuth
services, real tokens), for integration and browser tests."""

from __future__ import annotations

SANDBOX_REDIRECT_URI = "http://127.0.0.1:8000/partners/tiktok/callback/"


def point_at_sandbox(settings, tiktok_sandbox) -> None:
    settings.TIKTOK_API_BASE = tiktok_sandbox.base_url
    settings.TIKTOK_APP_ID = tiktok_sandbox.app_id
    settings.TIKTOK_APP_SECRET = tiktok_sandbox.app_secret


def connect_through_oauth(admin, tiktok_sandbox, advertiser_ids=None):
    """Connect TikTok the way the product does, minus the browser: Connect (state), the
    sandbox's consent (auth_code), the callback's exchange, then the ad-account picker."""
    from urllib.parse import parse_qs, urlsplit

    from partners.services import (
        tiktok_connection_save,
        tiktok_oauth_complete,
        tiktok_oauth_start,
    )

    consent = tiktok_oauth_start(actor=admin, redirect_uri=SANDBOX_REDIRECT_URI)
    state = parse_qs(urlsplit(consent).query)["state"][0]
    code = tiktok_sandbox.issue_auth_code(
        advertiser_ids=advertiser_ids, redirect_uri=SANDBOX_REDIRECT_URI
    )
    attempt = tiktok_oauth_complete(
        user=admin.user, state=state, auth_code=code, redirect_uri=SANDBOX_REDIRECT_URI
    )
    chosen = advertiser_ids or [a["advertiser_id"] for a in attempt.advertisers]
    return tiktok_connection_save(actor=admin, attempt=attempt, advertiser_ids=chosen)
