"""Audience > Import Users in Chromium: upload a CSV with bad rows, watch it finish (real Celery
worker, htmx polling), read the rejected rows, download the report, find an imported user."""

import re

import pytest
from playwright.sync_api import expect

from appgroups.models import Role
from tests.factories import AppGroupFactory, MembershipFactory
from tests.plugins.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "external_id,email,phone,first_name,idfa,ad_tracking_enabled,plan\n"  # line 1
    + "".join(f"u{i},user{i}@example.com,+1 650 253 {i:04d},User {i},,,gold\n" for i in range(300))
    + ",nobody@example.com,,,,,\n"  # line 302: no external id
    + "u-bad-country,x@example.com,,,,maybe,\n"  # line 303: bad ad_tracking_enabled
    + "u-short,only-two\n"  # line 304: wrong number of fields
    + "u-odd,not-an-email,,Odd,6D92078A-8246-4BA4-AE5B-76104861E7DC,true,\n"  # 305: kept
)


def test_marketer_imports_a_csv_and_reads_the_rejected_rows(
    live_server, page, celery_worker_process, tmp_path
):
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.MARKETER, user__email="mo@acme.test")
    sign_in(page, live_server, "mo@acme.test")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import Users").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/users/import/\d+/$"))

    # htmx swaps the panel until the worker is done; no reload needed.
    page.get_by_role("heading", name="Import finished").wait_for(timeout=60_000)
    expect(page.locator("#live-announcer")).to_contain_text("Import finished")
    assert page.get_by_test_id("import-percent").inner_text() == "100%"
    assert page.get_by_test_id("rows-imported").inner_text() == "301"
    assert page.get_by_test_id("rows-rejected").inner_text() == "3"
    rejected = page.get_by_role("table", name="Rejected rows")
    lines = rejected.locator("tbody tr td:first-child").all_inner_texts()
    assert lines == ["302", "303", "304", "305"]
    text = rejected.inner_text()
    assert "missing external_id" in text
    assert "ad_tracking_enabled must be true or false" in text
    assert "expected 7 fields, found 2" in text
    assert "not an email address" in text

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the report (CSV)").click()
    report = tmp_path / "report.csv"
    download_info.value.save_as(report)
    assert report.read_text().splitlines()[1] == "302,rejected,external_id,missing external_id,"

    # The imported users are there, searchable by a phone number as people type it.
    page.get_by_role("link", name="See the users").click()
    page.get_by_label("Search by external id, email, phone or Braze id").fill("(650) 253-0042")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="u42").click()
    assert page.get_by_role("heading", name="u42").is_visible()
    assert "user42@example.com" in page.content()
