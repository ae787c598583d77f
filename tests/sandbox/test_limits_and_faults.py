"""The QPS limit on /segment/mapping/, fault injection, and the request log (docs/TIKTOK_API.md
§4; docs/SANDBOX.md "Limits", "Fault injection")."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.sandbox.helpers import cell, mapping_body


@pytest.fixture
def small_body(advertiser_id, audience_id):
    return mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])


def burst(sandbox, token, body, count):
    """`count` mapping requests inside one second of the sandbox clock, or None if a second
    boundary fell inside the burst (request IDs start with the second they were handled in)."""
    time.sleep(1.02 - time.time() % 1)  # start just after a second boundary
    answers = [sandbox.api_post("/segment/mapping/", body, token) for _ in range(count)]
    seconds = {answer["request_id"][:14] for answer in answers}
    return answers if len(seconds) == 1 else None


def burst_in_one_second(sandbox, token, body, count):
    for _ in range(5):
        answers = burst(sandbox, token, body, count)
        if answers is not None:
            return answers
        sandbox.control("POST", "/stats/reset")
    pytest.fail(f"could not send {count} requests within one second")


def test_the_51st_mapping_request_in_a_second_is_40100(tiktok_sandbox, token, small_body):
    answers = burst_in_one_second(tiktok_sandbox, token, small_body, 52)

    assert [a["code"] for a in answers[:50]] == [0] * 50
    assert [a["code"] for a in answers[50:]] == [40100, 40100]
    app = tiktok_sandbox.app_id
    assert answers[50]["message"] == f"App {app} reaches the QPS limit 50, current QPS is 51."
    assert answers[51]["message"] == f"App {app} reaches the QPS limit 50, current QPS is 52."
    assert tiktok_sandbox.stats()["mapping"]["max_requests_in_any_second"] >= 52


def test_the_qps_limit_is_adjustable_like_the_basic_tier(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(qps_limit=10)
    answers = burst_in_one_second(tiktok_sandbox, token, small_body, 12)

    assert [a["code"] for a in answers] == [0] * 10 + [40100] * 2
    assert "QPS limit 10, current QPS is 11." in answers[10]["message"]


def test_the_limit_counts_per_second_and_only_mapping(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(qps_limit=2)
    first = burst_in_one_second(tiktok_sandbox, token, small_body, 3)
    assert [a["code"] for a in first] == [0, 0, 40100]
    # Other endpoints are not counted.
    assert all(tiktok_sandbox.api_get("/user/info/", token)["code"] == 0 for _ in range(5))
    second = burst_in_one_second(tiktok_sandbox, token, small_body, 2)
    assert [a["code"] for a in second] == [0, 0]


def test_a_rate_limited_request_changes_nothing(tiktok_sandbox, token, advertiser_id, audience_id):
    tiktok_sandbox.set_faults(qps_limit=1)
    first = mapping_body(advertiser_id, [[cell("first@x.io", audience_id), {}]])
    second = mapping_body(advertiser_id, [[cell("second@x.io", audience_id), {}]])
    for _ in range(5):
        time.sleep(1.02 - time.time() % 1)
        answers = [tiktok_sandbox.api_post("/segment/mapping/", b, token) for b in (first, second)]
        if answers[0]["request_id"][:14] == answers[1]["request_id"][:14]:
            break
    assert [a["code"] for a in answers] == [0, 40100]
    assert tiktok_sandbox.audience(audience_id)["size"] == 1


@pytest.mark.parametrize(("fault", "code"), [("40100", 40100), ("50000", 50000), ("51001", 51001)])
def test_scripted_business_faults_answer_http_200_and_apply_nothing(
    tiktok_sandbox, token, small_body, audience_id, fault, code
):
    tiktok_sandbox.set_faults(script=[fault])

    failed = requests.post(
        tiktok_sandbox.api_base + "/segment/mapping/",
        json=small_body,
        headers={"Access-Token": token},
    )
    assert failed.status_code == 200
    assert failed.json()["code"] == code
    assert tiktok_sandbox.audience(audience_id)["size"] == 0
    # The script is used up: the retry goes through.
    assert tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["code"] == 0
    assert tiktok_sandbox.audience(audience_id)["size"] == 1


def test_an_injected_40100_uses_tiktoks_message(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(script=["40100"])
    message = tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["message"]

    assert re.fullmatch(
        rf"App {tiktok_sandbox.app_id} reaches the QPS limit 50, current QPS is \d+\.", message
    )


@pytest.mark.parametrize(("fault", "status"), [("http_502", 502), ("http_504", 504)])
def test_gateway_faults_answer_http_5xx(
    tiktok_sandbox, token, small_body, audience_id, fault, status
):
    tiktok_sandbox.set_faults(script=[fault])
    response = requests.post(
        tiktok_sandbox.api_base + "/segment/mapping/",
        json=small_body,
        headers={"Access-Token": token},
    )

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert tiktok_sandbox.audience(audience_id)["size"] == 0


def test_a_timeout_applies_the_batch_then_holds_the_answer(
    tiktok_sandbox, token, small_body, audience_id
):
    tiktok_sandbox.set_faults(script=["timeout"], timeout_seconds=0.5)
    started = time.monotonic()
    response = requests.post(
        tiktok_sandbox.api_base + "/segment/mapping/",
        json=small_body,
        headers={"Access-Token": token},
    )

    assert time.monotonic() - started >= 0.5
    assert response.status_code == 504
    # Applied all the same: the client cannot know, so it must retry idempotently.
    assert tiktok_sandbox.audience(audience_id)["size"] == 1


def test_a_client_timeout_sees_no_answer(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(script=["timeout"], timeout_seconds=1)

    with pytest.raises(requests.Timeout):
        requests.post(
            tiktok_sandbox.api_base + "/segment/mapping/",
            json=small_body,
            headers={"Access-Token": token},
            timeout=0.3,
        )


def test_a_request_answered_after_a_reset_is_not_in_the_new_log(tiktok_sandbox, token, small_body):
    """The next test's reset starts a clean log even while an earlier request is held."""
    tiktok_sandbox.set_faults(script=["timeout"], timeout_seconds=1)
    with pytest.raises(requests.Timeout):
        requests.post(
            tiktok_sandbox.api_base + "/segment/mapping/",
            json=small_body,
            headers={"Access-Token": token},
            timeout=0.3,
        )

    tiktok_sandbox.control("POST", "/stats/reset")
    time.sleep(1.2)  # the held request answers now, after the reset

    assert tiktok_sandbox.requests("/segment/mapping/") == []
    assert tiktok_sandbox.stats()["by_endpoint"] == {}


