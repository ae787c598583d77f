"""The Canvas builder in Chromium: entry schedule, target audience filters, a flow with a
Decision Split edited without page reloads, and what a Viewer sees."""

import re

import pytest
from playwright.sync_api import expect

from appgroups.models import Role
from canvas.models import Canvas, Step
from tests.factories import AppGroupFactory, MembershipFactory, profile_track
from tests.plugins.browser import build_new_canvas, htmx_settled, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def card(page, name):
    return page.get_by_role("article", name=re.compile(rf" step {re.escape(name)}$"))


def add_step(page, where, component):
    page.get_by_role("button", name=f"Add a step {where}").click()
    page.locator("details.add-step[open]").get_by_role("button", name=component, exact=True).click()
    page.locator("#step-editor h2", has_text=component).wait_for()
    htmx_settled(page)


def rename_step(page, name):
    editor = page.locator("#step-editor")
    editor.get_by_label("Step name").fill(name)
    editor.get_by_role("button", name="Save", exact=True).click()
    card(page, name).wait_for()


def test_build_a_flow_with_a_decision_split_without_reloading_the_page(live_server, page):
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.MARKETER, user__email="mia@acme.test")
    MembershipFactory(app_group=acme, role=Role.VIEWER, user__email="vic@acme.test")
    profile_track(acme, external_id="u1", email="u1@example.com", country="US")
    profile_track(acme, external_id="u2", email="u2@example.com", country="DE")
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, "mia@acme.test")

    page.goto(f"{live_server.url}/canvas/")
    page.get_by_role("link", name="Create Canvas").click()
    page.get_by_label("Name").fill("Welcome")
    page.get_by_label("Tags").fill("onboarding")
    page.get_by_role("button", name="Create Canvas").click()

    # Entry Schedule: the sample cURL shows for API-Triggered; Scheduled asks when.
    assert page.get_by_label("Sample cURL").is_visible()
    page.get_by_label("Scheduled").check()
    assert not page.get_by_label("Sample cURL").is_visible()
    page.get_by_label("Once, at a set time").check()
    page.get_by_label("Entry time (UTC)").fill("2999-06-01T09:30")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Entry schedule saved.").wait_for()
    canvas = Canvas.objects.get(name="Welcome")
    assert canvas.schedule_at.isoformat() == "2999-06-01T09:30:00+00:00"

    # Target Audience: filters are added and removed; the count follows.
    page.get_by_role("link", name="Target Audience").click()
    page.get_by_label("Filter", exact=True).select_option(label="Ad Tracking Enabled")
    assert not page.get_by_label("Attribute name").is_visible()
    page.get_by_label("Is", exact=True).select_option("true")
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Filter", exact=True).select_option(label="Country")
    page.get_by_label("Operator").select_option(label="is not")
    page.get_by_label("Value", exact=True).fill("de")
    page.get_by_role("button", name="Add filter").click()
    filters = page.get_by_role("list", name="Filters")
    assert "Ad Tracking Enabled is true" in filters.inner_text()
    assert "Country is not DE" in filters.inner_text()
    assert page.get_by_test_id("population").inner_text() == "Users matching now: 0"
    page.get_by_role("button", name="Remove filter Ad Tracking Enabled is true").click()
    assert "Ad Tracking Enabled" not in page.get_by_role("list", name="Filters").inner_text()
    assert page.get_by_test_id("population").inner_text() == "Users matching now: 1"

    # Build Canvas: every click below is answered by htmx; the page never reloads.
    page.get_by_role("link", name="Build Canvas").click()
    page.evaluate("window.stillTheSamePage = true")
    add_step(page, "at the top of the flow", "Delay")
    rename_step(page, "Wait a day")
    add_step(page, "after Wait a day", "Decision Split")
    editor = page.locator("#step-editor")
    editor.get_by_label("Step name").fill("Has email?")
    editor.get_by_label("Filter", exact=True).select_option(label="Has email address")
    editor.get_by_label("Is", exact=True).select_option("true")
    editor.get_by_role("button", name="Add filter").click()
    page.get_by_text("Yes when: Has an email address").wait_for()
    add_step(page, "on the Yes branch of Has email?", "Message")
    rename_step(page, "Welcome email")
    add_step(page, "on the No branch of Has email?", "Audience Sync")
    rename_step(page, "Retarget")
    add_step(page, "after Welcome email", "Delay")
    rename_step(page, "Cool down")
    branches = page.locator(".flow-branch")
    assert "Welcome email" in branches.nth(0).inner_text()
    assert "Cool down" in branches.nth(0).inner_text()
    assert "Retarget" in branches.nth(1).inner_text()
    # Inserting between: a Message between the first Delay and the split.
    add_step(page, "after Wait a day", "Message")
    rename_step(page, "Hello")
    assert Step.objects.get(name="Has email?").parent == Step.objects.get(name="Hello")

    # Deleting the split and keeping its No branch: Retarget moves up, the Yes branch goes.
    card(page, "Has email?").get_by_role("button", name="Delete, keep No").click()
    card(page, "Has email?").wait_for(state="detached")
    assert card(page, "Retarget").is_visible()
    assert not card(page, "Welcome email").count() and not card(page, "Cool down").count()
    assert Step.objects.get(name="Retarget").parent == Step.objects.get(name="Hello")
    assert page.evaluate("window.stillTheSamePage") is True

    # The flow is saved: a reload shows the same steps.
    page.reload()
    assert [c.split("\n")[1] for c in page.locator("article.step-card").all_inner_texts()] == [
        "Wait a day", "Hello", "Retarget",
    ]  # fmt: skip

    # A Viewer sees the Canvas, read only.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, "vic@acme.test")
    page.goto(f"{live_server.url}/canvas/")
    page.get_by_role("link", name="Welcome").click()
    assert page.get_by_text("your role does not allow changing it").is_visible()
    assert card(page, "Retarget").is_visible()
    assert page.locator("details.add-step").count() == 0
    assert card(page, "Retarget").get_by_role("button").count() == 0
    assert page.get_by_text("⚙ Actions").count() == 0
    page.get_by_role("link", name="Summary").click()
    assert page.get_by_role("button", name="Launch Canvas").count() == 0


def test_the_gear_and_the_plus_are_buttons_that_work_from_the_keyboard(live_server, page):
    """Screen readers and role-based tools find them as buttons with their state; Tab, Enter,
    Escape and Space are enough to add a step."""
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.MARKETER, user__email="mia@acme.test")
    sign_in(page, live_server, "mia@acme.test")
    build_new_canvas(page, live_server, "Keys")

    gear = page.get_by_role("button", name="Canvas actions")
    assert gear.get_attribute("aria-expanded") == "false"
    plus = page.get_by_role("button", name="Add a step at the top of the flow")
    plus.focus()
    page.keyboard.press("Enter")
    expect(plus).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")  # into the menu
    page.keyboard.press("Escape")
    expect(plus).to_have_attribute("aria-expanded", "false")
    expect(plus).to_be_focused()
    outline = plus.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline == "solid"  # the focus ring shows

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    while focused != "Delay":
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
    page.keyboard.press("Space")
    page.locator("#step-editor h2", has_text="Delay").wait_for()
    htmx_settled(page)
    assert Step.objects.filter(canvas__name="Keys", step_type="delay").count() == 1
