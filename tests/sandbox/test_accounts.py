"""/advertiser/info/ and /user/info/ (docs/TIKTOK_API.md §2.6, §2.7)."""

from __future__ import annotations

import requests


def test_advertiser_info_describes_each_requested_account(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    answer = tiktok_sandbox.api_get(
        "/advertiser/info/", token, advertiser_ids=tiktok_sandbox.advertiser_ids
    )

    assert answer["code"] == 0
    accounts = answer["data"]["list"]
    assert [a["advertiser_id"] for a in accounts] == tiktok_sandbox.advertiser_ids
    first = accounts[0]
    assert first["name"] and first["currency"] and first["timezone"]
    assert first["status"] == "STATUS_ENABLE"
    assert isinstance(first["create_time"], int)
    assert "***" in first["email"]
    # Three accounts with different currencies and time zones in the seed.
    assert len({a["currency"] for a in accounts}) == 3
    assert len({a["timezone"] for a in accounts}) == 3


def test_advertiser_info_returns_only_the_requested_fields(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    answer = tiktok_sandbox.api_get(
        "/advertiser/info/",
        token,
        advertiser_ids=tiktok_sandbox.advertiser_ids[:1],
        fields=["name", "currency"],
    )

    assert answer["data"]["list"] == [
        {
            "advertiser_id": tiktok_sandbox.advertiser_ids[0],
            "name": "Northwind US",
            "currency": "USD",
        }
    ]


def test_advertiser_info_rejects_an_unknown_field(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    answer = tiktok_sandbox.api_get(
        "/advertiser/info/", token, advertiser_ids=tiktok_sandbox.advertiser_ids, fields=["nope"]
    )

    assert answer["code"] == 40002


def test_advertiser_info_for_an_account_the_token_lacks_is_40001(tiktok_sandbox):
    token = tiktok_sandbox.connect(advertiser_ids=tiktok_sandbox.advertiser_ids[:1])
    answer = tiktok_sandbox.api_get(
        "/advertiser/info/", token, advertiser_ids=tiktok_sandbox.advertiser_ids[1:2]
    )

    assert answer["code"] == 40001
    assert tiktok_sandbox.advertiser_ids[1] in answer["message"]


def test_array_query_params_must_be_json_encoded_string_arrays(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    url = tiktok_sandbox.api_base + "/advertiser/info/"
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    headers = {"Access-Token": token}

    for raw in (advertiser_id, f"[{advertiser_id}]", "[]", "{}"):
        body = requests.get(url, params={"advertiser_ids": raw}, headers=headers).json()
        assert body["code"] == 40002, raw
    good = requests.get(url, params={"advertiser_ids": f'["{advertiser_id}"]'}, headers=headers)
    assert good.json()["code"] == 0


def test_advertiser_info_requires_advertiser_ids(tiktok_sandbox):
    token = tiktok_sandbox.connect()

    answer = tiktok_sandbox.api_get("/advertiser/info/", token)
    assert answer["code"] == 40002
    assert "advertiser_ids" in answer["message"]


def test_user_info_describes_the_token_owner(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    data = tiktok_sandbox.api_get("/user/info/", token)["data"]

    assert data["core_user_id"] == tiktok_sandbox.owner_user_id
    assert data["display_name"] == "Dana Reyes"
    assert data["email"] == "d***@northwind.example"
    assert isinstance(data["create_time"], int)
    # The avatar is served by the sandbox itself: nothing reaches the internet.
    assert data["avatar_url"].startswith(tiktok_sandbox.base_url)
    assert requests.get(data["avatar_url"]).status_code == 200
