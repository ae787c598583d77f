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
