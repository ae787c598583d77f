"""The main job in each language (issue 16), in Chromium against the live TikTok sandbox: the
browser asks for the language, the user picks it in the user menu, then Technology Partners >
TikTok > Connect TikTok, the ad-account picker, a Canvas with an Audience Sync step, launch,
users synced, and the analytics table. Every page shows the labels Braze's documents give in
that language, and none of the dashboard's own English labels."""

from __future__ import annotations

import re

import pytest
import requests
from django.utils import translation
from django.utils.translation import gettext, ngettext
from playwright.sync_api import expect

from appgroups.models import ApiPermission, Role, User
from audience_sync.flush import audience_sync_flush
from journeys.engine import journeys_advance
from tests.factories import TEST_PASSWORD, AppGroupFactory, MembershipFactory, rest_api_key
from tests.i18n.document_labels import DOCUMENT_LABELS
from tests.plugins.browser import htmx_settled
from tests.tiktok import point_at_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROWSER_LOCALES = {"es": "es-ES", "pt-br": "pt-BR", "de": "de-DE", "fr": "fr-FR"}

# Braze's seven Audience Sync metrics, on the analytics page.
STEP_METRICS = (
    "Entered",
    "Proceeded to Next Step",
    "Users Synced",
    "Users Not Synced",
    "Users Pending",
    "Users Errored",
    "Exited Canvas",
)

# The dashboard's own English labels on the pages walked. None may show in another language,
# unless that language's word is the same (German "Canvas", product names).
ENGLISH_LABELS = [
    "Sign in",
    "Sign out",
    "Password",
    "Language",
    "Notifications",
    "Messaging",
    "Partner Integrations",
    "Technology Partners",
    "Workspace Settings",
    "Import Users",
    "Connect TikTok",
    "Disconnect",
    "Choose which TikTok ad accounts to sync",
    "Save",
    "Create Canvas",
    "Build Canvas",
    "Summary",
    "Analytics",
    "Launch Canvas",
    "Custom Audience",
    "Set up Audience Sync",
    "Ad account",
    "Choose a New or Existing Audience",
    "Add Users to Audience",
    "Create Audience",
    *STEP_METRICS,
    "Sync log",
    "Draft",
    "Active",
]


# Names of TikTok's own documents that Braze's article in that language keeps in English.
KEPT_AS_THE_DOCUMENT_WRITES = {
    "de": ["Bedingungen für Custom Audience"],
    "fr": ["(Custom Audience Terms)"],
}


def english_left(page, language: str) -> list[str]:
    text = page.locator("body").inner_text()
    for kept in KEPT_AS_THE_DOCUMENT_WRITES.get(language, []):
        text = text.replace(kept, "")
    left = []
    with translation.override(language):
        for label in ENGLISH_LABELS:
            if label in gettext(label):
                continue  # the same word in this language
            if re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text):
                left.append(label)
    return left


