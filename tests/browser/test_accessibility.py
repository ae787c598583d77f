"""Every page a person uses, in each state that changes what is on it, checked by axe-core in
Chromium (tests/plugins/browser.py `assert_accessible`): no serious or critical WCAG
violation. One walk per role, through the live TikTok sandbox."""

import re

import pytest
from playwright.sync_api import expect

from appgroups.models import Role
from partners.models import TikTokConnection
from tests.browser.test_canvas_audience_sync import (
    add_step,
    choose_ad_account,
    choose_audience,
    open_sync_editor,
)
from tests.factories import AppGroupFactory, MembershipFactory, profile_track
from tests.plugins.browser import assert_accessible, sign_in
from tests.tiktok import point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def acme(settings, live_server, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")
    group = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=group, role=Role.ADMIN, user__email="ana@acme.test")
    MembershipFactory(app_group=group, role=Role.VIEWER, user__email="vic@acme.test")
    profile_track(group, external_id="u-1", email="u1@example.com", phone="+16505550101")
    return group


def visit(page, live_server, path: str, what: str) -> None:
    page.goto(f"{live_server.url}{path}")
    assert_accessible(page, what)


def test_an_admin_walk_through_every_page(live_server, page, tiktok_sandbox, acme):
    page.goto(f"{live_server.url}/login/")
    assert_accessible(page, "sign-in")
    page.get_by_label("Email").fill("ana@acme.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name=re.compile("Sign in", re.I)).click()
    page.get_by_role("alert").first.wait_for()
    assert_accessible(page, "sign-in with an error")
    sign_in(page, live_server, "ana@acme.test")

    # Technology Partners > TikTok: disconnected, TikTok's consent, the picker, connected.
    visit(page, live_server, "/partners/", "Technology Partners")
    visit(page, live_server, "/partners/tiktok/", "TikTok, not connected")
    page.get_by_role("button", name="Connect TikTok").click()
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Choose which TikTok ad accounts to sync").wait_for()
    assert_accessible(page, "ad-account picker")
    page.get_by_role("button", name="Save").click()
    page.get_by_text(re.compile(r"You successfully connected")).wait_for()
    assert_accessible(page, "TikTok, connected")
    token = TikTokConnection.objects.get().access_token
    tiktok_sandbox.create_audience(token, "7230000000000000101", "Existing buyers")

    # A Canvas: list, creation, each tab, the builder with each step type.
    visit(page, live_server, "/canvas/", "Canvas list (empty)")
    page.get_by_role("link", name="Create Canvas").click()
    assert_accessible(page, "Create Canvas")
    page.get_by_role("button", name="Create Canvas").click()  # no name: field error
    assert_accessible(page, "Create Canvas with an error")
    page.get_by_label("Name").fill("Accessible")
    page.get_by_role("button", name="Create Canvas").click()
    page.get_by_role("link", name="Build Canvas").wait_for()
    assert_accessible(page, "Canvas basics")
    for tab in ("Entry Schedule", "Target Audience"):
        page.get_by_role("link", name=tab).first.click()
        page.wait_for_load_state()
        assert_accessible(page, tab)
    page.get_by_role("link", name="Build Canvas").click()
    add_step(page, "at the top of the flow", "Audience Sync")
    assert_accessible(page, "builder, Audience Sync step")
    for component in ("Delay", "Decision Split", "Message"):
        add_step(page, "after Audience Sync", component)
        assert_accessible(page, f"builder, {component} editor")

    # The Audience Sync editor in each state.
    open_sync_editor(page, "Audience Sync")
    assert_accessible(page, "Audience Sync editor, empty")
    choose_ad_account(page)
    choose_audience(page, "Existing", re.compile(r"^Existing buyers"))
    assert_accessible(page, "Audience Sync editor, existing audience")
    choose_audience(page, "High value", "Create new audience “High value”")
    assert_accessible(page, "Audience Sync editor, new audience")
    page.get_by_role("button", name="Create Audience", exact=True).click()  # no field: error
    page.locator(".field-error").first.wait_for()
    assert_accessible(page, "Audience Sync editor, errors")
    page.get_by_label("Email").check()
    page.get_by_role("button", name="Create Audience", exact=True).click()
    expect(page.get_by_test_id("editor-notice")).to_contain_text("was saved as a draft")
    expect(page.locator("#live-announcer")).to_contain_text("was saved as a draft")
    assert_accessible(page, "Audience Sync editor, draft created")
    page.get_by_role("link", name="Summary").click()
    page.get_by_role("button", name="Launch Canvas").click()
    page.get_by_text(re.compile(r"The Canvas was not launched")).wait_for()
    assert_accessible(page, "Summary, launch refused")

    # Audience, settings, monitoring, notifications, errors.
    visit(page, live_server, "/users/", "Users")
    page.get_by_role("link", name="u-1").first.click()
    page.wait_for_load_state()
    assert_accessible(page, "a user profile")
    visit(page, live_server, "/users/import/", "Import Users")
    page.get_by_label("CSV file").set_input_files(
        {"name": "few.csv", "mimeType": "text/csv", "buffer": b"external_id,email\nu-2,a@b.co\n"}
    )
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/users/import/\d+/$"))
    assert_accessible(page, "an import in progress")
    visit(page, live_server, "/settings/api-keys/", "APIs and Identifiers")
    page.get_by_label("Name").fill("Warehouse sync")
    page.get_by_label("users.track").check()
    page.get_by_role("button", name="Create API key").click()
    page.get_by_role("heading", name="Copy the key “Warehouse sync” now").wait_for()
    assert_accessible(page, "the key shown once")
    visit(page, live_server, "/settings/workspace/", "Workspace Settings")
    visit(page, live_server, "/settings/sync-status/", "Sync Status")
    tiktok_sandbox.revoke(token)
    page.goto(f"{live_server.url}/partners/tiktok/")
    page.get_by_role("button", name="Check connection").click()
    page.wait_for_selector("text=The TikTok connection has a problem")
    assert_accessible(page, "TikTok, invalid token")
    visit(page, live_server, "/notifications/", "Notifications")
    visit(page, live_server, "/no-such-page/", "404")


def test_a_viewer_walk_and_the_limited_access_page(live_server, page, acme):
    sign_in(page, live_server, "vic@acme.test")
    visit(page, live_server, "/canvas/", "Canvas list, Viewer")
    visit(page, live_server, "/settings/workspace/", "Workspace Settings, read-only")
    visit(page, live_server, "/users/import/", "403 Limited access")
    assert page.get_by_role("heading", name="Limited access").is_visible()
