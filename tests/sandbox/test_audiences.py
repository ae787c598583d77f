"""Audiences: /segment/audience/ and /dmp/custom_audience/list|get|delete/
(docs/TIKTOK_API.md §5)."""

from __future__ import annotations


def test_create_returns_a_string_audience_id(tiktok_sandbox, token, advertiser_id):
    answer = tiktok_sandbox.api_post(
        "/segment/audience/",
        {"advertiser_id": advertiser_id, "action": "create", "custom_audience_name": "Cart"},
        token,
    )

    assert answer["code"] == 0
    assert answer["message"] == "OK"
    assert isinstance(answer["data"]["audience_id"], str)
    assert len(answer["data"]["audience_id"]) == 19


def test_create_is_the_default_action_and_names_may_repeat(tiktok_sandbox, token, advertiser_id):
    body = {"advertiser_id": advertiser_id, "custom_audience_name": "Same"}
    first = tiktok_sandbox.api_post("/segment/audience/", body, token)["data"]["audience_id"]
    second = tiktok_sandbox.api_post("/segment/audience/", body, token)["data"]["audience_id"]

    assert first != second


def test_names_over_70_characters_are_cut_to_67_and_an_ellipsis(
    tiktok_sandbox, token, advertiser_id
):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "x" * 71)
    details = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=[audience_id],
    )["data"]["list"][0]["audience_details"]

    assert details["name"] == "x" * 67 + "..."


def test_create_needs_a_name(tiktok_sandbox, token, advertiser_id):
    answer = tiktok_sandbox.api_post("/segment/audience/", {"advertiser_id": advertiser_id}, token)

    assert answer["code"] == 40002
    assert "custom_audience_name" in answer["message"]


def test_create_needs_an_advertiser_of_the_token(tiktok_sandbox):
    token = tiktok_sandbox.connect(advertiser_ids=tiktok_sandbox.advertiser_ids[:1])
    body = {"advertiser_id": tiktok_sandbox.advertiser_ids[1], "custom_audience_name": "A"}

    assert tiktok_sandbox.api_post("/segment/audience/", body, token)["code"] == 40001


def test_an_unknown_action_is_40002(tiktok_sandbox, token, advertiser_id):
    body = {"advertiser_id": advertiser_id, "action": "rename", "custom_audience_name": "A"}

    assert tiktok_sandbox.api_post("/segment/audience/", body, token)["code"] == 40002


def test_an_ad_account_holds_at_most_400_audiences(tiktok_sandbox, token, advertiser_id):
    for n in range(400):
        tiktok_sandbox.create_audience(token, advertiser_id, f"A{n}")

    body = {"advertiser_id": advertiser_id, "custom_audience_name": "one too many"}
    refused = tiktok_sandbox.api_post("/segment/audience/", body, token)
    assert refused["code"] == 40002
    assert "400" in refused["message"]
    # Another account is not affected, and deleting one frees a place.
    other = {"advertiser_id": tiktok_sandbox.advertiser_ids[1], "custom_audience_name": "B"}
    assert tiktok_sandbox.api_post("/segment/audience/", other, token)["code"] == 0
    first = tiktok_sandbox.api_get("/dmp/custom_audience/list/", token, advertiser_id=advertiser_id)
    tiktok_sandbox.delete_audience(first["data"]["list"][0]["audience_id"])
    assert tiktok_sandbox.api_post("/segment/audience/", body, token)["code"] == 0


def test_get_shows_a_new_partner_audience_as_not_yet_valid(tiktok_sandbox, token, advertiser_id):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "New")
    answer = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=[audience_id],
    )

    assert answer["code"] == 0
    entry = answer["data"]["list"][0]
    details = entry["audience_details"]
    assert details["audience_id"] == audience_id
    assert details["type"] == details["audience_type"] == "Partner"
    assert details["calculate_type"] == "MULTIPLE_TYPES"
    assert details["cover_num"] == 0
    assert details["is_valid"] is False
    assert details["is_creator"] is True and details["shared"] is False
    assert details["owner_id"] == advertiser_id
    assert entry["audience_history"][0]["action"] == "create"
    assert entry["audience_history"][0]["editor"] == "open_api"


def test_get_of_an_unknown_audience_is_40007(tiktok_sandbox, token, advertiser_id):
    answer = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=["7250000000000999999"],
    )

    assert answer["code"] == 40007


def test_get_of_another_accounts_audience_is_40001(tiktok_sandbox, token):
    first, second = tiktok_sandbox.advertiser_ids[:2]
    audience_id = tiktok_sandbox.create_audience(token, second)
    answer = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/", token, advertiser_id=first, custom_audience_ids=[audience_id]
    )

    assert answer["code"] == 40001


def test_get_requires_custom_audience_ids(tiktok_sandbox, token, advertiser_id):
    answer = tiktok_sandbox.api_get("/dmp/custom_audience/get/", token, advertiser_id=advertiser_id)

    assert answer["code"] == 40002


def test_list_pages_through_the_accounts_audiences(tiktok_sandbox, token, advertiser_id):
    created = [tiktok_sandbox.create_audience(token, advertiser_id, f"A{n}") for n in range(25)]
    tiktok_sandbox.create_audience(token, tiktok_sandbox.advertiser_ids[1], "elsewhere")

    seen = []
    for page in (1, 2, 3):
        data = tiktok_sandbox.api_get(
            "/dmp/custom_audience/list/",
            token,
            advertiser_id=advertiser_id,
            page=page,
            page_size=10,
        )["data"]
        assert data["page_info"] == {
            "page": page,
            "page_size": 10,
            "total_number": 25,
            "total_page": 3,
        }
        seen += [a["audience_id"] for a in data["list"]]
    assert seen == created


