"""Signing in and switching app group, in Chromium against a live server."""

import re

import pytest

from appgroups.models import Role
from tests.factories import TEST_PASSWORD, AppGroupFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_then_switch_app_group(live_server, page):
    acme = AppGroupFactory(name="Acme")
    globex = AppGroupFactory(name="Globex")
    admin = MembershipFactory(app_group=acme, role=Role.ADMIN, user__email="ana@acme.test")
    MembershipFactory(app_group=globex, role=Role.VIEWER, user=admin.user)

    page.goto(f"{live_server.url}/canvas/")
    assert "/login/" in page.url
    page.get_by_label("Email").fill("ana@acme.test")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Back where they were headed, in their first app group, with the shell around the page.
    page.wait_for_url(re.compile(r"/canvas/$"))
    switcher = page.get_by_label("App group")
    assert switcher.input_value() == str(acme.id)
    assert page.locator(".role-badge").inner_text() == "Admin"
    assert (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Technology Partners")
        .is_visible()
    )

    # Choosing another group submits the switcher by itself and keeps the page.
    switcher.select_option(label="Globex")
    page.wait_for_selector("text=Switched to Globex.")
    assert page.url.endswith("/canvas/")
    assert page.get_by_label("App group").input_value() == str(globex.id)
    assert page.locator(".role-badge").inner_text() == "Viewer"

    # A Viewer in Globex reads Workspace Settings without changing them, and meets the
    # Limited access page only by typing an Admin-only address.
    page.get_by_role("link", name="Workspace Settings").click()
    assert page.get_by_label("Name").is_disabled()
    assert page.get_by_role("button", name="Save").count() == 0
    page.goto(f"{live_server.url}/settings/sync-status/")
    assert page.get_by_role("heading", name="Limited access").is_visible()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login/$"))


def test_wrong_password_shows_an_error(live_server, page):
    MembershipFactory(user__email="ana@acme.test")

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("ana@acme.test")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    assert page.get_by_role("alert").inner_text().startswith("Your email and password didn't match")
    assert "/login/" in page.url
