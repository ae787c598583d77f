"""The control API under /_sandbox/ (docs/SANDBOX.md)."""

from __future__ import annotations

import requests


def test_health_and_config(tiktok_sandbox):
    assert tiktok_sandbox.control("GET", "/health") == {"ok": True, "app_id": tiktok_sandbox.app_id}
    config = tiktok_sandbox.control("GET", "/config")
    assert config["qps_limit"] == 50
    assert config["max_rows_per_request"] == 10_000
    assert config["audience_cap"] == 400
    assert config["size_threshold"] == 1_000
    assert tiktok_sandbox.app_secret not in str(config)


def test_the_seed_has_a_business_center_three_ad_accounts_and_two_users(tiktok_sandbox):
    seed = tiktok_sandbox.seed
    owner_bc = seed["business_centers"][0]["bc_id"]
    accounts = [a for a in seed["ad_accounts"] if a["bc_id"] == owner_bc]

    assert len(accounts) >= 3
    assert len({(a["currency"], a["timezone"]) for a in accounts}) == len(accounts)
    owner, agency = seed["users"]
    assert seed["business_centers"][0]["owner_user_id"] == owner["user_id"]
    assert set(owner["advertiser_ids"]) <= set(agency["advertiser_ids"])


def test_tokens_lists_and_revokes_all(tiktok_sandbox):
    first = tiktok_sandbox.connect()
    second = tiktok_sandbox.connect(user_id=tiktok_sandbox.agency_user_id)
    listed = tiktok_sandbox.control("GET", "/tokens")["tokens"]
    assert [t["access_token"] for t in listed] == [first, second]
    assert listed[1]["user_id"] == tiktok_sandbox.agency_user_id

    assert sorted(tiktok_sandbox.revoke()) == sorted([first, second])
    assert all(not t["active"] for t in tiktok_sandbox.control("GET", "/tokens")["tokens"])


def test_revoking_an_unknown_token_is_404(tiktok_sandbox):
    response = requests.post(
        tiktok_sandbox.base_url + "/_sandbox/tokens/revoke", json={"access_token": "nope"}
    )

    assert response.status_code == 404


def test_remove_advertiser_from_every_token_holding_it(tiktok_sandbox):
    first = tiktok_sandbox.connect()
    second = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[2]

    tiktok_sandbox.remove_advertiser(advertiser_id)

    for token in (first, second):
        answer = tiktok_sandbox.api_get("/advertiser/info/", token, advertiser_ids=[advertiser_id])
        assert answer["code"] == 40001
    listed = tiktok_sandbox.control("GET", "/tokens")["tokens"][0]
    assert listed["removed_advertiser_ids"] == [advertiser_id]


def test_audiences_and_members(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    first, second = tiktok_sandbox.advertiser_ids[:2]
    a = tiktok_sandbox.create_audience(token, first, "A")
    tiktok_sandbox.create_audience(token, second, "B")
    tiktok_sandbox.add_members(token, first, a, ["x@y.z"], ["+15551234567"])

    only_first = tiktok_sandbox.control("GET", "/audiences", advertiser_id=first)["audiences"]
    assert [x["audience_id"] for x in only_first] == [a]
    assert only_first[0]["counts"] == {"EMAIL_SHA256": 1, "PHONE_SHA256": 1}
    assert only_first[0]["size"] == 2
    counts_only = tiktok_sandbox.control("GET", f"/audiences/{a}/members", limit=0)
    assert counts_only["members"] == {} and counts_only["size"] == 2


def test_an_unknown_audience_is_404(tiktok_sandbox):
    response = requests.get(tiktok_sandbox.base_url + "/_sandbox/audiences/123/members")

    assert response.status_code == 404


def test_delete_audience(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)

    tiktok_sandbox.delete_audience(audience_id)

    assert tiktok_sandbox.audience(audience_id)["deleted"] is True
    assert tiktok_sandbox.audience(audience_id)["history"][0]["action"] == "remove"
    again = requests.post(f"{tiktok_sandbox.base_url}/_sandbox/audiences/{audience_id}/delete")
    assert again.status_code == 404


def test_redirect_uris_must_be_absolute_http_urls(tiktok_sandbox):
    response = requests.post(
        tiktok_sandbox.base_url + "/_sandbox/redirect_uris", json={"uri": "/relative"}
    )

    assert response.status_code == 400


def test_auth_codes_refuse_accounts_the_user_cannot_access(tiktok_sandbox):
    response = requests.post(
        tiktok_sandbox.base_url + "/_sandbox/auth_codes",
        json={"advertiser_ids": [tiktok_sandbox.other_bc_advertiser_id]},
    )

    assert response.status_code == 400


def test_clock_offset(tiktok_sandbox):
    before = tiktok_sandbox.control("GET", "/clock")["now"]
    tiktok_sandbox.advance_clock(100)
    tiktok_sandbox.advance_clock(20)

    clock = tiktok_sandbox.control("GET", "/clock")
    assert clock["offset_seconds"] == 120
    assert clock["now"] - before >= 120
    tiktok_sandbox.reset()
    assert tiktok_sandbox.control("GET", "/clock")["offset_seconds"] == 0


def test_stats_reset(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    tiktok_sandbox.api_get("/user/info/", token)
    assert tiktok_sandbox.stats()["requests"] >= 2

    tiktok_sandbox.control("POST", "/stats/reset")

    assert tiktok_sandbox.stats()["requests"] == 0
    assert tiktok_sandbox.requests() == []