def test_added_latency(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(latency_ms=300)
    started = time.monotonic()
    assert tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["code"] == 0

    assert time.monotonic() - started >= 0.3
    quick = time.monotonic()
    tiktok_sandbox.api_get("/user/info/", token)  # not in the faults' endpoints
    assert time.monotonic() - quick < 0.3


def test_probability_one_fails_every_request_and_zero_none(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(probabilities={"50000": 1.0})
    assert {
        tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["code"] for _ in range(5)
    } == {50000}
    tiktok_sandbox.set_faults(probabilities={"50000": 0.0})
    assert tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["code"] == 0


def test_probabilities_draw_roughly_that_share(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(probabilities={"51001": 0.5}, qps_limit=100_000)
    codes = [
        tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["code"] for _ in range(200)
    ]

    assert 60 <= codes.count(51001) <= 140
    assert set(codes) == {0, 51001}


def test_faults_can_target_every_endpoint(tiktok_sandbox, token):
    tiktok_sandbox.set_faults(endpoints=["*"], script=["50000"])

    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 50000
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0


def test_a_new_audience_can_be_not_ready_for_a_while(tiktok_sandbox, token, advertiser_id):
    tiktok_sandbox.set_faults(audience_not_ready_seconds=120)
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)
    body = mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])

    early = tiktok_sandbox.api_post("/segment/mapping/", body, token)
    assert early["code"] == 40002
    assert "being processed" in early["message"]
    tiktok_sandbox.advance_clock(121)
    assert tiktok_sandbox.api_post("/segment/mapping/", body, token)["code"] == 0


