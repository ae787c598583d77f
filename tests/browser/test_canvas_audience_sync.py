"""Building a Canvas with Audience Sync steps in Chromium, against the live TikTok sandbox:
every launch-refusal reason is shown and fixed, the launch creates the audience once on
TikTok, then the Canvas is stopped and resumed."""

import re

import pytest
from playwright.sync_api import expect

from appgroups.models import Role
from canvas.models import Canvas
from partners.models import TikTokConnection
from partners.services import tiktok_connection_check
from tests.canvas.conftest import sandbox_audiences
from tests.factories import AppGroupFactory, MembershipFactory
from tests.plugins.browser import assert_accessible, build_new_canvas, htmx_settled, sign_in
from tests.tiktok import point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NORTHWIND_US = "Northwind US (7230000000000000101)"


@pytest.fixture
def ana(settings, live_server, tiktok_sandbox):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")
    acme = AppGroupFactory(name="Acme")
    return MembershipFactory(app_group=acme, role=Role.ADMIN, user__email="ana@acme.test")


def connect_tiktok(page, live_server, button="Connect TikTok"):
    """Partner Integrations > TikTok > Connect, TikTok's consent page, the ad-account picker."""
    page.goto(f"{live_server.url}/partners/tiktok/")
    page.get_by_role("button", name=button).click()
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Choose which TikTok ad accounts to sync").wait_for()
    page.get_by_role("button", name="Save").click()
    page.get_by_text(re.compile(r"You successfully connected \d TikTok accounts?\.")).wait_for()


def card(page, name):
    """The step card whose step is called `name` (an unnamed step is called by its type)."""
    return page.get_by_role("article", name=re.compile(rf" step {re.escape(name)}$"))


def add_step(page, where, component):
    page.get_by_role("button", name=f"Add a step {where}").click()
    page.locator("details.add-step[open]").get_by_role("button", name=component, exact=True).click()
    page.locator("#step-editor h2", has_text=component).wait_for()
    htmx_settled(page)


def open_sync_editor(page, card_name):
    card(page, card_name).get_by_role("link", name=re.compile(r"^(Custom Audience|Edit)$")).click()
    page.get_by_role("heading", name="Set up Audience Sync").wait_for()
    htmx_settled(page)


def typeahead_answer(page):
    """Wait for the type-ahead's answer to the change made inside the `with` block."""
    return page.expect_response(lambda response: "/audiences/?" in response.url)


def choose_ad_account(page, label=NORTHWIND_US):
    with typeahead_answer(page):
        page.get_by_label("Ad account").select_option(label=label)


def audience_combobox(page):
    return page.get_by_role("combobox", name="Choose a New or Existing Audience")


def choose_audience(page, typed, option_label):
    """Type into the audience combobox, click the option called `option_label` in its
    listbox: the list closes and the option's radio (what the form posts) is ticked."""
    with typeahead_answer(page):
        audience_combobox(page).fill(typed)
    page.get_by_role("listbox", name="Audiences").get_by_role("option", name=option_label).click()
    expect(audience_combobox(page)).to_have_attribute("aria-expanded", "false")
    assert page.get_by_label(option_label).is_checked()


def open_new_sync_editor(page, live_server, tiktok_sandbox, canvas_name, audiences):
    """Ana connects TikTok, the sandbox's first ad account gets `audiences`, and a new Canvas's
    Audience Sync step is opened on that ad account."""
    sign_in(page, live_server, "ana@acme.test")
    connect_tiktok(page, live_server)
    token = TikTokConnection.objects.get().access_token
    for name in audiences:
        tiktok_sandbox.create_audience(token, "7230000000000000101", name)
    build_new_canvas(page, live_server, canvas_name)
    add_step(page, "at the top of the flow", "Audience Sync")
    open_sync_editor(page, "Audience Sync")
    choose_ad_account(page)


def editor_notice(page):
    notice = page.get_by_test_id("editor-notice")
    notice.wait_for()
    return notice.inner_text()


def launch_and_read_problems(page):
    page.get_by_role("link", name="Summary").click()
    page.get_by_role("button", name="Launch Canvas").click()
    page.get_by_text(re.compile(r"The Canvas was not launched: \d+ problems? to fix\.")).wait_for()
    return page.locator(".launch-problems li").all_inner_texts()


def step_problems(page, card_name):
    return card(page, card_name).locator(".step-problems li").all_inner_texts()


