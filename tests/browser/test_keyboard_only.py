"""The main job with the keyboard only (Tab, Shift+Tab, Enter, Space, Escape, arrows, and
typing into fields): sign in, connect TikTok through the sandbox's consent page, build a
Canvas with an Audience Sync step, create its audience and launch. Every control reached
shows a focus ring."""

import re

import pytest
from playwright.sync_api import expect

from appgroups.models import Role
from canvas.models import Canvas, CanvasState
from tests.factories import TEST_PASSWORD, AppGroupFactory, MembershipFactory
from tests.plugins.browser import htmx_settled
from tests.tiktok import point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAX_TABS = 80

FOCUSED = """() => {
  const element = document.activeElement;
  const label = element.labels && element.labels.length ? element.labels[0].innerText : "";
  const style = getComputedStyle(element);
  return {
    name: (element.getAttribute("aria-label") || label || element.innerText || element.value || "").trim(),
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
  };
}"""


def tab_to(page, name: str | re.Pattern, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused control is called `name`; it must show a
    focus ring."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED)
        hit = (
            name.search(focused["name"])
            if isinstance(name, re.Pattern)
            else focused["name"] == name
        )
        if hit:
            assert focused["ring"], f"no focus ring on {focused['name']!r}"
            return
    raise AssertionError(f"{name!r} not reached with {key} on {page.url}")


def follow(page, key: str = "Enter") -> None:
    """Press `key` on the focused link or button and wait for the page it opens."""
    with page.expect_navigation():
        page.keyboard.press(key)


def test_the_main_job_with_the_keyboard_only(live_server, page, settings, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.ADMIN, user__email="ana@acme.test")

    page.goto(f"{live_server.url}/login/")
    tab_to(page, "Email")
    page.keyboard.type("ana@acme.test")
    tab_to(page, "Password")
    page.keyboard.type(TEST_PASSWORD)
    follow(page)
    page.wait_for_url(lambda url: "/login/" not in url)

    # Technology Partners > TikTok > Connect TikTok, the consent page, the picker.
    tab_to(page, "Technology Partners")
    follow(page)
    tab_to(page, re.compile(r"\bTikTok\b"))
    follow(page)
    tab_to(page, "Connect TikTok")
    follow(page)
    tab_to(page, "Confirm")
    follow(page)
    page.get_by_role("heading", name="Choose which TikTok ad accounts to sync").wait_for()
    tab_to(page, "Save")
    follow(page)
    page.get_by_text(re.compile(r"You successfully connected")).wait_for()

    # Canvas > Create Canvas > Build Canvas > + > Audience Sync.
    tab_to(page, "Canvas")
    follow(page)
    tab_to(page, "Create Canvas")
    follow(page)
    tab_to(page, "Name")
    page.keyboard.type("Keyboard only")
    tab_to(page, "Create Canvas")
    follow(page)
    tab_to(page, "Build Canvas")
    follow(page)
    tab_to(page, "Add a step at the top of the flow")
    page.keyboard.press("Enter")
    tab_to(page, "Audience Sync")
    page.keyboard.press("Space")
    page.locator("#step-editor h2", has_text="Audience Sync").wait_for()
    htmx_settled(page)
    tab_to(page, "Custom Audience")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Set up Audience Sync").wait_for()
    htmx_settled(page)

    # The editor: ad account (arrow keys), a new audience typed, Email ticked, Create Audience.
    tab_to(page, "Ad account")
    with page.expect_response(lambda response: "/audiences/?" in response.url):
        page.keyboard.press("ArrowDown")
    tab_to(page, "Choose a New or Existing Audience")
    with page.expect_response(lambda response: "/audiences/?" in response.url):
        page.keyboard.type("Keyboard list")
    # The type-ahead is an ARIA combobox: Down reaches the option, which shows the ring while
    # the field keeps the focus; Enter accepts it.
    combobox = page.get_by_role("combobox", name="Choose a New or Existing Audience")
    page.keyboard.press("ArrowDown")
    option = page.locator(f"#{combobox.get_attribute('aria-activedescendant')}")
    expect(option).to_have_text("Create new audience “Keyboard list”")
    assert option.evaluate("e => getComputedStyle(e).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Create new audience “Keyboard list”")).to_be_checked()
    tab_to(page, "Email")
    page.keyboard.press("Space")
    tab_to(page, "Create Audience")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("editor-notice")).to_contain_text("was saved as a draft")

    # Summary > Launch Canvas.
    tab_to(page, "Summary")
    follow(page)
    tab_to(page, "Launch Canvas")
    follow(page)
    page.get_by_text(re.compile(r"is (Active|launched)")).first.wait_for()
    assert Canvas.objects.get(name="Keyboard only").state == CanvasState.ACTIVE
