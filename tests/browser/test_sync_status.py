"""Issue 9 in Chromium: the token is revoked at TikTok → the Sync Status page shows sending
paused (by its own refresh) and the admin has a notification; reconnecting with Change Account
clears it and a notification says so."""

import re

import pytest
from django.core import mail

from appgroups.models import Role
from partners.services import tiktok_connections_check_all
from tests.factories import AppGroupFactory, MembershipFactory
from tests.plugins.browser import sign_in
from tests.tiktok import connect_through_oauth, point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_revoked_token_pauses_sync_and_notifies_and_reconnecting_clears_it(
    live_server, page, settings, tiktok_sandbox
):
    point_at_sandbox(settings, tiktok_sandbox)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")
    group = AppGroupFactory(name="Acme")
    admin = MembershipFactory(app_group=group, role=Role.ADMIN, user__email="ana@acme.test")
    connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])

    sign_in(page, live_server, "ana@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sync Status").click()
    state = page.locator("#connection-state")
    assert state.get_by_text("Sending").is_visible()
    assert page.locator(".notifications-count").count() == 0

    # TikTok revokes the token; beat's token check finds out.
    tiktok_sandbox.revoke()
    tiktok_connections_check_all()

    # The page refreshes by itself (every 5 s) and says sending is paused, and why.
    state.get_by_text("Paused: Invalid Token").wait_for(timeout=15_000)
    assert "Disconnect and reconnect TikTok" in state.inner_text()

    page.reload()
    assert page.locator(".notifications-count").inner_text() == "1"
    page.get_by_role("link", name=re.compile("Notifications")).click()
    notices = page.get_by_role("list", name="Notifications")
    assert notices.get_by_text("Invalid Token for TikTok", exact=True).is_visible()
    assert [message.to for message in mail.outbox] == [["ana@acme.test"]]

    # Reconnect: Change Account runs TikTok's consent page again.
    page.get_by_role("link", name="Open the TikTok partner page").first.click()
    page.get_by_role("button", name="Change Account").click()
    page.wait_for_url(re.compile(re.escape(tiktok_sandbox.base_url) + "/portal/auth"))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/partners/tiktok/accounts/$"))
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/partners/tiktok/$"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sync Status").click()
    assert page.locator("#connection-state").get_by_text("Sending").is_visible()
    page.get_by_role("link", name=re.compile("Notifications")).click()
    notices = page.get_by_role("list", name="Notifications")
    assert notices.get_by_text("Resolved: Invalid Token for TikTok", exact=True).is_visible()
    assert len(mail.outbox) == 2 and "Resolved" in mail.outbox[1].subject