def test_clearing_faults_restores_normal_answers(tiktok_sandbox, token, small_body):
    tiktok_sandbox.set_faults(probabilities={"50000": 1.0}, latency_ms=50, qps_limit=3)
    cleared = tiktok_sandbox.clear_faults()

    assert cleared["probabilities"]["50000"] == 0.0
    assert cleared["qps_limit"] is None
    assert tiktok_sandbox.api_post("/segment/mapping/", small_body, token)["code"] == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"probabilities": {"50000": 1.5}},
        {"probabilities": {"99999": 0.1}},
        {"script": ["teapot"]},
        {"qps_limit": 0},
        {"endpoints": ["segment/mapping"]},
        {"latency_ms": -1},
        {"colour": "red"},
    ],
)
def test_invalid_fault_settings_are_refused(tiktok_sandbox, changes):
    response = requests.post(tiktok_sandbox.base_url + "/_sandbox/faults", json=changes)

    assert response.status_code == 400
    assert response.json()["error"]


def test_the_request_log_records_code_size_and_latency(tiktok_sandbox, token, small_body):
    answer = tiktok_sandbox.api_post("/segment/mapping/", small_body, token)
    tiktok_sandbox.set_faults(script=["50000"])
    failed = tiktok_sandbox.api_post("/segment/mapping/", small_body, token)

    log = {entry["request_id"]: entry for entry in tiktok_sandbox.requests("/segment/mapping/")}
    ok = log[answer["request_id"]]
    assert ok["code"] == 0 and ok["http_status"] == 200
    assert ok["rows"] == 1 and ok["ids"] == 1
    assert ok["bytes_in"] > 100
    assert ok["latency_ms"] > 0
    assert log[failed["request_id"]]["code"] == 50000
    assert log[failed["request_id"]]["fault"] == "50000"


def test_stats_count_requests_per_second(tiktok_sandbox, token, small_body):
    for _ in range(3):
        tiktok_sandbox.api_post("/segment/mapping/", small_body, token)

    mapping = tiktok_sandbox.stats()["mapping"]
    assert sum(s["requests"] for s in mapping["per_second"]) == 3
    assert mapping["max_requests_in_any_second"] >= 1
    assert mapping["rows"] == 3
    assert mapping["qps_limit"] == 50


# Malformed answers: HTTP 200, but not what TikTok's contract promises (docs/SANDBOX.md
# "Fault injection"). They test how far the product's client trusts TikTok.

BAD_ID_SUFFIX = '"],"x":["'


def raw_post(sandbox, path, body, token, **kwargs):
    return requests.post(
        sandbox.api_base + path, json=body, headers={"Access-Token": token}, timeout=30, **kwargs
    )


def raw_get(sandbox, path, token, **params):
    return requests.get(
        sandbox.api_base + path, params=params, headers={"Access-Token": token}, timeout=30
    )


def test_malformed_kinds_are_listed_and_accepted_like_any_fault(tiktok_sandbox):
    malformed = [
        "not_json", "data_not_object", "bad_ids", "long_strings", "endless_pages", "huge_body",
    ]  # fmt: skip

    faults = tiktok_sandbox.set_faults(
        probabilities={"huge_body": 0.5}, script=["not_json", "none", "endless_pages"]
    )

    assert faults["kinds"][-len(malformed) :] == malformed
    assert faults["probabilities"]["huge_body"] == 0.5
    assert faults["script"] == ["not_json", "none", "endless_pages"]
    panel = requests.get(tiktok_sandbox.base_url + "/sandbox/faults/", timeout=10).text
    assert 'name="p_not_json"' in panel and "Malformed: a 16 MiB answer" in panel


def test_not_json_cuts_the_answer_short_after_applying_the_request(
    tiktok_sandbox, token, small_body, audience_id
):
    tiktok_sandbox.set_faults(script=["not_json"])

    response = raw_post(tiktok_sandbox, "/segment/mapping/", small_body, token)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content.startswith(b'{"code":0')
    with pytest.raises(ValueError):
        response.json()
    # Handled as usual: the client cannot tell whether it landed.
    assert tiktok_sandbox.audience(audience_id)["size"] == 1
    assert tiktok_sandbox.requests("/segment/mapping/")[0]["fault"] == "not_json"


def test_data_not_object_says_ok_with_data_an_array(tiktok_sandbox, token):
    tiktok_sandbox.set_faults(endpoints=["/user/info/"], script=["data_not_object"])

    answer = tiktok_sandbox.api_get("/user/info/", token)

    assert answer["code"] == 0 and answer["message"] == "OK"
    assert isinstance(answer["data"], list)
    assert answer["data"][0]["core_user_id"] == tiktok_sandbox.owner_user_id


