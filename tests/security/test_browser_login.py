"""Sign-in rate limiting as a person meets it in Chromium."""

from __future__ import annotations

import pytest

from tests.factories import TEST_PASSWORD, UserFactory
from tests.security.test_login_ratelimit import _forget_redis_counters

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_too_many_failed_sign_ins_pause_signing_in(live_server, page, settings):
    settings.LOGIN_FAILURES_PER_EMAIL = 3
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    _forget_redis_counters()
    UserFactory(email="ana@acme.test")

    def attempt(password):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill("ana@acme.test")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        return page.get_by_role("alert").inner_text()

    for _ in range(3):
        assert "didn't match" in attempt("wrong")
    message = attempt(TEST_PASSWORD)

    assert "Too many failed sign-ins" in message
    assert "minute" in message
    assert page.url.endswith("/login/")  # still on the sign-in page, not signed in
    _forget_redis_counters()
