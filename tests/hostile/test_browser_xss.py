"""Script in names must not run in Chromium: a Canvas, its steps, an audience filter and a
profile carry payloads that would open a dialog or set a flag if they ever executed, on full
pages and in the fragments htmx swaps in."""

from __future__ import annotations

import pytest

from appgroups.models import Role
from canvas.models import Canvas, StepType
from tests.factories import AppGroupFactory, MembershipFactory, StepFactory, profile_track
from tests.plugins.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = (
    "<script>alert('xss-script')</script>"
    "<img src=x onerror=\"window.__pwned=1;alert('xss-img')\">"
    '<svg onload="window.__pwned=1"></svg>'
)


def test_script_in_names_never_runs(live_server, page):
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.MARKETER, user__email="mia@acme.test")
    profile = profile_track(
        acme, external_id="u-xss", email="x@example.com", first_name=PAYLOAD, plan=PAYLOAD
    )
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, live_server, "mia@acme.test")

    # Typed into the form, as a person (or a pasted clipboard) would.
    page.goto(f"{live_server.url}/canvas/new/")
    page.get_by_label("Name").fill(PAYLOAD[:200])
    page.get_by_label("Description").fill(PAYLOAD)
    page.get_by_role("button", name="Create Canvas").click()
    page.wait_for_url("**/entry/")
    canvas = Canvas.objects.get()
    assert canvas.name == PAYLOAD[:200]
    delay = StepFactory(
        canvas=canvas, step_type=StepType.DELAY, name=PAYLOAD[:200], config={"seconds": 60}
    )
    canvas.audience_filters = [
        {"field": "custom_attribute", "key": "plan", "op": "equals", "value": PAYLOAD}
    ]
    canvas.save()

    base = f"{live_server.url}/canvas/{canvas.pk}"
    for url in [
        f"{live_server.url}/canvas/",
        f"{base}/basics/",
        f"{base}/audience/",
        f"{base}/build/",
        f"{base}/summary/",
        f"{base}/analytics/",
        f"{live_server.url}/users/",
        f"{live_server.url}/users/{profile.pk}/",
    ]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None, url
    # The step editor arrives by htmx: click the step's card on the Build tab.
    page.goto(f"{base}/build/")
    page.locator(f'a[hx-get$="/steps/{delay.pk}/"]').first.click()
    page.wait_for_url(f"**/steps/{delay.pk}/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#step-editor").get_by_label("Step name").input_value() == PAYLOAD[:200]

    # The names are on screen as text.
    page.goto(f"{live_server.url}/canvas/")
    assert "<script>alert('xss-script')</script>" in page.content().replace("&lt;", "<").replace(
        "&gt;", ">"
    ).replace("&#x27;", "'")
    assert page.evaluate("window.__pwned") is None
    assert not [d for d in dialogs if "xss" in d], dialogs
