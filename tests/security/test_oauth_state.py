"""OAuth `state` attacks the other OAuth tests leave out, against the sandbox over HTTP.

tests/partners/test_tiktok_oauth_views.py covers a forged, missing, expired, another user's and
a demoted admin's state; test_tiktok_connect_flow.py a replayed one. Here: the same attacks
carrying a *real* auth_code (TikTok must never be asked to exchange it, and it stays usable),
a state stolen by another app group's admin, the cancel path, an admin of two app groups who
switches group in between, and the picker after the admin lost the role or let it expire.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from appgroups.middleware import SESSION_KEY
from appgroups.models import Role
from partners.models import TikTokConnection, TikTokOAuthAttempt
from tests.factories import MembershipFactory
from tests.security.conftest import TESTSERVER_CALLBACK

pytestmark = pytest.mark.django_db

CALLBACK = reverse("partners:tiktok-callback")
REDIRECT_URI = TESTSERVER_CALLBACK


def start(client) -> str:
    response = client.post(reverse("partners:tiktok-connect"))
    assert response.status_code == 302
    return parse_qs(urlsplit(response.url).query)["state"][0]


def exchanges(sandbox) -> int:
    return len(sandbox.requests(endpoint="/oauth2/access_token/"))


def assert_refused_and_nothing_asked(response, sandbox, code):
    assert response.status_code == 403
    assert "Limited access" in response.content.decode()
    assert not TikTokConnection.objects.exists()
    assert not TikTokOAuthAttempt.objects.exclude(access_token_ciphertext="").exists()
    # TikTok was never asked to exchange the code, which still works for its owner.
    assert exchanges(sandbox) == 0
    assert sandbox.exchange(code)["code"] == 0


def test_forged_state_with_a_real_code_never_reaches_tiktok(admin_client, sandbox):
    start(admin_client)
    code = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)

    response = admin_client.get(CALLBACK, {"state": "forged-" + "x" * 40, "auth_code": code})

    assert_refused_and_nothing_asked(response, sandbox, code)


def test_expired_state_with_a_real_code_never_reaches_tiktok(admin_client, sandbox):
    state = start(admin_client)
    TikTokOAuthAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=10, seconds=1))
    code = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)

    response = admin_client.get(CALLBACK, {"state": state, "auth_code": code})

    assert_refused_and_nothing_asked(response, sandbox, code)


def test_replayed_state_with_a_fresh_code_is_refused_before_tiktok(admin_client, sandbox):
    state = start(admin_client)
    first = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)
    assert admin_client.get(CALLBACK, {"state": state, "auth_code": first}).status_code == 302
    attempt = TikTokOAuthAttempt.objects.get(state=state)
    sandbox.control("POST", "/stats/reset")
    second = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)

    response = admin_client.get(CALLBACK, {"state": state, "auth_code": second})

    assert response.status_code == 403
    assert not TikTokConnection.objects.exists()
    # The first trip's attempt is as it was (its token not replaced by the replay's).
    again = TikTokOAuthAttempt.objects.get(state=state)
    assert again.access_token_ciphertext == attempt.access_token_ciphertext
    assert exchanges(sandbox) == 0
    assert sandbox.exchange(second)["code"] == 0


def test_another_app_groups_admin_cannot_use_a_stolen_state(
    admin_client, admin, sandbox, other_app_group
):
    state = start(admin_client)
    thief = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    client = Client()
    client.force_login(thief.user)
    code = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)

    response = client.get(CALLBACK, {"state": state, "auth_code": code})

    assert_refused_and_nothing_asked(response, sandbox, code)
    # Not burnt either: the rightful admin can still finish.
    assert TikTokOAuthAttempt.objects.get(state=state).state_used_at is None


def test_cancel_with_someone_elses_state_is_refused_and_deletes_nothing(
    admin_client, sandbox, other_app_group
):
    state = start(admin_client)
    thief = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    client = Client()
    client.force_login(thief.user)

    response = client.get(CALLBACK, {"state": state, "error": "access_denied"})

    assert response.status_code == 403
    attempt = TikTokOAuthAttempt.objects.get(state=state)
    assert attempt.state_used_at is None


def test_the_state_keeps_the_app_group_it_was_made_for(admin_client, admin, sandbox):
    """An admin of Acme and Globex starts in Acme, switches to Globex, then comes back from
    TikTok: the connection goes to Acme, where the admin pressed Connect."""
    globex = MembershipFactory(user=admin.user, app_group__name="Globex", role=Role.ADMIN)
    state = start(admin_client)
    admin_client.post(reverse("appgroups:switch"), {"app_group": globex.app_group_id})
    assert admin_client.session[SESSION_KEY] == globex.app_group_id
    code = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)

    admin_client.get(CALLBACK, {"state": state, "auth_code": code})
    admin_client.post(
        reverse("partners:tiktok-accounts"), {"advertiser_ids": sandbox.advertiser_ids}
    )

    connection = TikTokConnection.objects.get()
    assert connection.app_group_id == admin.app_group_id
    assert not TikTokConnection.objects.filter(app_group=globex.app_group).exists()


def test_an_admin_demoted_before_the_picker_stores_nothing(admin_client, admin, sandbox):
    state = start(admin_client)
    code = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)
    admin_client.get(CALLBACK, {"state": state, "auth_code": code})
    admin.role = Role.MARKETER
    admin.save()

    response = admin_client.post(
        reverse("partners:tiktok-accounts"), {"advertiser_ids": sandbox.advertiser_ids}
    )

    assert response.status_code == 403
    assert not TikTokConnection.objects.exists()


def test_a_picker_left_open_too_long_stores_nothing(admin_client, sandbox):
    state = start(admin_client)
    code = sandbox.issue_auth_code(redirect_uri=REDIRECT_URI)
    admin_client.get(CALLBACK, {"state": state, "auth_code": code})
    TikTokOAuthAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=31))

    response = admin_client.post(
        reverse("partners:tiktok-accounts"), {"advertiser_ids": sandbox.advertiser_ids}, follow=True
    )

    assert "has expired" in response.content.decode()
    assert not TikTokConnection.objects.exists()


def test_a_state_is_long_random_and_single_row(admin_client, sandbox):
    states = {start(admin_client) for _ in range(5)}
    assert len(states) == 5
    assert all(len(s) >= 43 for s in states)  # 32 random bytes, base64