def test_build_refuse_fix_launch_stop_and_resume_an_audience_sync_canvas(
    live_server, page, tiktok_sandbox, ana
):
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, "ana@acme.test")

    # Create the Canvas and a first Audience Sync step, before TikTok is connected.
    build_new_canvas(page, live_server, "Cart abandoners")
    add_step(page, "at the top of the flow", "Audience Sync")
    page.locator("#step-editor").get_by_role("link", name="Custom Audience").click()
    page.get_by_role("heading", name="Set up Audience Sync").wait_for()
    htmx_settled(page)
    assert page.get_by_label("TikTok").is_disabled()
    assert page.get_by_text("TikTok is not connected.").first.is_visible()
    assert (
        page.locator("#step-editor").get_by_role("link", name="Open the TikTok page").is_visible()
    )

    # Refused: not connected, no ad account, no audience name, no field to match.
    problems = launch_and_read_problems(page)
    assert any(p.startswith("TikTok is not connected.") for p in problems)
    assert any(p.startswith("Audience Sync: No ad account") for p in problems)
    assert any(p.startswith("Audience Sync: No audience name") for p in problems)
    assert any(p.startswith("Audience Sync: No field to match") for p in problems)
    card_problems = step_problems(page, "Audience Sync")
    assert [p.split(":")[0] for p in card_problems] == [
        "No ad account", "No audience name", "No field to match",
    ]  # fmt: skip

    # Fix: connect TikTok through its consent page, then set the step up with a new audience.
    connect_tiktok(page, live_server)
    page.goto(f"{live_server.url}/canvas/")
    page.get_by_role("link", name="Cart abandoners").click()
    open_sync_editor(page, "Audience Sync")
    page.get_by_label("Step name").fill("Add abandoners")
    choose_ad_account(page)
    choose_audience(page, "Cart abandoners", "Create new audience “Cart abandoners”")
    page.get_by_role("button", name="Create Audience", exact=True).wait_for()
    page.get_by_label("Email").check()
    page.get_by_label("Phone").check()
    page.get_by_role("button", name="Create Audience", exact=True).click()
    assert editor_notice(page).startswith("Audience “Cart abandoners” was saved as a draft.")
    first_card = card(page, "Add abandoners")
    for fact in [
        "TikTok",
        "Northwind US",
        "Cart abandoners",
        "Draft",
        "Add Users to Audience",
        "Email, Phone",
    ]:
        assert fact in first_card.inner_text()

    # A Delay, then a step with its own draft "Temp list", and a step removing from it.
    add_step(page, "after Add abandoners", "Delay")
    page.get_by_label("Wait").fill("2")
    page.get_by_label("Unit").select_option("hours")
    page.locator("#step-editor").get_by_role("button", name="Save").click()
    page.get_by_text("Wait 2 hours, then continue.").wait_for()
    add_step(page, "after Delay", "Audience Sync")
    open_sync_editor(page, "Audience Sync")
    page.get_by_label("Step name").fill("Temporary")
    choose_ad_account(page)
    choose_audience(page, "Temp list", "Create new audience “Temp list”")
    page.get_by_label("Email").check()
    page.get_by_role("button", name="Create Audience", exact=True).click()
    assert "was saved as a draft" in editor_notice(page)
    add_step(page, "after Temporary", "Audience Sync")
    open_sync_editor(page, "Audience Sync")
    page.get_by_label("Step name").fill("Remove buyers")
    choose_ad_account(page)
    choose_audience(page, "Temp", "Temp list · Draft in this Canvas")
    page.get_by_label("Remove from the Audience").check()
    page.get_by_label("Email").check()
    page.get_by_role("button", name="Done", exact=True).click()
    assert editor_notice(page) == "Audience Sync settings saved."
    card(page, "Temporary").get_by_role("button", name="Delete").click()
    card(page, "Temporary").wait_for(state="detached")

    # Refused: the remove step names a draft that no step creates any more.
    problems = launch_and_read_problems(page)
    assert problems == [
        "Remove buyers: This step removes users from “Temp list”, a draft audience that no step "
        "of this Canvas creates any more: choose an existing audience or a draft of this Canvas."
    ]
    assert len(step_problems(page, "Remove buyers")) == 1

    # Fix: remove from the first step's draft instead.
    page.get_by_role("link", name="Build Canvas").click()
    open_sync_editor(page, "Remove buyers")
    choose_audience(page, "Cart", "Cart abandoners · Draft in this Canvas")
    page.get_by_label("Remove from the Audience").check()
    page.get_by_role("button", name="Done", exact=True).click()
    assert editor_notice(page) == "Audience Sync settings saved."
    assert "Remove from the Audience" in card(page, "Remove buyers").inner_text()

    # Refused: TikTok would pass 400 audiences on the ad account (400 there + 1 draft).
    advertiser_id = "7230000000000000101"
    token = TikTokConnection.objects.get().access_token
    filler = [
        tiktok_sandbox.create_audience(token, advertiser_id, f"Older audience {i}")
        for i in range(400)
    ]
    problems = launch_and_read_problems(page)
    assert len(problems) == 1
    assert problems[0].startswith(
        "Add abandoners: Audience limit: the ad account Northwind US has 400 audiences on "
        "TikTok and launching would create 1 more, past TikTok's limit of 400"
    )
    tiktok_sandbox.delete_audience(filler[0])

    # Refused: the token was revoked on TikTok (found while checking the audiences).
    tiktok_sandbox.revoke()
    problems = launch_and_read_problems(page)
    assert len(problems) == 1 and problems[0].startswith("Invalid Token:")
    connect_tiktok(page, live_server, button="Change Account")
    page.goto(f"{live_server.url}/canvas/")
    page.get_by_role("link", name="Cart abandoners").click()

    # Launch from two tabs (a double launch): the audience is created on TikTok, once.
    summary_url = f"{live_server.url}/canvas/{page.url.split('/canvas/')[1].split('/')[0]}/summary/"
    page.goto(summary_url)
    stale = page.context.new_page()
    stale.goto(summary_url)
    assert page.get_by_text("Every launch check passed.").is_visible()
    page.get_by_role("button", name="Launch Canvas").click()
    page.get_by_text("Canvas “Cart abandoners” is Active.").wait_for()
    assert page.get_by_test_id("canvas-state").inner_text() == "Active"
    stale.get_by_role("button", name="Launch Canvas").click()
    stale.get_by_text("Canvas “Cart abandoners” is Active.").wait_for()
    stale.close()
    named = [
        a
        for a in sandbox_audiences(tiktok_sandbox, advertiser_id)
        if a["name"] == "Cart abandoners"
    ]
    assert len(named) == 1
    page.get_by_role("link", name="Build Canvas").click()
    assert "On TikTok" in card(page, "Add abandoners").inner_text()

    # Stop and resume from the gear menu.
    page.goto(f"{live_server.url}/canvas/")
    page.get_by_role("link", name="Cart abandoners").click()
    page.get_by_role("button", name="Canvas actions").click()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("Canvas “Cart abandoners” is Stopped.").wait_for()
    assert page.get_by_test_id("canvas-state").inner_text() == "Stopped"
    page.get_by_role("button", name="Canvas actions").click()
    page.get_by_role("button", name="Resume", exact=True).click()
    page.get_by_text("Canvas “Cart abandoners” is Active again.").wait_for()
    assert page.get_by_test_id("canvas-state").inner_text() == "Active"

    # The list shows it Active; a broken token shows the partners banner on the Canvas.
    page.goto(f"{live_server.url}/canvas/")
    row = page.get_by_role("row", name=re.compile("Cart abandoners"))
    assert "Active" in row.inner_text() and "API-Triggered" in row.inner_text()
    tiktok_sandbox.revoke()
    tiktok_connection_check(connection=TikTokConnection.objects.get())
    page.get_by_role("link", name="Cart abandoners").click()
    assert page.get_by_role("alert").filter(has_text="TikTok: Invalid Token.").is_visible()