def test_list_defaults_to_ten_per_page_and_caps_page_size_at_100(
    tiktok_sandbox, token, advertiser_id
):
    for n in range(12):
        tiktok_sandbox.create_audience(token, advertiser_id, f"A{n}")

    data = tiktok_sandbox.api_get("/dmp/custom_audience/list/", token, advertiser_id=advertiser_id)
    assert len(data["data"]["list"]) == 10
    too_big = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/", token, advertiser_id=advertiser_id, page_size=101
    )
    assert too_big["code"] == 40002


def test_list_can_filter_by_audience_ids(tiktok_sandbox, token, advertiser_id):
    ids = [tiktok_sandbox.create_audience(token, advertiser_id, f"A{n}") for n in range(3)]
    data = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=[ids[2], ids[0]],
    )["data"]

    assert sorted(a["audience_id"] for a in data["list"]) == sorted([ids[0], ids[2]])


def test_list_of_an_account_the_token_lacks_is_40001(tiktok_sandbox):
    token = tiktok_sandbox.connect(advertiser_ids=tiktok_sandbox.advertiser_ids[:1])
    answer = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/", token, advertiser_id=tiktok_sandbox.advertiser_ids[2]
    )

    assert answer["code"] == 40001


def test_dmp_delete_removes_audiences(tiktok_sandbox, token, advertiser_id):
    keep, drop = (tiktok_sandbox.create_audience(token, advertiser_id, n) for n in ("k", "d"))
    answer = tiktok_sandbox.api_post(
        "/dmp/custom_audience/delete/",
        {"advertiser_id": advertiser_id, "custom_audience_ids": [drop]},
        token,
    )

    assert answer["code"] == 0
    listed = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/", token, advertiser_id=advertiser_id
    )
    assert [a["audience_id"] for a in listed["data"]["list"]] == [keep]
    gone = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/", token, advertiser_id=advertiser_id, custom_audience_ids=[drop]
    )
    assert gone["code"] == 40007
    again = tiktok_sandbox.api_post(
        "/dmp/custom_audience/delete/",
        {"advertiser_id": advertiser_id, "custom_audience_ids": [drop]},
        token,
    )
    assert again["code"] == 40007


def test_dmp_delete_is_all_or_nothing(tiktok_sandbox, token, advertiser_id):
    mine = tiktok_sandbox.create_audience(token, advertiser_id)
    answer = tiktok_sandbox.api_post(
        "/dmp/custom_audience/delete/",
        {"advertiser_id": advertiser_id, "custom_audience_ids": [mine, "7250000000000999999"]},
        token,
    )

    assert answer["code"] == 40007
    assert tiktok_sandbox.audience(mine)["deleted"] is False


def test_segment_audience_delete(tiktok_sandbox, token, advertiser_id):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)
    body = {"advertiser_id": advertiser_id, "action": "delete", "delete_audience_id": audience_id}

    assert tiktok_sandbox.api_post("/segment/audience/", body, token) == {
        "code": 0,
        "message": "OK",
        "request_id": tiktok_sandbox.requests("/segment/audience/")[0]["request_id"],
        "data": {"audience_id": audience_id},
    }
    assert tiktok_sandbox.api_post("/segment/audience/", body, token)["code"] == 40007


def test_segment_audience_delete_of_another_accounts_audience_is_40001(tiktok_sandbox, token):
    first, second = tiktok_sandbox.advertiser_ids[:2]
    audience_id = tiktok_sandbox.create_audience(token, second)
    body = {"advertiser_id": first, "action": "delete", "delete_audience_id": audience_id}

    assert tiktok_sandbox.api_post("/segment/audience/", body, token)["code"] == 40001
    assert tiktok_sandbox.audience(audience_id)["deleted"] is False


def test_cover_num_stays_zero_until_1000_distinct_ids(tiktok_sandbox, token, advertiser_id):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)

    def details():
        return tiktok_sandbox.api_get(
            "/dmp/custom_audience/get/",
            token,
            advertiser_id=advertiser_id,
            custom_audience_ids=[audience_id],
        )["data"]["list"][0]["audience_details"]

    emails = [f"user{n}@example.com" for n in range(999)]
    assert tiktok_sandbox.add_members(token, advertiser_id, audience_id, emails)["code"] == 0
    # Sending the same users again does not make them more.
    assert tiktok_sandbox.add_members(token, advertiser_id, audience_id, emails)["code"] == 0
    assert details()["cover_num"] == 0
    assert details()["is_valid"] is False
    assert tiktok_sandbox.audience(audience_id)["size"] == 999

    tiktok_sandbox.add_members(token, advertiser_id, audience_id, ["one-more@example.com"])
    assert details()["cover_num"] == 1000
    assert details()["is_valid"] is True
    listed = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/", token, advertiser_id=advertiser_id
    )
    assert listed["data"]["list"][0]["cover_num"] == 1000


def test_history_records_batches_newest_first(tiktok_sandbox, token, advertiser_id):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)
    added = tiktok_sandbox.add_members(token, advertiser_id, audience_id, ["a@x.io", "b@x.io"])
    removed = tiktok_sandbox.add_members(
        token, advertiser_id, audience_id, ["a@x.io"], action="delete"
    )

    history = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=[audience_id],
        history_size=2,
    )["data"]["list"][0]["audience_history"]
    assert [h["action"] for h in history] == ["delete", "add"]
    assert history[1]["action_detail"] == "EMAIL_SHA256: 2"
    sandbox_history = tiktok_sandbox.audience(audience_id)["history"]
    assert [h["request_id"] for h in sandbox_history[:2]] == [
        removed["request_id"],
        added["request_id"],
    ]
    assert sandbox_history[1]["counts"] == {"EMAIL_SHA256": 2}
    assert sandbox_history[1]["rows"] == 2
