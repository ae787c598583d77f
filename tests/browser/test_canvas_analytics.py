"""Launch a Canvas, trigger users through the REST API, and watch the metrics, the chart and
the sync log move on the analytics page (Chromium, the live sandbox, no page reloads)."""

import re

import pytest
import requests
from playwright.sync_api import expect

from appgroups.models import ApiPermission, Role
from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField, StepType
from journeys.engine import journeys_advance
from partners.models import AudienceStatus
from tests.factories import (
    AppGroupFactory,
    AudienceSyncSettingsFactory,
    CanvasFactory,
    MembershipFactory,
    StepFactory,
    TikTokAudienceFactory,
    rest_api_key,
)
from tests.plugins.browser import sign_in
from tests.tiktok import connect_through_oauth, point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_metrics_chart_and_sync_log_move_as_users_are_synced(
    live_server, page, settings, tiktok_sandbox
):
    point_at_sandbox(settings, tiktok_sandbox)
    group = AppGroupFactory(name="Acme")
    admin = MembershipFactory(app_group=group, role=Role.ADMIN, user__email="ana@acme.test")
    connection = connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    ad_account = connection.ad_accounts.get()
    canvas = CanvasFactory(app_group=group, name="Cart abandoners")
    draft = TikTokAudienceFactory(ad_account=ad_account, name="Abandoners", draft=True)
    step = StepFactory(canvas=canvas, step_type=StepType.AUDIENCE_SYNC, name="To TikTok")
    AudienceSyncSettingsFactory(
        step=step, audience=draft, creates_audience=True, match_fields=[MatchField.EMAIL]
    )
    _, key = rest_api_key(
        app_group=group,
        permissions=[ApiPermission.USERS_TRACK, ApiPermission.CANVAS_TRIGGER_SEND],
    )
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"

    sign_in(page, live_server, "ana@acme.test")
    page.goto(f"{live_server.url}/canvas/{canvas.pk}/summary/")
    page.get_by_role("button", name="Launch Canvas").click()
    page.get_by_role("navigation", name="Canvas builder").get_by_role(
        "link", name="Analytics"
    ).click()
    page.wait_for_url(re.compile(rf"/canvas/{canvas.pk}/analytics/$"))
    draft.refresh_from_db()
    assert draft.status == AudienceStatus.CREATED  # created on TikTok at launch

    users = [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(3)]
    users.append({"external_id": "no-email"})
    assert api.post(f"{live_server.url}/api/users/track", json={"attributes": users}).ok
    triggered = api.post(
        f"{live_server.url}/api/canvas/trigger/send",
        json={"canvas_id": str(canvas.pk), "recipients": [
            {"external_user_id": u["external_id"]} for u in users
        ]},
    )  # fmt: skip
    assert triggered.status_code == 201

    def metric(name):
        return page.locator(f'#sync-step-{step.pk} [data-metric="{name}"]')

    journeys_advance()  # what the worker does when the trigger wakes it
    expect(metric("entered")).to_have_text("4", timeout=15_000)  # the page refreshed itself
    expect(metric("pending")).to_have_text("3")
    expect(metric("not_synced")).to_have_text("1")

    audience_sync_flush()  # beat's next tick
    expect(metric("synced")).to_have_text("3", timeout=15_000)
    # Read to screen readers once, through the page's live region (not on every refresh).
    expect(page.locator("#live-announcer")).to_contain_text("3 Users Synced")
    expect(metric("pending")).to_have_text("0")
    chart = page.locator('figure.activity-chart[data-period="minute"]')
    expect(chart).to_have_attribute("data-synced", "3")
    expect(chart).to_have_attribute("data-entered", "4")
    log = page.get_by_role("table", name="Sync log")
    request_id = tiktok_sandbox.requests("/segment/mapping/")[0]["request_id"]
    expect(log.get_by_text(request_id)).to_be_visible()
    assert len(tiktok_sandbox.members(draft.tiktok_audience_id)["EMAIL_SHA256"]) == 3
