"""CSRF on every form: every dashboard URL refuses a POST without the token (403, nothing
changed), and no view outside the REST API (bearer keys, not cookies) is CSRF-exempt."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from tests.security.conftest import assert_unchanged, snapshot
from tests.security.test_tenancy import ROUTES

pytestmark = pytest.mark.django_db


def _post_data(world, spec) -> dict:
    return spec.post(world) if spec.post else {"anything": "x"}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world, name):
    spec = ROUTES[name]
    # Acme's Admin may do everything: a 403 here can only be the missing token.
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.acme_admin.user)
    url = reverse(name, kwargs=spec.ids(world) if spec.ids else {})
    before = snapshot()

    response = client.post(url, _post_data(world, spec))

    assert response.status_code == 403, (name, response.status_code)
    assert b"CSRF" in response.content
    assert_unchanged(before, snapshot(), f"POST {url} without a CSRF token")


def test_a_token_from_another_session_is_refused(world):
    """The token is tied to the session's cookie: one lifted from another browser fails."""
    other = Client(enforce_csrf_checks=True)
    other.force_login(world.globex_admin.user)
    other.get(reverse("appgroups:settings"))
    stolen = other.cookies["csrftoken"].value

    victim = Client(enforce_csrf_checks=True)
    victim.force_login(world.acme_admin.user)
    response = victim.post(
        reverse("appgroups:settings"),
        {"name": "Hijacked", "default_country": "FR", "csrfmiddlewaretoken": stolen},
    )

    assert response.status_code == 403
    world.acme.refresh_from_db()
    assert world.acme.name == "Acme"


def test_signing_in_and_out_need_the_token(world):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("login"), {"username": world.acme_admin.user.email, "password": "x"}
    )
    assert response.status_code == 403

    client.force_login(world.acme_admin.user)
    assert client.post(reverse("logout")).status_code == 403
    assert client.get(reverse("home")).status_code == 200  # still signed in


def test_no_view_outside_the_rest_api_is_csrf_exempt():
    exempt = []
    for pattern_route, callback in _callbacks(get_resolver()):
        if getattr(callback, "csrf_exempt", False) and not pattern_route.startswith("api/"):
            exempt.append(pattern_route)
    assert not exempt, f"CSRF-exempt outside /api/: {exempt}"


def test_every_rest_endpoint_is_exempt_because_it_takes_no_cookie(world, client):
    """The REST API is exempt, and a dashboard session cookie does not authenticate it."""
    client.force_login(world.acme_admin.user)
    response = client.post(
        "/api/users/track",
        {"attributes": [{"external_id": "x", "email": "x@example.com"}]},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json()["message"].startswith("Invalid API key")


def _callbacks(resolver, prefix=""):
    from django.urls import URLPattern, URLResolver

    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _callbacks(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback
