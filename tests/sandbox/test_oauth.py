"""OAuth: the consent page's form posts, the auth_code exchange, revoke and the advertiser list
(docs/TIKTOK_API.md §2; docs/SANDBOX.md "The API", "The control API")."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

CALLBACK = "http://127.0.0.1:8000/partners/tiktok/callback/"


def consent_form(sandbox, *, decision: str, advertiser_ids: list[str], user_id=None, **overrides):
    form = {
        "app_id": sandbox.app_id,
        "redirect_uri": CALLBACK,
        "state": "st4te",
        "user_id": user_id or sandbox.owner_user_id,
        "advertiser_ids": advertiser_ids,
        "decision": decision,
        **overrides,
    }
    return requests.post(sandbox.base_url + "/portal/auth", data=form, allow_redirects=False)


def test_the_consent_page_names_the_app_permissions_and_ad_accounts(tiktok_sandbox):
    response = requests.get(tiktok_sandbox.consent_url(CALLBACK))

    assert response.status_code == 200
    page = response.text
    assert "Braze Sync" in page
    assert "Ad Account Management" in page
    assert "Audience Management" in page
    for advertiser_id in tiktok_sandbox.advertiser_ids:
        assert f'value="{advertiser_id}"' in page
    assert 'value="confirm"' in page and 'value="cancel"' in page


def test_an_unknown_app_id_gets_an_error_page_and_no_redirect(tiktok_sandbox):
    url = tiktok_sandbox.consent_url(CALLBACK).replace(tiktok_sandbox.app_id, "123")
    response = requests.get(url, allow_redirects=False)

    assert response.status_code == 400
    assert "does not exist" in response.text
    assert "Location" not in response.headers


def test_an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(tiktok_sandbox):
    response = requests.get(
        tiktok_sandbox.consent_url("https://evil.example/cb/"), allow_redirects=False
    )

    assert response.status_code == 400
    assert "not registered" in response.text
    assert "Location" not in response.headers


def test_another_port_on_localhost_is_not_registered_by_default(tiktok_sandbox):
    response = requests.get(
        tiktok_sandbox.consent_url("http://127.0.0.1:8001/partners/tiktok/callback/")
    )

    assert response.status_code == 400


def test_a_redirect_uri_added_through_the_control_api_is_accepted(tiktok_sandbox):
    uri = "http://127.0.0.1:45678/partners/tiktok/callback/"
    tiktok_sandbox.add_redirect_uri(uri)

    assert requests.get(tiktok_sandbox.consent_url(uri)).status_code == 200


def test_confirm_redirects_with_auth_code_code_and_state(tiktok_sandbox):
    chosen = tiktok_sandbox.advertiser_ids[:2]
    response = consent_form(tiktok_sandbox, decision="confirm", advertiser_ids=chosen)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["st4te"]
    assert query["auth_code"] == query["code"]
    exchanged = tiktok_sandbox.exchange(query["auth_code"][0])
    assert exchanged["code"] == 0
    assert exchanged["data"]["advertiser_ids"] == chosen
    assert exchanged["data"]["scope"] == [1, 3]
    assert len(exchanged["data"]["access_token"]) == 40


def test_cancel_redirects_with_an_error_and_the_same_state(tiktok_sandbox):
    response = consent_form(tiktok_sandbox, decision="cancel", advertiser_ids=[])

    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["state"] == ["st4te"]
    assert query["error"] == ["access_denied"]
    assert "auth_code" not in query and "code" not in query


def test_confirm_without_an_ad_account_stays_on_the_page(tiktok_sandbox):
    response = consent_form(tiktok_sandbox, decision="confirm", advertiser_ids=[])

    assert response.status_code == 400
    assert "Select at least one ad account" in response.text


def test_a_tampered_form_with_an_unregistered_redirect_uri_does_not_redirect(tiktok_sandbox):
    response = consent_form(
        tiktok_sandbox,
        decision="confirm",
        advertiser_ids=tiktok_sandbox.advertiser_ids,
        redirect_uri="https://evil.example/cb/",
    )

    assert response.status_code == 400
    assert "Location" not in response.headers


def test_the_second_user_authorizes_as_themselves(tiktok_sandbox):
    page = requests.get(
        tiktok_sandbox.consent_url(CALLBACK) + f"&user={tiktok_sandbox.agency_user_id}"
    )
    assert "Sam Okafor" in page.text

    response = consent_form(
        tiktok_sandbox,
        decision="confirm",
        advertiser_ids=tiktok_sandbox.advertiser_ids,
        user_id=tiktok_sandbox.agency_user_id,
    )
    code = parse_qs(urlsplit(response.headers["Location"]).query)["auth_code"][0]
    token = tiktok_sandbox.exchange(code)["data"]["access_token"]

    info = tiktok_sandbox.api_get("/user/info/", token)["data"]
    assert info["core_user_id"] == tiktok_sandbox.agency_user_id
    assert info["display_name"] == "Sam Okafor"
    assert info["email"].startswith("s***@")


def test_an_account_the_user_cannot_access_is_not_granted(tiktok_sandbox):
    # The owner has no access to the other Business Center's account.
    chosen = [tiktok_sandbox.advertiser_ids[0], tiktok_sandbox.other_bc_advertiser_id]
    response = consent_form(tiktok_sandbox, decision="confirm", advertiser_ids=chosen)
    code = parse_qs(urlsplit(response.headers["Location"]).query)["auth_code"][0]

    assert tiktok_sandbox.exchange(code)["data"]["advertiser_ids"] == chosen[:1]


def test_an_auth_code_works_once(tiktok_sandbox):
    code = tiktok_sandbox.issue_auth_code()

    assert tiktok_sandbox.exchange(code)["code"] == 0
    reused = tiktok_sandbox.exchange(code)
    assert reused["code"] == 40110
    assert reused["data"] == {}


def test_an_auth_code_expires_after_an_hour(tiktok_sandbox):
    fresh, stale = tiktok_sandbox.issue_auth_code(), tiktok_sandbox.issue_auth_code()

    tiktok_sandbox.set_clock_offset(3599)
    assert tiktok_sandbox.exchange(fresh)["code"] == 0
    tiktok_sandbox.set_clock_offset(3601)
    expired = tiktok_sandbox.exchange(stale)
    assert expired["code"] == 40110
    assert "expired" in expired["message"]


def test_an_unknown_auth_code_is_40110(tiktok_sandbox):
    assert tiktok_sandbox.exchange("0" * 40)["code"] == 40110


def test_a_wrong_secret_is_40101_and_does_not_use_up_the_code(tiktok_sandbox):
    code = tiktok_sandbox.issue_auth_code()
    body = {"app_id": tiktok_sandbox.app_id, "secret": "wrong", "auth_code": code}

    assert tiktok_sandbox.api_post("/oauth2/access_token/", body)["code"] == 40101
    assert tiktok_sandbox.exchange(code)["code"] == 0


def test_another_app_id_is_40113(tiktok_sandbox):
    code = tiktok_sandbox.issue_auth_code()
    body = {"app_id": "7999999999999999999", "secret": tiktok_sandbox.app_secret, "auth_code": code}

    assert tiktok_sandbox.api_post("/oauth2/access_token/", body)["code"] == 40113


def test_missing_exchange_fields_are_40002(tiktok_sandbox):
    for missing in ("app_id", "secret", "auth_code"):
        body = {
            "app_id": tiktok_sandbox.app_id,
            "secret": tiktok_sandbox.app_secret,
            "auth_code": "x",
        }
        del body[missing]
        answer = tiktok_sandbox.api_post("/oauth2/access_token/", body)

        assert answer["code"] == 40002, missing
        assert missing in answer["message"]


def test_tokens_do_not_expire(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    tiktok_sandbox.set_clock_offset(400 * 24 * 3600)

    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0


def test_revoke_token_invalidates_the_token(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    body = {
        "app_id": tiktok_sandbox.app_id,
        "secret": tiktok_sandbox.app_secret,
        "access_token": token,
    }

    answer = tiktok_sandbox.api_post("/oauth2/revoke_token/", body)
    assert answer["code"] == 0
    assert answer["data"] == {
        "app_id": tiktok_sandbox.app_id,
        "advertiser_ids": tiktok_sandbox.advertiser_ids,
    }
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 40105
    assert tiktok_sandbox.api_post("/oauth2/revoke_token/", body)["code"] == 40105


def test_revoke_token_needs_the_right_secret(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    body = {"app_id": tiktok_sandbox.app_id, "secret": "nope", "access_token": token}

    assert tiktok_sandbox.api_post("/oauth2/revoke_token/", body)["code"] == 40101
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0


def test_business_center_revoke_makes_every_call_40105(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    other = tiktok_sandbox.connect(user_id=tiktok_sandbox.agency_user_id)

    tiktok_sandbox.revoke(token)

    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 40105
    assert tiktok_sandbox.api_get("/user/info/", other)["code"] == 0


def test_advertiser_get_lists_the_authorized_accounts_with_names(tiktok_sandbox):
    token = tiktok_sandbox.connect(advertiser_ids=tiktok_sandbox.advertiser_ids[:2])
    answer = tiktok_sandbox.api_get(
        "/oauth2/advertiser/get/",
        token,
        app_id=tiktok_sandbox.app_id,
        secret=tiktok_sandbox.app_secret,
    )

    assert answer["code"] == 0
    listed = answer["data"]["list"]
    assert [a["advertiser_id"] for a in listed] == tiktok_sandbox.advertiser_ids[:2]
    assert all(a["advertiser_name"] for a in listed)


def test_advertiser_get_checks_app_id_and_secret(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    app = tiktok_sandbox.app_id

    assert (
        tiktok_sandbox.api_get("/oauth2/advertiser/get/", token, app_id=app, secret="x")["code"]
        == 40101
    )
    assert tiktok_sandbox.api_get("/oauth2/advertiser/get/", token, app_id=app)["code"] == 40002


def test_a_removed_advertiser_disappears_from_advertiser_get(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    removed = tiktok_sandbox.advertiser_ids[1]
    tiktok_sandbox.remove_advertiser(removed, token)

    listed = tiktok_sandbox.api_get(
        "/oauth2/advertiser/get/",
        token,
        app_id=tiktok_sandbox.app_id,
        secret=tiktok_sandbox.app_secret,
    )["data"]["list"]
    assert removed not in [a["advertiser_id"] for a in listed]
    assert len(listed) == len(tiktok_sandbox.advertiser_ids) - 1


def test_return_advertiser_ids_false_leaves_the_list_out(tiktok_sandbox):
    body = {
        "app_id": tiktok_sandbox.app_id,
        "secret": tiktok_sandbox.app_secret,
        "auth_code": tiktok_sandbox.issue_auth_code(),
        "return_advertiser_ids": False,
    }
    data = tiktok_sandbox.api_post("/oauth2/access_token/", body)["data"]

    assert data["advertiser_ids"] == []
    assert tiktok_sandbox.api_get("/user/info/", data["access_token"])["code"] == 0