def test_the_editor_ticks_the_action_that_will_be_saved(live_server, page, tiktok_sandbox, ana):
    """Both sections' Add/Remove radios share one name: the shown one must be the ticked one,
    whichever way the editor was reached."""
    open_new_sync_editor(page, live_server, tiktok_sandbox, "Radios", ["Existing buyers"])
    add_new = page.get_by_label("Add Users to Audience")

    # Choosing "Create new audience".
    choose_audience(page, "High value", "Create new audience “High value”")
    assert add_new.is_visible() and add_new.is_checked()

    # An existing audience: Add by default; Remove chosen, then new and back keeps Remove.
    choose_audience(page, "Existing", re.compile(r"^Existing buyers"))
    assert page.get_by_label("Add to the Audience").is_checked()
    page.get_by_label("Remove from the Audience").check()
    choose_audience(page, "High value", "Create new audience “High value”")
    assert add_new.is_checked()
    choose_audience(page, "Existing", re.compile(r"^Existing buyers"))
    assert page.get_by_label("Remove from the Audience").is_checked()
    assert not page.get_by_label("Add to the Audience").is_checked()

    # After Create Audience, the editor shows the step's draft with Add ticked.
    choose_audience(page, "High value", "Create new audience “High value”")
    page.get_by_label("Email").check()
    page.get_by_role("button", name="Create Audience", exact=True).click()
    assert "was saved as a draft" in editor_notice(page)
    assert add_new.is_visible() and add_new.is_checked()

    # Reopened with Edit, from a fresh page.
    page.reload()
    open_sync_editor(page, "Audience Sync")
    page.get_by_role("button", name="Create Audience", exact=True).wait_for()
    assert add_new.is_visible() and add_new.is_checked()


