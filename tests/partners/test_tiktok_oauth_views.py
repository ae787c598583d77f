"""The OAuth state is single-use, bound to user and app group, and expires; anything else is
403 with nothing stored. Only Admins connect. (The full round trip through the sandbox is in
test_tiktok_connect_flow.py.)"""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from appgroups.models import Role
from partners.models import TikTokConnection, TikTokOAuthAttempt
from tests.factories import MembershipFactory

CONNECT_URL = reverse("partners:tiktok-connect")
CALLBACK_URL = reverse("partners:tiktok-callback")


def start(client) -> str:
    """Press Connect TikTok; return the state sent to TikTok."""
    response = client.post(CONNECT_URL)
    assert response.status_code == 302
    return parse_qs(urlsplit(response.url).query)["state"][0]


def test_connect_sends_the_admin_to_tiktoks_consent_page(admin_client, settings):
    response = admin_client.post(CONNECT_URL)

    url = urlsplit(response.url)
    assert f"{url.scheme}://{url.netloc}" == settings.TIKTOK_API_BASE
    assert url.path == "/portal/auth"
    query = parse_qs(url.query)
    assert query["app_id"] == [settings.TIKTOK_APP_ID]
    assert query["redirect_uri"] == ["http://testserver/partners/tiktok/callback/"]
    assert TikTokOAuthAttempt.objects.get().state == query["state"][0]


@pytest.mark.parametrize("who", ["marketer_client", "viewer_client"])
def test_only_admins_connect(request, who):
    client = request.getfixturevalue(who)

    page = client.get(reverse("partners:tiktok")).content.decode()
    response = client.post(CONNECT_URL)

    assert "Only Admins of Acme can connect TikTok." in page
    assert response.status_code == 403
    assert "Limited access" in response.content.decode()
    assert not TikTokOAuthAttempt.objects.exists()


def test_connect_needs_post(admin_client):
    assert admin_client.get(CONNECT_URL).status_code == 405


def assert_refused(response):
    assert response.status_code == 403
    assert "Limited access" in response.content.decode()
    assert not TikTokConnection.objects.exists()


def test_forged_state_is_refused(admin_client):
    start(admin_client)

    assert_refused(admin_client.get(CALLBACK_URL, {"state": "forged", "auth_code": "x"}))
    assert_refused(admin_client.get(CALLBACK_URL, {"auth_code": "x"}))


def test_expired_state_is_refused(admin_client):
    state = start(admin_client)
    TikTokOAuthAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=11))

    assert_refused(admin_client.get(CALLBACK_URL, {"state": state, "auth_code": "x"}))


def test_another_users_state_is_refused(admin_client, app_group, client):
    state = start(admin_client)
    other_admin = MembershipFactory(app_group=app_group, role=Role.ADMIN)
    client.force_login(other_admin.user)

    assert_refused(client.get(CALLBACK_URL, {"state": state, "auth_code": "x"}))
    # The rightful owner can still use it: the refused attempt did not burn it.
    assert TikTokOAuthAttempt.objects.get(state=state).state_used_at is None


def test_state_of_a_demoted_admin_is_refused(admin_client, admin):
    state = start(admin_client)
    admin.role = Role.MARKETER
    admin.save()

    assert_refused(admin_client.get(CALLBACK_URL, {"state": state, "auth_code": "x"}))


def test_cancel_on_tiktok_returns_with_a_message_and_the_state_is_spent(admin_client):
    state = start(admin_client)

    response = admin_client.get(
        CALLBACK_URL, {"state": state, "error": "access_denied"}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("partners:tiktok")
    assert "the authorization was cancelled" in response.content.decode()
    assert not TikTokOAuthAttempt.objects.exists()
    # Replaying the same state afterwards is refused.
    assert_refused(admin_client.get(CALLBACK_URL, {"state": state, "auth_code": "x"}))


def test_picker_without_an_authorization_sends_back_to_the_tiktok_page(admin_client):
    response = admin_client.get(reverse("partners:tiktok-accounts"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("partners:tiktok")
    assert "has expired" in response.content.decode()


def test_technology_partners_lists_tiktok_and_the_partners_not_built_yet(viewer_client):
    content = viewer_client.get(reverse("partners:technology-partners")).content.decode()

    assert 'href="/partners/tiktok/"' in content
    for name in ["Facebook", "Google", "Snapchat", "Pinterest", "LinkedIn", "Criteo"]:
        assert name in content
    assert content.count("Not available yet") == 6


def test_technology_partners_search_filters_tiles(viewer_client):
    content = viewer_client.get(
        reverse("partners:technology-partners"), {"q": "tik"}
    ).content.decode()

    assert "TikTok" in content
    assert "Snapchat" not in content
