"""Admin connects TikTok in Chromium: Technology Partners → TikTok → Connect TikTok → TikTok's
consent page (the sandbox) → Confirm → ad-account picker → connected accounts → Disconnect one
→ Disconnect TikTok."""

import re

import pytest

from appgroups.models import Role
from partners.models import AdAccountStatus, ConnectionStatus, TikTokConnection
from tests.factories import AppGroupFactory, MembershipFactory
from tests.plugins.browser import sign_in
from tests.tiktok import point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_connects_and_disconnects_tiktok(live_server, page, settings, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")
    group = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=group, role=Role.ADMIN, user__email="ana@acme.test")
    page.on("dialog", lambda dialog: dialog.accept())
    accounts = {
        a["advertiser_id"]: a["name"]
        for a in tiktok_sandbox.seed["ad_accounts"]
        if a["advertiser_id"] in tiktok_sandbox.advertiser_ids
    }
    kept, dropped = list(accounts)[:-1], list(accounts)[-1]

    sign_in(page, live_server, "ana@acme.test")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Technology Partners"
    ).click()
    page.get_by_role("link", name=re.compile("TikTok")).click()
    page.get_by_role("button", name="Connect TikTok").click()

    # TikTok's consent page, served by the sandbox.
    page.wait_for_url(re.compile(re.escape(tiktok_sandbox.base_url) + "/portal/auth"))
    assert page.get_by_text("Audience Management").is_visible()
    page.get_by_role("button", name="Confirm").click()

    # Back in the product: the picker lists every authorized account, ticked.
    page.wait_for_url(re.compile(r"/partners/tiktok/accounts/$"))
    for name in accounts.values():
        box = page.get_by_label(re.compile(re.escape(name)))
        assert box.is_checked(), name
    page.get_by_label(re.compile(re.escape(accounts[dropped]))).uncheck()
    page.get_by_role("button", name="Save").click()

    page.wait_for_url(re.compile(r"/partners/tiktok/$"))
    noun = "account" if len(kept) == 1 else "accounts"
    assert page.get_by_text(f"You successfully connected {len(kept)} TikTok {noun}.").is_visible()
    table = page.get_by_role("table", name="Connected ad accounts")
    for advertiser_id in kept:
        assert table.get_by_text(advertiser_id).is_visible()
    assert table.get_by_text(dropped).count() == 0

    page.get_by_role("button", name=f"Disconnect {accounts[kept[0]]}").click()
    page.wait_for_selector(f"text=Disconnected the ad account {accounts[kept[0]]}.")
    assert table.get_by_text(kept[0]).count() == 0

    page.get_by_role("button", name="Disconnect TikTok").click()
    page.wait_for_selector("text=TikTok is disconnected and its access token revoked.")
    assert page.get_by_role("button", name="Connect TikTok").is_visible()
    connection = TikTokConnection.objects.get(app_group=group)
    assert connection.status == ConnectionStatus.DISCONNECTED
    assert set(connection.ad_accounts.values_list("status", flat=True)) == {
        AdAccountStatus.DISCONNECTED
    }


def test_a_marketer_sees_the_connect_button_disabled_with_the_reason(live_server, page):
    group = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=group, role=Role.MARKETER, user__email="mo@acme.test")

    sign_in(page, live_server, "mo@acme.test")
    page.goto(f"{live_server.url}/partners/tiktok/")

    assert page.get_by_role("button", name="Connect TikTok").is_disabled()
    assert page.get_by_text("Only Admins of Acme can connect TikTok.").is_visible()
