"""The wire conventions every endpoint shares (docs/TIKTOK_API.md §1, §3.1; docs/SANDBOX.md
"The API")."""

from __future__ import annotations

import re

import requests

TOKEN_ENDPOINTS = [
    ("GET", "/oauth2/advertiser/get/"),
    ("GET", "/advertiser/info/"),
    ("GET", "/user/info/"),
    ("POST", "/segment/audience/"),
    ("POST", "/segment/mapping/"),
    ("GET", "/dmp/custom_audience/list/"),
    ("GET", "/dmp/custom_audience/get/"),
    ("POST", "/dmp/custom_audience/delete/"),
]


def test_a_path_without_its_trailing_slash_is_a_plain_404(tiktok_sandbox):
    response = requests.get(tiktok_sandbox.api_base + "/user/info", allow_redirects=False)

    assert response.status_code == 404
    assert response.text == "404 page not found"


def test_an_unknown_path_is_a_plain_404(tiktok_sandbox):
    response = requests.post(tiktok_sandbox.api_base + "/segment/nothing/", json={})

    assert response.status_code == 404
    assert response.text == "404 page not found"


def test_a_wrong_method_is_http_405(tiktok_sandbox):
    response = requests.get(tiktok_sandbox.api_base + "/segment/mapping/")

    assert response.status_code == 405


def test_every_token_endpoint_answers_40104_in_http_200_without_a_token(tiktok_sandbox):
    for method, path in TOKEN_ENDPOINTS:
        response = requests.request(method, tiktok_sandbox.api_base + path, json={})

        assert response.status_code == 200, path
        body = response.json()
        assert body["code"] == 40104, path
        assert "Access-Token" in body["message"]
        assert body["data"] == {}


def test_an_unknown_token_is_40105_everywhere(tiktok_sandbox):
    for method, path in TOKEN_ENDPOINTS:
        response = requests.request(
            method, tiktok_sandbox.api_base + path, json={}, headers={"Access-Token": "f" * 40}
        )

        assert response.json()["code"] == 40105, path


def test_the_envelope_has_code_message_request_id_and_data(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    response = requests.get(
        tiktok_sandbox.api_base + "/user/info/", headers={"Access-Token": token}
    )

    body = response.json()
    assert set(body) == {"code", "message", "request_id", "data"}
    assert body["code"] == 0
    assert body["message"] == "OK"
    # YYYYMMDDhhmmss then hex, like TikTok's; also sent as X-Tt-Logid.
    assert re.fullmatch(r"20\d{12}[0-9A-F]{10}", body["request_id"])
    assert response.headers["X-Tt-Logid"] == body["request_id"]
    assert response.headers["Content-Type"].startswith("application/json")


def test_request_ids_differ(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    ids = {tiktok_sandbox.api_get("/user/info/", token)["request_id"] for _ in range(5)}

    assert len(ids) == 5


def test_the_access_token_is_read_from_the_header_not_the_query(tiktok_sandbox):
    token = tiktok_sandbox.connect()
    response = requests.get(tiktok_sandbox.api_base + "/user/info/", params={"access_token": token})

    assert response.json()["code"] == 40104
