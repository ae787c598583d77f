"""An Admin is told in the header when TikTok breaks, reads it in the list, marks it read, and
is told again when reconnecting fixes it (Chromium, the live sandbox)."""

import re

import pytest
from playwright.sync_api import expect

from appgroups.models import Role
from partners.tiktok.health import INVALID_TOKEN_ADVICE
from tests.factories import AppGroupFactory, MembershipFactory
from tests.plugins.browser import sign_in
from tests.tiktok import connect_through_oauth, point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_sees_marks_read_and_is_told_of_the_fix(live_server, page, settings, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    group = AppGroupFactory(name="Acme")
    admin = MembershipFactory(app_group=group, role=Role.ADMIN, user__email="ana@acme.test")
    connection = connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    tiktok_sandbox.revoke(connection.access_token)  # Business Center "Remove access"

    sign_in(page, live_server, "ana@acme.test")
    bell = page.get_by_role("link", name=re.compile(r"^\W*Notifications"))
    count = page.locator(".notifications-count")
    expect(bell).to_be_visible()
    expect(count).to_have_count(0)

    # "Check connection" finds the revoked token: the header counts one unread notification.
    page.goto(f"{live_server.url}/partners/tiktok/")
    page.get_by_role("button", name="Check connection").click()
    page.wait_for_selector("text=The TikTok connection has a problem")
    expect(count).to_have_text("1")
    expect(bell).to_have_accessible_name(re.compile(r"Notifications 1 unread$"))

    bell.click()
    page.wait_for_url(re.compile(r"/notifications/$"))
    item = page.get_by_role("listitem").filter(has_text="Invalid Token for TikTok")
    expect(item).to_contain_text(str(INVALID_TOKEN_ADVICE))
    expect(item.get_by_role("link", name="Open the TikTok partner page")).to_have_attribute(
        "href", "/partners/tiktok/"
    )
    item.get_by_role("button", name="Mark read: Invalid Token for TikTok").click()
    page.wait_for_url(re.compile(r"/notifications/$"))
    expect(count).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Mark read"))).to_have_count(0)

    # Reconnecting (Change Account) clears it, and says so.
    connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    page.reload()
    expect(count).to_have_text("1")
    expect(page.get_by_role("listitem").first).to_contain_text("Resolved: Invalid Token for TikTok")
    page.get_by_role("button", name="Mark all read").click()
    page.wait_for_url(re.compile(r"/notifications/$"))
    expect(count).to_have_count(0)
