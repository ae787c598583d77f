"""Sign-in rate limiting (appgroups.loginlimit): failed sign-ins per email and per client
address, refused with 429 and a message that says nothing about whether the account exists."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import resolve, reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from appgroups.loginlimit import _email_key, login_attempt_begin, login_attempt_succeeded
from appgroups.views.auth import LoginView
from core.models import RateLimitWindow
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
LOCKED = "Too many failed sign-ins."
EMAIL = "ana@acme.test"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.LOGIN_FAILURES_PER_EMAIL = 3
    settings.LOGIN_FAILURES_PER_ADDRESS = 10
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    settings.LOGIN_CLIENT_ADDRESS_HEADER = ""
    _forget_redis_counters()
    yield
    _forget_redis_counters()


def _forget_redis_counters():
    """Redis counters outlive the test database: start each test from none."""
    if not django_settings.REDIS_URL:
        return
    from core.ratelimit import REDIS_KEY_PREFIX, _redis_client

    client = _redis_client(django_settings.REDIS_URL)
    for key in client.scan_iter(f"{REDIS_KEY_PREFIX}login:*"):
        client.delete(key)


@pytest.fixture
def ana():
    return UserFactory(email=EMAIL)


def sign_in(email, password, address="192.0.2.10", client=None):
    client = client or Client()
    response = client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=address)
    return client, response


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sign_in_page_is_the_rate_limited_one():
    assert resolve(LOGIN).func.view_class is LoginView


def test_after_n_failures_even_the_right_password_is_refused(ana):
    for _ in range(3):
        _, response = sign_in(EMAIL, "wrong")
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()

    client, response = sign_in(EMAIL, TEST_PASSWORD)

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 900
    assert not signed_in(client)


def test_the_refusal_is_the_same_for_an_email_without_an_account(ana):
    answers = {}
    for email in (EMAIL, "nobody@acme.test"):
        for _ in range(3):
            sign_in(email, "wrong")
        _, response = sign_in(email, "wrong")
        answers[email] = response
    known, unknown = answers[EMAIL], answers["nobody@acme.test"]
    assert known.status_code == unknown.status_code == 429
    # The pages differ only by the email typed into the form (and the CSRF token).
    assert _comparable(known, EMAIL) == _comparable(unknown, "nobody@acme.test")


def _comparable(response, email: str) -> str:
    import re

    text = response.content.decode().replace(email, "@")
    return re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', r"\1", text)


def test_the_email_is_matched_without_case_or_spaces(ana):
    for typed in ("ANA@acme.test", " ana@acme.test", "Ana@Acme.Test"):
        sign_in(typed, "wrong")
    _, response = sign_in(EMAIL, TEST_PASSWORD)
    assert response.status_code == 429


def test_a_successful_sign_in_resets_the_email_count(ana):
    for _ in range(2):
        sign_in(EMAIL, "wrong")
    client, response = sign_in(EMAIL, TEST_PASSWORD)
    assert response.status_code == 302 and signed_in(client)

    for _ in range(2):
        sign_in(EMAIL, "wrong")
    client, response = sign_in(EMAIL, TEST_PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_one_address_trying_many_emails_is_stopped(ana):
    for n in range(10):
        _, response = sign_in(f"guess{n}@acme.test", "wrong", address="198.51.100.7")
        assert response.status_code == 200

    _, refused = sign_in(EMAIL, TEST_PASSWORD, address="198.51.100.7")
    client, elsewhere = sign_in(EMAIL, TEST_PASSWORD, address="203.0.113.5")

    assert refused.status_code == 429
    assert elsewhere.status_code == 302 and signed_in(client)


def test_successful_sign_ins_do_not_use_up_an_address(ana):
    """An office behind one address signs in all day: successes give their slot back."""
    for _ in range(15):
        client, response = sign_in(EMAIL, TEST_PASSWORD, address="198.51.100.8")
        assert response.status_code == 302
        client.post(reverse("logout"))


def test_the_address_comes_from_the_configured_proxy_header(settings, ana):
    settings.LOGIN_CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    for n in range(10):
        Client().post(
            LOGIN,
            {"username": f"g{n}@acme.test", "password": "x"},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR="203.0.113.66, 198.51.100.9",  # spoofable, then the proxy's
        )
    blocked = Client().post(
        LOGIN, {"username": EMAIL, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9",
    )  # fmt: skip
    other = Client().post(
        LOGIN, {"username": EMAIL, "password": TEST_PASSWORD},
        REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.10",
    )  # fmt: skip
    # The last entry (the one the proxy appended) counts; the first is whatever the client sent.
    assert blocked.status_code == 429
    assert other.status_code == 302


def test_the_window_ends(ana):
    t0 = 1_800_000_000.0  # the start of a window (900 divides it)
    for _ in range(3):
        assert login_attempt_begin(email=EMAIL, address="192.0.2.1", now=t0).allowed
    refused = login_attempt_begin(email=EMAIL, address="192.0.2.1", now=t0 + 899)
    later = login_attempt_begin(email=EMAIL, address="192.0.2.1", now=t0 + 900)

    assert not refused.allowed and refused.retry_after_seconds == 1
    assert later.allowed
    login_attempt_succeeded(later, now=t0 + 900)


def test_no_email_is_kept_in_the_counters(ana):
    for _ in range(4):
        sign_in(EMAIL, "wrong")
    keys = list(RateLimitWindow.objects.values_list("key", flat=True))
    if not django_settings.REDIS_URL:
        assert keys
    assert not any("ana" in key or "acme" in key for key in keys)
    if django_settings.REDIS_URL:
        from core.ratelimit import _redis_client

        names = [k.decode() for k in _redis_client(django_settings.REDIS_URL).scan_iter("*login*")]
        assert names and not any("ana" in name or "acme" in name for name in names)


# Every spelling Django signs in as the same account counts against it (issue 15, item 3).
# Django's sign-in form normalizes what was typed (strip, then NFKC) before looking the email
# up, so "ａna@acme.test" (a full-width ａ, U+FF41) opens ana's account: a counter keyed on the
# raw value gave each spelling its own five tries.
SPELLINGS = [
    "\uff41na@acme.test",  # full-width a
    "\uff41\uff4e\uff41\uff20\uff41\uff43\uff4d\uff45\uff0e\uff54\uff45\uff53\uff54",  # all
    "\u00a0ana@acme.test\u2003",  # no-break and em spaces around it
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_spelling_django_signs_in_with_shares_the_email_count(ana, spelling):
    # The spelling really opens ana's account...
    client, response = sign_in(spelling, TEST_PASSWORD)
    assert response.status_code == 302 and signed_in(client)
    assert client.session["_auth_user_id"] == str(ana.pk)

    # ... so failures under either spelling count against the other.
    for _ in range(3):
        _, response = sign_in(EMAIL, "wrong")
        assert response.status_code == 200
    for typed in (spelling, spelling, EMAIL):
        _, response = sign_in(typed, "wrong")
        assert response.status_code == 429
    client, response = sign_in(spelling, TEST_PASSWORD)

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not signed_in(client)


def test_failures_under_a_spelling_lock_the_plain_email(ana):
    for _ in range(3):
        _, response = sign_in(SPELLINGS[0], "wrong")
        assert response.status_code == 200
    client, response = sign_in(EMAIL, TEST_PASSWORD)
    assert response.status_code == 429 and not signed_in(client)


@given(typed=st.text(max_size=60))
@hypothesis_settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_counter_is_named_after_what_django_authenticates_with(typed):
    """Whatever is typed, its counter is the one of the value Django's sign-in form hands to
    authenticate(): two spellings that open one account never have two counters."""
    from django.contrib.auth.forms import UsernameField

    authenticated_with = UsernameField(max_length=254).to_python(typed)
    assert _email_key(typed) == _email_key(authenticated_with)


# Django admin's sign-in (/admin/login/) is guarded by the same limiter and counters
# (issue 15, item 3: 30 wrong passwords for a superuser, then the right one, used to work).
ADMIN_LOGIN = "/admin/login/"
ROOT = "root@acme.test"


@pytest.fixture
def root():
    return UserFactory(email=ROOT, is_staff=True, is_superuser=True)


def admin_sign_in(email, password, address="192.0.2.10", client=None):
    client = client or Client()
    response = client.post(
        ADMIN_LOGIN,
        {"username": email, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )
    return client, response


def test_the_admin_sign_in_page_is_the_rate_limited_one():
    match = resolve(ADMIN_LOGIN)
    assert match.func.__module__ == LoginView.__module__
    assert reverse("admin:login") == ADMIN_LOGIN  # what admin pages send anonymous users to


def test_admin_after_n_failures_even_the_right_password_is_refused(root):
    for _ in range(3):
        _, response = admin_sign_in(ROOT, "wrong")
        assert response.status_code == 200
        assert "Please enter the correct email address and password" in response.content.decode()

    client, response = admin_sign_in(ROOT, TEST_PASSWORD)

    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 900
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302  # still sent to the sign-in page


def test_the_admin_and_the_dashboard_share_their_counters(root):
    sign_in(ROOT, "wrong")
    admin_sign_in(ROOT, "wrong")
    admin_sign_in("\uff52oot@acme.test", "wrong")  # a full-width r: the same account

    for attempt in (admin_sign_in, sign_in):
        client, response = attempt(ROOT, TEST_PASSWORD)
        assert response.status_code == 429 and not signed_in(client)


def test_the_admin_refusal_is_the_same_for_an_email_without_an_account(root):
    answers = {}
    for email in (ROOT, "nobody@acme.test"):
        for _ in range(3):
            admin_sign_in(email, "wrong")
        _, answers[email] = admin_sign_in(email, TEST_PASSWORD)
    known, unknown = answers[ROOT], answers["nobody@acme.test"]
    assert known.status_code == unknown.status_code == 429
    assert _comparable(known, ROOT) == _comparable(unknown, "nobody@acme.test")


def test_the_admin_sign_in_works_and_gives_its_slots_back(root):
    for _ in range(2):
        admin_sign_in(ROOT, "wrong")
    client, response = admin_sign_in(ROOT, TEST_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert signed_in(client) and client.get("/admin/").status_code == 200
    # Signed in, the admin's sign-in page sends a staff user on to the admin.
    assert client.get(ADMIN_LOGIN).status_code == 302

    for _ in range(2):
        admin_sign_in(ROOT, "wrong")
    for _ in range(12):  # more than the address allows: successes give their slot back
        client, response = admin_sign_in(ROOT, TEST_PASSWORD, address="198.51.100.8")
        assert response.status_code == 302


def test_a_dashboard_user_is_not_let_into_the_admin_and_that_counts(ana):
    for _ in range(3):
        client, response = admin_sign_in(EMAIL, TEST_PASSWORD)
        assert response.status_code == 200 and not signed_in(client)
    _, response = sign_in(EMAIL, TEST_PASSWORD)
    assert response.status_code == 429


def test_one_address_trying_many_emails_on_the_admin_is_stopped(root):
    for n in range(10):
        _, response = admin_sign_in(f"guess{n}@acme.test", "wrong", address="198.51.100.7")
        assert response.status_code == 200

    _, refused = admin_sign_in(ROOT, TEST_PASSWORD, address="198.51.100.7")
    _, refused_too = sign_in(ROOT, TEST_PASSWORD, address="198.51.100.7")
    client, elsewhere = admin_sign_in(ROOT, TEST_PASSWORD, address="203.0.113.5")

    assert refused.status_code == refused_too.status_code == 429
    assert elsewhere.status_code == 302 and signed_in(client)