def test_bad_ids_answers_ids_that_are_not_digits(tiktok_sandbox, token, advertiser_id):
    tiktok_sandbox.set_faults(endpoints=["*"], script=["bad_ids", "bad_ids", "bad_ids"])
    body = {"advertiser_id": advertiser_id, "action": "create", "custom_audience_name": "Odd"}

    created = tiktok_sandbox.api_post("/segment/audience/", body, token)
    listed = tiktok_sandbox.api_get(
        "/oauth2/advertiser/get/", token, app_id=tiktok_sandbox.app_id,
        secret=tiktok_sandbox.app_secret,
    )  # fmt: skip
    exchanged = tiktok_sandbox.exchange(tiktok_sandbox.issue_auth_code())

    real_id = created["data"]["audience_id"].removesuffix(BAD_ID_SUFFIX)
    assert created["data"]["audience_id"] == real_id + BAD_ID_SUFFIX
    assert real_id.isdigit()
    # The audience was created all the same, under its real id.
    assert tiktok_sandbox.audience(real_id)["name"] == "Odd"
    assert {a["advertiser_id"] for a in listed["data"]["list"]} == {
        a + BAD_ID_SUFFIX for a in tiktok_sandbox.advertiser_ids
    }
    assert exchanged["code"] == 0
    assert exchanged["data"]["advertiser_ids"] == [
        a + BAD_ID_SUFFIX for a in tiktok_sandbox.advertiser_ids
    ]


def test_long_strings_stretches_names_currency_and_time_zone(tiktok_sandbox, token, advertiser_id):
    tiktok_sandbox.set_faults(endpoints=["*"], script=["long_strings", "long_strings"])

    info = tiktok_sandbox.api_get("/advertiser/info/", token, advertiser_ids=[advertiser_id])
    user = tiktok_sandbox.api_get("/user/info/", token)

    account = info["data"]["list"][0]
    for name in ("name", "currency", "timezone", "display_timezone"):
        assert len(account[name]) == 1000, name
    assert account["currency"].startswith("USD USD ")
    assert len(user["data"]["display_name"]) == 1000
    assert account["advertiser_id"] == advertiser_id  # ids are left alone


def test_endless_pages_promises_a_million_pages(tiktok_sandbox, token, advertiser_id, audience_id):
    tiktok_sandbox.set_faults(
        endpoints=["/dmp/custom_audience/list/"], probabilities={"endless_pages": 1.0}
    )

    first = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/", token, advertiser_id=advertiser_id, page=1, page_size=100
    )
    second = tiktok_sandbox.api_get(
        "/dmp/custom_audience/list/", token, advertiser_id=advertiser_id, page=2, page_size=100
    )

    assert [a["audience_id"] for a in first["data"]["list"]] == [audience_id]
    assert first["data"]["page_info"]["total_page"] == 1_000_000
    assert first["data"]["page_info"]["total_number"] == 100_000_000
    assert second["data"]["list"] == []
    assert second["data"]["page_info"]["total_page"] == 1_000_000


def test_huge_body_streams_16_mib_of_valid_json(tiktok_sandbox, token, small_body, audience_id):
    tiktok_sandbox.set_faults(script=["huge_body"])

    response = raw_post(tiktok_sandbox, "/segment/mapping/", small_body, token, stream=True)
    body = b"".join(response.iter_content(1 << 20))

    assert response.status_code == 200
    assert "Content-Length" not in response.headers  # streamed: no size announced
    assert body.startswith(b'{"code":0,"message":"OK"')
    assert len(body) == 16 * 1024 * 1024
    answer = requests.models.complexjson.loads(body)
    assert answer["code"] == 0 and len(answer["data"]["padding"]) > 16_000_000
    assert tiktok_sandbox.audience(audience_id)["size"] == 1


def test_a_malformed_fault_is_one_shot_in_a_script(tiktok_sandbox, token):
    tiktok_sandbox.set_faults(endpoints=["*"], script=["not_json"])

    assert raw_get(tiktok_sandbox, "/user/info/", token).content[-1:] != b"}"
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0
