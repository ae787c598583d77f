"""Connecting TikTok through the views, and the token check, against the sandbox when TikTok's
answers are malformed (docs/SANDBOX.md "Fault injection"): the callback answers with the usual
"TikTok could not be reached…" words and stores nothing, never a 500; names longer than their
columns are cut to fit (PostgreSQL refuses them, SQLite would keep them whole)."""

from html import unescape

import pytest
from django.urls import reverse

from partners.models import (
    ConnectionStatus,
    TikTokAdAccount,
    TikTokConnection,
    TikTokOAuthAttempt,
)
from partners.services import tiktok_connection_check
from tests.partners.test_tiktok_connect_flow import CALLBACK, back_from_tiktok, consent
from tests.tiktok import connect_through_oauth, point_at_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(settings, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(CALLBACK)
    return tiktok_sandbox


@pytest.mark.parametrize(
    ("endpoint", "fault", "words"),
    [
        (
            "/oauth2/access_token/",
            "bad_ids",
            "data.advertiser_ids[0] is not an id of 1 to 32 digits",
        ),
        ("/oauth2/access_token/", "huge_body", "larger than 4 MiB, not read"),
        ("/oauth2/advertiser/get/", "data_not_object", "data is an array, not an object"),
        ("/oauth2/advertiser/get/", "bad_ids", "data.list[0].advertiser_id is not an id"),
        ("/user/info/", "data_not_object", "data is an array, not an object"),
    ],
)
def test_a_malformed_answer_during_the_callback_is_explained_and_nothing_stored(
    admin_client, sandbox, endpoint, fault, words
):
    location = consent(admin_client, sandbox)
    sandbox.set_faults(endpoints=[endpoint], script=[fault])

    response = back_from_tiktok(admin_client, location, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("partners:tiktok")
    text = unescape(response.content.decode())
    assert (
        f"TikTok could not be reached (TikTok: {endpoint}: TikTok's answer is malformed (" in text
    )
    assert words in text
    assert not TikTokOAuthAttempt.objects.exclude(access_token_ciphertext="").exists()
    assert not TikTokConnection.objects.exists()


def test_names_longer_than_their_columns_are_cut_to_fit(admin_client, sandbox, admin):
    location = consent(admin_client, sandbox)
    # Every answer of the connect stretches names, currency and time zone to 1,000 characters.
    sandbox.set_faults(endpoints=["*"], probabilities={"long_strings": 1.0})

    picker = back_from_tiktok(admin_client, location, follow=True)
    assert picker.redirect_chain[-1][0] == reverse("partners:tiktok-accounts")
    done = admin_client.post(
        reverse("partners:tiktok-accounts"), {"advertiser_ids": sandbox.advertiser_ids[:1]},
        follow=True,
    )  # fmt: skip

    assert "You successfully connected 1 TikTok account." in done.content.decode()
    connection = TikTokConnection.objects.get()
    assert len(connection.tiktok_user_name) == 200
    assert connection.tiktok_user_name.startswith("Dana Reyes Dana Reyes")
    account = TikTokAdAccount.objects.get()
    assert (len(account.name), len(account.currency), len(account.timezone)) == (255, 8, 64)
    assert account.currency == "USD USD "
    assert account.advertiser_id == sandbox.advertiser_ids[0]


@pytest.mark.parametrize("fault", ["data_not_object", "bad_ids"])
def test_the_token_check_survives_a_malformed_answer_and_changes_nothing(sandbox, admin, fault):
    connection = connect_through_oauth(admin, sandbox, sandbox.advertiser_ids[:2])
    sandbox.set_faults(endpoints=["/oauth2/advertiser/get/"], script=[fault])

    checked = tiktok_connection_check(connection=connection)

    assert checked.status == ConnectionStatus.CONNECTED
    assert checked.last_checked_at is not None
    # Ad accounts kept: an answer that was not understood says nothing about access.
    assert {a.status for a in checked.ad_accounts.all()} == {"connected"}
