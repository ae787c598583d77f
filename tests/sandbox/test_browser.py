"""The sandbox's person-facing flows in Chromium: the consent page's Confirm and Cancel round
trips back to an app, Ads Manager's size display, Business Center and the fault panel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

CALLBACK_PATH = "/partners/tiktok/callback/"


class Receiver:
    """A stand-in for the product's OAuth callback: records each query it receives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlsplit(self.path)
                if url.path != CALLBACK_PATH:  # e.g. the browser's /favicon.ico
                    self.send_error(404)
                    return
                received.append(parse_qs(url.query))
                body = b"<html><body><h1>Callback received</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}{CALLBACK_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(tiktok_sandbox) -> Iterator[Receiver]:
    receiver = Receiver()
    tiktok_sandbox.add_redirect_uri(receiver.uri)
    yield receiver
    receiver.close()


def test_confirm_sends_the_person_back_with_a_working_auth_code(page, tiktok_sandbox, receiver):
    page.goto(tiktok_sandbox.consent_url(receiver.uri, state="round-trip-1"))

    assert "Braze Sync" in page.locator("h1").inner_text()
    assert page.get_by_text("Ad Account Management").is_visible()
    assert page.get_by_text("Audience Management", exact=True).is_visible()
    boxes = page.locator('input[name="advertiser_ids"]')
    assert boxes.count() == 3
    assert all(boxes.nth(i).is_checked() for i in range(3))
    page.get_by_label("Northwind Japan").uncheck()
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url(receiver.uri + "*")
    assert page.get_by_text("Callback received").is_visible()
    query = receiver.received[-1]
    assert query["state"] == ["round-trip-1"]
    assert query["auth_code"] == query["code"]
    exchanged = tiktok_sandbox.exchange(query["auth_code"][0])
    assert exchanged["data"]["advertiser_ids"] == tiktok_sandbox.advertiser_ids[:2]


def test_cancel_sends_the_person_back_with_an_error_and_the_state(page, tiktok_sandbox, receiver):
    page.goto(tiktok_sandbox.consent_url(receiver.uri, state="round-trip-2"))
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(receiver.uri + "*")
    query = receiver.received[-1]
    assert query["state"] == ["round-trip-2"]
    assert query["error"] == ["access_denied"]
    assert "auth_code" not in query
    assert tiktok_sandbox.control("GET", "/tokens")["tokens"] == []


def test_the_person_can_authorize_as_the_second_user(page, tiktok_sandbox, receiver):
    page.goto(tiktok_sandbox.consent_url(receiver.uri))
    page.get_by_role("link", name="Sam Okafor").click()

    assert page.get_by_test_id("signed-in-user").inner_text() == "Sam Okafor"
    # Sam also sees the other Business Center's account, not ticked by default.
    assert not page.get_by_label("Harbor Agency Sandbox DE").is_checked()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(receiver.uri + "*")

    token = tiktok_sandbox.exchange(receiver.received[-1]["auth_code"][0])["data"]["access_token"]
    assert tiktok_sandbox.api_get("/user/info/", token)["data"]["display_name"] == "Sam Okafor"


def test_an_unregistered_redirect_shows_an_error_and_stays(page, tiktok_sandbox):
    page.goto(tiktok_sandbox.consent_url("http://127.0.0.1:9/not/registered/"))

    assert page.get_by_role("alert").inner_text().endswith("is not registered for this app.")
    assert page.url.startswith(tiktok_sandbox.base_url)


def test_confirm_with_no_ad_account_asks_for_one(page, tiktok_sandbox, receiver):
    page.goto(tiktok_sandbox.consent_url(receiver.uri))
    for name in ("Northwind US", "Northwind UK", "Northwind Japan"):
        page.get_by_label(name).uncheck()
    page.get_by_role("button", name="Confirm").click()

    assert page.get_by_role("alert").inner_text() == "Select at least one ad account."
    assert receiver.received == []


def test_audiences_page_shows_a_size_only_past_the_threshold(page, tiktok_sandbox):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "Cart abandoners")
    emails = [f"user{n}@example.com" for n in range(999)]
    tiktok_sandbox.add_members(token, advertiser_id, audience_id, emails)

    page.goto(f"{tiktok_sandbox.base_url}/ads/{advertiser_id}/audiences/")
    row = page.locator(f'tr[data-audience-id="{audience_id}"]')
    assert row.locator("td.size").inner_text() == "< 1,000"
    assert "Populating" in row.inner_text()
    assert "Cart abandoners" in row.inner_text()

    tiktok_sandbox.add_members(token, advertiser_id, audience_id, ["one-more@example.com"])
    page.reload()
    row = page.locator(f'tr[data-audience-id="{audience_id}"]')
    assert row.locator("td.size").inner_text() == "1,000"
    assert "Ready" in row.inner_text()

    row.get_by_role("link", name="Cart abandoners").click()
    assert page.locator("dd.size").inner_text() == "1,000"
    assert page.get_by_text("EMAIL_SHA256 999").is_visible()


def test_business_center_remove_access_revokes_the_token(page, tiktok_sandbox):
    token = tiktok_sandbox.connect()
    page.goto(f"{tiktok_sandbox.base_url}/bc/authorizations/")
    page.locator("td > form").get_by_role("button", name="Remove access").click()

    assert page.get_by_text("Revoked").is_visible()
    assert tiktok_sandbox.api_get("/user/info/", token)["code"] == 40105


def test_deleting_an_audience_from_its_page(page, tiktok_sandbox):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id, "Short-lived")
    page.goto(f"{tiktok_sandbox.base_url}/ads/{advertiser_id}/audiences/{audience_id}/")
    page.get_by_role("button", name="Delete audience").click()

    page.wait_for_url(f"**/ads/{advertiser_id}/audiences/")
    assert page.locator(f'tr[data-audience-id="{audience_id}"]').count() == 0
    assert tiktok_sandbox.audience(audience_id)["deleted"] is True


def test_the_fault_panel_sets_a_fault_the_api_then_injects(page, tiktok_sandbox):
    token = tiktok_sandbox.connect()
    advertiser_id = tiktok_sandbox.advertiser_ids[0]
    audience_id = tiktok_sandbox.create_audience(token, advertiser_id)
    page.goto(f"{tiktok_sandbox.base_url}/sandbox/faults/")
    page.get_by_label("Code 50000 (system error)").fill("1")
    page.get_by_role("button", name="Save").click()

    answer = tiktok_sandbox.add_members(token, advertiser_id, audience_id, ["a@x.io"])
    assert answer["code"] == 50000
    page.goto(f"{tiktok_sandbox.base_url}/sandbox/requests/")
    assert page.get_by_text(answer["request_id"]).is_visible()
    page.goto(f"{tiktok_sandbox.base_url}/sandbox/faults/")
    page.get_by_role("button", name="Clear all faults").click()
    assert tiktok_sandbox.add_members(token, advertiser_id, audience_id, ["a@x.io"])["code"] == 0