@pytest.mark.parametrize("language", list(BROWSER_LOCALES))
def test_the_main_job_in_each_language(live_server, browser, settings, tiktok_sandbox, language):
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(f"{live_server.url}/partners/tiktok/callback/")
    acme = AppGroupFactory(name="Acme")
    MembershipFactory(app_group=acme, role=Role.ADMIN, user__email="ana@acme.test")
    labels = DOCUMENT_LABELS[language]

    def t(message: str) -> str:
        with translation.override(language):
            return gettext(message)

    def check_page(*document_labels: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", language)
        body = page.locator("body")
        for english in document_labels:
            if english in labels:
                expect(body).to_contain_text(labels[english])
        assert english_left(page, language) == [], page.url

    context = browser.new_context(locale=BROWSER_LOCALES[language])
    context.set_default_timeout(10_000)
    page = context.new_page()

    # The sign-in page in the browser's language.
    page.goto(f"{live_server.url}/login/")
    check_page()
    page.get_by_label(t("Email")).fill("ana@acme.test")
    page.get_by_label(t("Password")).fill(TEST_PASSWORD)
    page.get_by_role("button", name=t("Sign in")).click()
    page.wait_for_url(re.compile(r"/$"))

    # The user menu's Language select stores the choice on the user.
    page.get_by_label(t("Language")).select_option(language)
    page.wait_for_load_state()
    expect(page.get_by_label(t("Language"))).to_have_value(language)
    assert User.objects.get(email="ana@acme.test").language == language
    check_page("Partner Integrations", "Technology Partners")

    # Partner Integrations > Technology Partners > TikTok > Connect TikTok > the picker.
    main_nav = page.get_by_role("navigation", name=t("Main"))
    main_nav.get_by_role("link", name=t("Technology Partners"), exact=True).click()
    check_page("Technology Partners")
    page.get_by_role("link", name=re.compile(r"\bTikTok\b")).first.click()
    check_page("Connect TikTok")
    page.get_by_role("button", name=labels["Connect TikTok"]).click()
    page.get_by_role("button", name="Confirm").click()  # TikTok's page, in English
    page.get_by_role("heading", name=t("Choose which TikTok ad accounts to sync")).wait_for()
    check_page()
    page.get_by_role("button", name=t("Save")).click()
    with translation.override(language):
        connected = ngettext(
            "You successfully connected %(count)d TikTok account.",
            "You successfully connected %(count)d TikTok accounts.",
            3,
        ) % {"count": 3}
    expect(page.locator("body")).to_contain_text(connected)
    check_page()

    # Canvas > Create Canvas > Build Canvas > + > Audience Sync > Custom Audience.
    main_nav.get_by_role("link", name=t("Canvas"), exact=True).click()
    page.get_by_role("link", name=t("Create Canvas")).click()
    page.get_by_label(t("Name")).fill("Compradores")
    page.get_by_role("button", name=t("Create Canvas")).click()
    page.get_by_role("link", name=t("Build Canvas")).click()
    page.get_by_role("button", name=t("Add a step at the top of the flow")).click()
    page.locator("details.add-step[open]").get_by_role(
        "button", name=t("Audience Sync"), exact=True
    ).click()
    htmx_settled(page)
    page.locator("#step-editor").get_by_role("link", name=labels["Custom Audience"]).click()
    page.get_by_role("heading", name=t("Set up Audience Sync")).wait_for()
    htmx_settled(page)
    check_page("Custom Audience", "Choose a New or Existing Audience", "Add Users to Audience")

    # The editor: ad account, a new audience typed into the combobox, Email, Create Audience.
    with page.expect_response(lambda response: "/audiences/?" in response.url):
        page.get_by_label(t("Ad account")).select_option(index=1)
    combobox = page.get_by_role("combobox", name=labels["Choose a New or Existing Audience"])
    with page.expect_response(lambda response: "/audiences/?" in response.url):
        combobox.fill("Clientes")
    page.get_by_role("listbox").get_by_role("option").first.click()
    page.get_by_label(labels["Add Users to Audience"]).check()
    page.get_by_role("checkbox", name=t("Email")).check()
    check_page("Choose a New or Existing Audience", "Add Users to Audience", "Create Audience")
    page.get_by_role("button", name=labels["Create Audience"]).click()
    page.get_by_test_id("editor-notice").wait_for()

    # Summary > Launch Canvas > Analytics.
    page.get_by_role("link", name=t("Summary")).click()
    check_page()
    page.get_by_role("button", name=t("Launch Canvas")).click()
    page.get_by_role("navigation", name=t("Canvas builder")).get_by_role(
        "link", name=t("Analytics")
    ).click()

    # Users enter through the REST API (English, as Braze's) and are synced.
    canvas_id = page.url.rstrip("/").split("/")[-2]
    _, key = rest_api_key(
        app_group=acme,
        permissions=[ApiPermission.USERS_TRACK, ApiPermission.CANVAS_TRIGGER_SEND],
    )
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    users = [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(3)]
    users.append({"external_id": "sin-email"})
    assert api.post(f"{live_server.url}/api/users/track", json={"attributes": users}).ok
    assert api.post(
        f"{live_server.url}/api/canvas/trigger/send",
        json={"canvas_id": canvas_id, "recipients": [
            {"external_user_id": u["external_id"]} for u in users
        ]},
    ).status_code == 201  # fmt: skip
    journeys_advance()
    audience_sync_flush()
    expect(page.locator('[data-metric="synced"]').first).to_have_text("3", timeout=15_000)
    expect(page.locator('[data-metric="not_synced"]').first).to_have_text("1")
    check_page(*STEP_METRICS)
    context.close()