def test_the_audience_picker_is_an_aria_combobox(live_server, page, tiktok_sandbox, ana):
    """The WAI-ARIA combobox pattern (list autocomplete): focus stays in the field, Down/Up
    move the active option (aria-activedescendant) and wrap, Enter accepts without submitting
    the form, Escape closes, Alt+Down opens; the radios the form posts follow."""
    open_new_sync_editor(
        page, live_server, tiktok_sandbox, "Combobox", ["Existing buyers", "Existing churners"]
    )

    combobox = audience_combobox(page)
    expect(combobox).to_have_attribute("aria-autocomplete", "list")
    expect(combobox).to_have_attribute("aria-controls", "audience-listbox")
    combobox.focus()
    with typeahead_answer(page):
        page.keyboard.type("Existing")
    listbox = page.get_by_role("listbox", name="Audiences")
    expect(combobox).to_have_attribute("aria-expanded", "true")
    names = [n.strip() for n in listbox.get_by_role("option").all_inner_texts()]
    assert [re.split(r"\s+·", n)[0] for n in names] == [
        "Create new audience “Existing”",
        "Existing buyers",
        "Existing churners",
    ]
    assert_accessible(page, "Audience Sync editor, combobox open")

    def active_option():
        return page.locator(f"#{combobox.get_attribute('aria-activedescendant')}")

    page.keyboard.press("ArrowDown")
    expect(active_option()).to_contain_text("Create new audience “Existing”")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(active_option()).to_contain_text("Existing churners")
    page.keyboard.press("ArrowDown")  # wraps to the first
    expect(active_option()).to_contain_text("Create new audience")
    page.keyboard.press("ArrowUp")  # and back to the last
    expect(active_option()).to_contain_text("Existing churners")
    assert page.evaluate("document.activeElement.id") == "id_audience_query"

    # Escape closes the list and keeps what was typed; Alt+Down opens it again.
    page.keyboard.press("Escape")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(listbox).to_be_hidden()
    assert combobox.get_attribute("aria-activedescendant") is None
    expect(combobox).to_have_value("Existing")
    page.keyboard.press("Alt+ArrowDown")
    expect(combobox).to_have_attribute("aria-expanded", "true")

    # Enter accepts the active option: its name in the field, its radio ticked, the Action
    # section shown, and no form submitted.
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(active_option()).to_contain_text("Existing buyers")
    posted = []
    page.on(
        "request", lambda request: posted.append(request.url) if request.method == "POST" else None
    )
    page.keyboard.press("Enter")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    expect(combobox).to_have_value("Existing buyers")
    assert page.get_by_label(re.compile(r"^Existing buyers")).is_checked()
    expect(page.get_by_label("Add to the Audience")).to_be_checked()
    expect(page.get_by_role("button", name="Done")).to_be_visible()
    chosen = page.get_by_role("option", name=re.compile(r"^Existing buyers"), include_hidden=True)
    expect(chosen).to_have_attribute("aria-selected", "true")
    assert posted == []

    # The choice is what Done saves.
    page.get_by_label("Email").check()
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.get_by_role("button", name="Done").click()
    step = Canvas.objects.get(name="Combobox").steps.get()
    assert step.audience_sync.audience.name == "Existing buyers"
