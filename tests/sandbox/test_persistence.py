"""State survives a restart of the sandbox process; a reset does not."""

from __future__ import annotations

from tests.sandbox.helpers import cell, mapping_body, sha256_hex


def test_tokens_audiences_members_and_history_survive_a_restart(
    tiktok_sandbox, tiktok_sandbox_server
):
    token = tiktok_sandbox.connect()
    revoked = tiktok_sandbox.connect(user_id=tiktok_sandbox.agency_user_id)
    tiktok_sandbox.revoke(revoked)
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "Kept")
    rows = [[cell(f"u{n}@x.io", audience_id), cell(f"+1{n:09d}", audience_id)] for n in range(1200)]
    tiktok_sandbox.api_post("/segment/mapping/", mapping_body(advertiser_id, rows), token)
    removed = [[cell("u7@x.io", audience_id), {}]]
    tiktok_sandbox.api_post(
        "/segment/mapping/", mapping_body(advertiser_id, removed, action="delete"), token
    )
    unused_code = tiktok_sandbox.issue_auth_code()
    tiktok_sandbox.set_faults(qps_limit=7)
    before = tiktok_sandbox.members(audience_id)

    tiktok_sandbox_server.restart()

    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0
    assert tiktok_sandbox.api_get("/user/info/", revoked)["code"] == 40105
    assert tiktok_sandbox.members(audience_id) == before
    assert sha256_hex("u7@x.io") not in before["EMAIL_SHA256"]
    assert tiktok_sandbox.audience(audience_id)["counts"] == {
        "EMAIL_SHA256": 1199,
        "PHONE_SHA256": 1200,
    }
    details = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=[audience_id],
    )["data"]["list"][0]
    assert details["audience_details"]["cover_num"] == 2399
    assert [h["action"] for h in details["audience_history"]] == ["delete", "add", "create"]
    assert tiktok_sandbox.exchange(unused_code)["code"] == 0
    assert tiktok_sandbox.control("GET", "/faults")["qps_limit"] == 7


def test_a_second_restart_after_compaction_keeps_the_same_members(
    tiktok_sandbox, tiktok_sandbox_server
):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)
    for batch in range(5):
        rows = [[cell(f"b{batch}-{n}@x.io", audience_id), {}] for n in range(100)]
        tiktok_sandbox.api_post("/segment/mapping/", mapping_body(advertiser_id, rows), token)
    before = tiktok_sandbox.members(audience_id)

    tiktok_sandbox_server.restart()
    more = [[cell("late@x.io", audience_id), {}]]
    tiktok_sandbox.api_post("/segment/mapping/", mapping_body(advertiser_id, more), token)
    tiktok_sandbox_server.restart()

    after = tiktok_sandbox.members(audience_id)
    assert after["EMAIL_SHA256"] == sorted([*before["EMAIL_SHA256"], sha256_hex("late@x.io")])


def test_a_deleted_audience_stays_deleted_after_a_restart(tiktok_sandbox, tiktok_sandbox_server):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)
    tiktok_sandbox.add_members(token, advertiser_id, audience_id, ["a@x.io"])
    tiktok_sandbox.delete_audience(audience_id)

    tiktok_sandbox_server.restart()

    audience = tiktok_sandbox.audience(audience_id)
    assert audience["deleted"] is True
    assert audience["size"] == 0


def test_reset_forgets_everything_but_never_reuses_audience_ids(
    tiktok_sandbox, tiktok_sandbox_server
):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    old = tiktok_sandbox.create_audience(token, advertiser_id)
    tiktok_sandbox.add_members(token, advertiser_id, old, ["a@x.io"])
    tiktok_sandbox.set_faults(qps_limit=3)

    tiktok_sandbox.reset()
    tiktok_sandbox_server.restart()

    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 40105
    assert tiktok_sandbox.control("GET", "/audiences")["audiences"] == []
    assert tiktok_sandbox.control("GET", "/faults")["qps_limit"] is None
    fresh = tiktok_sandbox.connect()
    new = tiktok_sandbox.create_audience(fresh, advertiser_id)
    assert int(new) > int(old)
    assert tiktok_sandbox.members(new) == {}
