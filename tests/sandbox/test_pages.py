"""The person-facing pages over plain HTTP: Ads Manager, Business Center, fault panel, request
log. (The consent page's round trips in a real browser are in test_browser.py.)"""

from __future__ import annotations

import re

import requests


def page(sandbox, path, **kwargs):
    response = requests.get(sandbox.base_url + path, **kwargs)
    assert response.status_code == 200, response.text
    return response.text


def row_of(html: str, audience_id: str) -> str:
    match = re.search(rf'<tr data-audience-id="{audience_id}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {audience_id}"
    return match.group(1)


def test_the_home_page_links_every_area(tiktok_sandbox):
    html = page(tiktok_sandbox, "/")

    for link in ("/bc/authorizations/", "/sandbox/faults/", "/sandbox/requests/", "/ads/"):
        assert f'href="{link}' in html


def test_audiences_show_a_size_only_from_the_threshold(tiktok_sandbox, token, advertiser_id):
    small = tiktok_sandbox.create_audience(token, advertiser_id, "Small")
    big = tiktok_sandbox.create_audience(token, advertiser_id, "Big")
    tiktok_sandbox.add_members(token, advertiser_id, small, [f"s{n}@x.io" for n in range(999)])
    tiktok_sandbox.add_members(token, advertiser_id, big, [f"b{n}@x.io" for n in range(1234)])

    html = page(tiktok_sandbox, f"/ads/{advertiser_id}/audiences/")

    assert "< 1,000" in row_of(html, small).replace("&lt;", "<")
    assert "Populating" in row_of(html, small)
    assert "999" not in row_of(html, small)
    assert "1,234" in row_of(html, big)
    assert "Ready" in row_of(html, big)
    assert "Partner" in row_of(html, big)


def test_ads_manager_lists_only_that_accounts_audiences(tiktok_sandbox, token):
    first, second = tiktok_sandbox.advertiser_ids[:2]
    mine = tiktok_sandbox.create_audience(token, first, "Mine")
    theirs = tiktok_sandbox.create_audience(token, second, "Theirs")

    html = page(tiktok_sandbox, f"/ads/{first}/audiences/")
    assert mine in html and theirs not in html


def test_the_audience_detail_shows_history_with_counts_and_request_ids(
    tiktok_sandbox, token, advertiser_id
):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "Detail")
    added = tiktok_sandbox.add_members(
        token, advertiser_id, audience_id, ["a@x.io", "b@x.io"], ["+1555"]
    )

    html = page(tiktok_sandbox, f"/ads/{advertiser_id}/audiences/{audience_id}/")

    assert "Detail" in html
    assert added["request_id"] in html
    assert "EMAIL_SHA256 2" in html and "PHONE_SHA256 1" in html
    assert "create" in html


def test_an_unknown_ad_account_or_audience_page_is_404(tiktok_sandbox, advertiser_id):
    assert requests.get(tiktok_sandbox.base_url + "/ads/123/audiences/").status_code == 404
    missing = f"/ads/{advertiser_id}/audiences/7250000000000999999/"
    assert requests.get(tiktok_sandbox.base_url + missing).status_code == 404


def test_business_center_remove_access_for_a_whole_token(tiktok_sandbox, token):
    html = page(tiktok_sandbox, "/bc/authorizations/")
    assert "Dana Reyes" in html and "Active" in html

    response = requests.post(
        tiktok_sandbox.base_url + "/bc/authorizations/remove/",
        data={"token": token},
        allow_redirects=False,
    )

    assert response.status_code == 303
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 40105
    assert "Revoked" in page(tiktok_sandbox, "/bc/authorizations/")


def test_business_center_remove_access_for_one_ad_account(tiktok_sandbox, token, advertiser_id):
    requests.post(
        tiktok_sandbox.base_url + "/bc/authorizations/remove/",
        data={"token": token, "advertiser_id": advertiser_id},
    )

    info = tiktok_sandbox.api_get("/advertiser/info/", token, advertiser_ids=[advertiser_id])
    assert info["code"] == 40001
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0


def test_business_center_delete_audience(tiktok_sandbox, token, advertiser_id):
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "Doomed")
    assert "Doomed" in page(tiktok_sandbox, "/bc/assets/")

    requests.post(
        tiktok_sandbox.base_url + "/bc/assets/delete_audience/", data={"audience_id": audience_id}
    )

    gone = tiktok_sandbox.api_get(
        "/dmp/custom_audience/get/",
        token,
        advertiser_id=advertiser_id,
        custom_audience_ids=[audience_id],
    )
    assert gone["code"] == 40007
    assert "Doomed" not in page(tiktok_sandbox, "/bc/assets/")


def test_the_fault_panel_saves_settings(tiktok_sandbox):
    form = {
        "p_40100": "0",
        "p_50000": "0.25",
        "p_51001": "0",
        "p_http_502": "0",
        "p_http_504": "0",
        "p_timeout": "0",
        "latency_ms": "40",
        "timeout_seconds": "12",
        "audience_not_ready_seconds": "5",
        "qps_limit": "10",
        "endpoints": "/segment/mapping/, /segment/audience/",
        "script": "50000, none",
    }
    response = requests.post(
        tiktok_sandbox.base_url + "/sandbox/faults/", data=form, allow_redirects=False
    )

    assert response.status_code == 303
    faults = tiktok_sandbox.control("GET", "/faults")
    assert faults["probabilities"]["50000"] == 0.25
    assert faults["latency_ms"] == 40
    assert faults["qps_limit"] == 10
    assert faults["endpoints"] == ["/segment/mapping/", "/segment/audience/"]
    assert faults["script"] == ["50000", "none"]
    assert 'value="10"' in page(tiktok_sandbox, "/sandbox/faults/")


def test_the_fault_panel_shows_errors(tiktok_sandbox):
    response = requests.post(tiktok_sandbox.base_url + "/sandbox/faults/", data={"p_50000": "7"})

    assert response.status_code == 400
    assert "between 0 and 1" in response.text


def test_the_request_log_page_lists_requests_and_the_max_qps(tiktok_sandbox, token):
    answer = tiktok_sandbox.api_get("/user/info/", token)
    html = page(tiktok_sandbox, "/sandbox/requests/")

    assert answer["request_id"] in html
    assert "/user/info/" in html
    assert "max /segment/mapping/ requests in any second" in html


def test_cross_site_form_posts_are_refused(tiktok_sandbox, token):
    response = requests.post(
        tiktok_sandbox.base_url + "/bc/authorizations/remove/",
        data={"token": token},
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 0
