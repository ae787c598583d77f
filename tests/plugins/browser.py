"""Playwright + Chromium fixtures for browser tests (docs/ARCHITECTURE.md D15).

Debian's /usr/bin/chromium is used because `playwright install` cannot download here; the flags
keep a root, offline Chromium from trying to reach the network.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM_PATH):
        pytest.fail(f"Chromium not found at {CHROMIUM_PATH}: install Debian's chromium package")
    # Playwright's sync API runs an event loop in this thread; Django's async-safety check
    # would then refuse ORM calls made by live_server-backed tests.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def htmx_settled(page) -> None:
    """Wait until htmx has settled what it swapped in. htmx binds the new content's hx-*
    attributes in its settle step, 20 ms after the swap: content is visible, but a change
    made to it before then sends no request."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def build_new_canvas(page, live_server, name: str) -> None:
    """Canvas > Create Canvas named `name` > Build Canvas."""
    page.goto(f"{live_server.url}/canvas/")
    page.get_by_role("link", name="Create Canvas").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create Canvas").click()
    page.get_by_role("link", name="Build Canvas").click()


def sign_in(page, live_server, email: str, password: str | None = None) -> None:
    """Sign in through the login form and wait for the dashboard."""
    import re

    from tests.factories import TEST_PASSWORD

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password or TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


# Accessibility: axe-core's WCAG 2.2 A/AA rules, run in the page (issue 18). A serious or
# critical violation fails the test; each waiver names its rule and says why.
AXE_FAILING_IMPACTS = {"serious", "critical"}
AXE_WAIVERS: dict[str, str] = {}


@functools.cache
def _axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def assert_accessible(page, what: str = "") -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    violations = _axe().run(page).response["violations"]
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v["impact"] in AXE_FAILING_IMPACTS and v["id"] not in AXE_WAIVERS
    ]
    assert not problems, f"{what or page.url}: " + "; ".join(problems)
