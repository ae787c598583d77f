"""Settings > APIs and Identifiers in Chromium: create a key, see it once, use it, revoke it."""

import re

import pytest
import requests

from appgroups.models import RestApiKey, Role
from tests.factories import AppGroupFactory, MembershipFactory
from tests.plugins.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_a_key_sees_it_once_uses_it_and_revokes_it(live_server, page):
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.ADMIN, user__email="ana@acme.test")
    sign_in(page, live_server, "ana@acme.test")

    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="APIs and Identifiers"
    ).click()
    page.get_by_label("Name").fill("Warehouse sync")
    page.get_by_label("users.track").check()
    page.get_by_role("button", name="Create API key").click()

    page.get_by_role("heading", name="Copy the key “Warehouse sync” now").wait_for()
    secret = page.get_by_role("textbox", name="REST API key").input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}", secret)
    assert RestApiKey.objects.get().key_sha256 != secret

    # The key works against the REST API, with the permission chosen and no other.
    track = requests.post(
        f"{live_server.url}/api/users/track",
        json={"attributes": [{"external_id": "u1", "first_name": "Ana"}]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    export = requests.post(
        f"{live_server.url}/api/users/export/ids",
        json={"external_ids": ["u1"]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert (track.status_code, export.status_code) == (201, 403)

    # Reloading the answer re-sends the form: no second key, and the secret is not shown again.
    page.reload()
    page.get_by_text("This key was already created").wait_for()
    assert secret not in page.content()
    assert RestApiKey.objects.count() == 1
    page.goto(f"{live_server.url}/settings/api-keys/")
    assert secret not in page.content()
    row = page.get_by_role("row", name=re.compile("Warehouse sync"))
    assert "Never" not in row.inner_text()
    assert "Active" in row.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke Warehouse sync").click()
    page.get_by_text("API key “Warehouse sync” is revoked").wait_for()
    assert "Revoked" in page.get_by_role("row", name=re.compile("Warehouse sync")).inner_text()
    again = requests.post(
        f"{live_server.url}/api/users/track",
        json={"attributes": [{"external_id": "u1"}]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert again.status_code == 401


def test_a_marketer_sees_keys_but_no_create_form(live_server, page):
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.MARKETER, user__email="mo@acme.test")
    sign_in(page, live_server, "mo@acme.test")

    page.goto(f"{live_server.url}/settings/api-keys/")

    assert page.get_by_role("heading", name="REST API keys").is_visible()
    assert page.get_by_role("button", name="Create API key").count() == 0
    assert page.get_by_text("Only Admins of this app group").is_visible()
