"""Connecting TikTok through the views against the sandbox over HTTP: consent, exchange,
picker, disconnect, Change Account, and what an invalid token looks like."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection as db
from django.urls import reverse

from appgroups.models import Role
from partners.models import (
    AdAccountStatus,
    ConnectionStatus,
    TikTokAdAccount,
    TikTokConnection,
    TikTokOAuthAttempt,
)
from partners.services import tiktok_connection_check
from partners.tasks import tiktok_connections_check
from tests.factories import MembershipFactory
from tests.tiktok import connect_through_oauth, point_at_sandbox

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/partners/tiktok/callback/"


@pytest.fixture
def sandbox(settings, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(CALLBACK)
    return tiktok_sandbox


def consent(client, sandbox, *, decision="confirm", advertiser_ids=None, user_id=None):
    """Press Connect TikTok, then answer TikTok's consent form as a person would; returns the
    URL TikTok sends the browser back to."""
    response = client.post(reverse("partners:tiktok-connect"))
    assert response.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.url).query).items()}
    form = {
        "app_id": query["app_id"],
        "redirect_uri": query["redirect_uri"],
        "state": query["state"],
        "user_id": user_id or sandbox.owner_user_id,
        "advertiser_ids": advertiser_ids or sandbox.advertiser_ids,
        "decision": decision,
    }
    answer = requests.post(
        f"{sandbox.base_url}/portal/auth", data=form, allow_redirects=False, timeout=10
    )
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def back_from_tiktok(client, location, **kwargs):
    url = urlsplit(location)
    return client.get(url.path, parse_qs(url.query), **kwargs)


def test_connect_round_trip(admin_client, sandbox, admin):
    location = consent(admin_client, sandbox)
    assert "auth_code=" in location

    picker = back_from_tiktok(admin_client, location, follow=True)
    assert picker.redirect_chain[-1][0] == reverse("partners:tiktok-accounts")
    content = picker.content.decode()
    advertisers = sandbox.seed["ad_accounts"]
    names = [a["name"] for a in advertisers if a["advertiser_id"] in sandbox.advertiser_ids]
    assert all(name in content for name in names)
    # Every authorized account is ticked by default.
    assert content.count("checked") >= len(sandbox.advertiser_ids)

    chosen = sandbox.advertiser_ids[:2]
    done = admin_client.post(
        reverse("partners:tiktok-accounts"), {"advertiser_ids": chosen}, follow=True
    )

    assert "You successfully connected 2 TikTok accounts." in done.content.decode()
    connection = TikTokConnection.objects.get(app_group=admin.app_group)
    assert connection.status == ConnectionStatus.CONNECTED
    assert connection.connected_by == admin.user
    assert sorted(connection.ad_accounts.values_list("advertiser_id", flat=True)) == sorted(chosen)
    assert not TikTokOAuthAttempt.objects.exists()  # the token lives on the connection only
    # The stored token is real (TikTok answers with it) and stored encrypted.
    token = connection.access_token
    assert sandbox.api_get("/user/info/", token=token)["code"] == 0
    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM partners_tiktokconnection")
        assert token not in " ".join(str(v) for v in cursor.fetchone())
    assert token not in done.content.decode()


def test_a_state_used_once_is_refused_the_second_time(admin_client, sandbox):
    location = consent(admin_client, sandbox)
    back_from_tiktok(admin_client, location)

    replay = back_from_tiktok(admin_client, location)

    assert replay.status_code == 403
    assert not TikTokConnection.objects.exists()


def test_cancel_on_tiktoks_page_returns_with_a_message(admin_client, sandbox):
    location = consent(admin_client, sandbox, decision="cancel")

    response = back_from_tiktok(admin_client, location, follow=True)

    assert response.redirect_chain[-1][0] == reverse("partners:tiktok")
    assert "the authorization was cancelled" in response.content.decode()
    assert not TikTokConnection.objects.exists()


def test_a_refused_auth_code_is_explained_and_nothing_stored(admin_client, sandbox):
    location = consent(admin_client, sandbox)
    url = urlsplit(location)
    query = parse_qs(url.query)
    query["auth_code"] = ["not-a-real-code"]

    response = admin_client.get(url.path, query, follow=True)

    assert "TikTok refused the authorization" in response.content.decode()
    assert not TikTokConnection.objects.exists()


def test_disconnecting_revokes_the_token_at_tiktok(admin_client, sandbox, admin):
    connection = connect_through_oauth(admin, sandbox)
    token = connection.access_token

    admin_client.post(reverse("partners:tiktok-disconnect"))

    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED
    assert connection.access_token_ciphertext == ""
    assert sandbox.api_get("/user/info/", token=token)["code"] == 40105
    assert not connection.ad_accounts.exclude(status=AdAccountStatus.DISCONNECTED).exists()


def test_disconnecting_one_ad_account_keeps_the_others(admin_client, sandbox, admin):
    connection = connect_through_oauth(admin, sandbox)
    first, *others = connection.ad_accounts.order_by("advertiser_id")

    admin_client.post(reverse("partners:tiktok-ad-account-disconnect", args=[first.pk]))

    first.refresh_from_db()
    assert first.status == AdAccountStatus.DISCONNECTED
    assert all(a.status == AdAccountStatus.CONNECTED for a in TikTokAdAccount.objects.filter(
        pk__in=[o.pk for o in others]))  # fmt: skip


def test_a_revoked_token_shows_as_invalid_after_the_check_and_reconnecting_clears_it(
    admin_client, sandbox, admin
):
    connection = connect_through_oauth(admin, sandbox)
    sandbox.revoke(connection.access_token)

    tiktok_connections_check()  # the beat task

    connection.refresh_from_db()
    assert (connection.status, connection.invalid_code) == (ConnectionStatus.INVALID, 40105)
    page = admin_client.get(reverse("partners:tiktok")).content.decode()
    assert "TikTok: Invalid Token." in page
    assert "Disconnect and reconnect TikTok" in page

    # Change Account (here the same TikTok user) brings it back.
    back_from_tiktok(admin_client, consent(admin_client, sandbox))
    admin_client.post(
        reverse("partners:tiktok-accounts"), {"advertiser_ids": sandbox.advertiser_ids}
    )

    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert "Invalid Token" not in admin_client.get(reverse("partners:tiktok")).content.decode()


def test_an_ad_account_removed_at_tiktok_loses_access(admin_client, sandbox, admin):
    connection = connect_through_oauth(admin, sandbox)
    lost = sandbox.advertiser_ids[0]
    sandbox.remove_advertiser(lost, connection.access_token)

    tiktok_connection_check(connection=connection)

    account = TikTokAdAccount.objects.get(advertiser_id=lost)
    assert account.status == AdAccountStatus.NO_ACCESS
    assert (
        "TikTok: Ad Account Access Attempt."
        in admin_client.get(reverse("partners:tiktok")).content.decode()
    )


def test_change_account_keeps_ad_accounts_that_come_back(admin_client, sandbox, admin):
    connection = connect_through_oauth(admin, sandbox)
    before = {a.advertiser_id: a.pk for a in connection.ad_accounts.all()}
    agency = next(u for u in sandbox.seed["users"] if u["user_id"] == sandbox.agency_user_id)
    shared = [a for a in agency["advertiser_ids"] if a in before]
    assert shared, "the seed gives the agency user some of the owner's accounts"

    location = consent(admin_client, sandbox, user_id=sandbox.agency_user_id, advertiser_ids=shared)
    back_from_tiktok(admin_client, location)
    admin_client.post(reverse("partners:tiktok-accounts"), {"advertiser_ids": shared})

    connection.refresh_from_db()
    assert (connection.tiktok_user_id, connection.tiktok_user_name) == (
        agency["user_id"],
        agency["display_name"],
    )
    after = {a.advertiser_id: a for a in TikTokAdAccount.objects.all()}
    for advertiser_id in shared:
        # The same rows, so Canvas steps that point at them keep working.
        assert after[advertiser_id].pk == before[advertiser_id]
        assert after[advertiser_id].status == AdAccountStatus.CONNECTED
    for advertiser_id in set(before) - set(shared):
        assert after[advertiser_id].status == AdAccountStatus.DISCONNECTED


def test_another_app_group_sees_nothing_of_the_connection(sandbox, admin, client, other_app_group):
    connect_through_oauth(admin, sandbox)
    other_admin = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    client.force_login(other_admin.user)

    page = client.get(reverse("partners:tiktok")).content.decode()
    first = TikTokAdAccount.objects.first()

    assert "Connect TikTok" in page
    assert first.advertiser_id not in page
    response = client.post(reverse("partners:tiktok-ad-account-disconnect", args=[first.pk]))
    assert response.status_code == 404
    first.refresh_from_db()
    assert first.status == AdAccountStatus.CONNECTED
