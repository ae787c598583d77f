"""Tenancy and roles, swept over every URL the project routes.

ROUTES below declares, for every named URL of the dashboard, how to fill its ids with Acme's
objects, what a POST to it sends, and the lowest role that may POST. The sweep walks Django's
resolver, so a URL added later without a row here fails `test_every_url_is_in_the_sweep`: add
the row, and the tenancy and role tests then cover it.

- Tenancy: Globex's Admin, Marketer and Viewer asking for Acme's objects (by URL ids, and by
  ids in form fields) get 404 or 403, the same answer as for an id that does not exist, no Acme
  data in the page, and no row of the database changes.
- Roles: for every write, each role below the lowest allowed one gets 403 and nothing changes;
  the allowed role gets through (so the payload is a real write and the test could fail).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from appgroups.models import Role
from tests.security.conftest import World, assert_unchanged, snapshot

pytestmark = pytest.mark.django_db

MISSING_ID = 987_654_321

ROLE_ORDER = [Role.VIEWER, Role.MARKETER, Role.ADMIN]


@dataclass(frozen=True)
class Route:
    # kwargs for Acme's objects (None: the URL names no object).
    ids: Callable[[World], dict] | None = None
    # What a POST sends (None: the view takes no POST that writes).
    post: Callable[[World], dict] | None = None
    # The lowest role that may POST (None: no write).
    write_role: str | None = None
    # Ids of Globex's own objects mixed with Acme's (e.g. Globex's Canvas with Acme's step).
    mixed_ids: Callable[[World], dict] | None = None
    # Who makes the control POST, when not the lowest allowed role (a per-user object).
    control_as: str | None = None


def canvas_ids(w: World) -> dict:
    return {"pk": w.canvas.pk}


def step_ids(w: World) -> dict:
    return {"pk": w.canvas.pk, "step_id": w.sync_step.pk}


def mixed_step_ids(w: World) -> dict:
    return {"pk": w.globex_canvas.pk, "step_id": w.sync_step.pk}


def nothing(w: World) -> dict:
    return {}


BASICS = {"name": "Hijacked", "description": "changed", "tags": "x"}
SYNC_SAVE = {"op": "save", "name": "Hijacked", "partner": "tiktok", "action": "add"}

ROUTES: dict[str, Route] = {
    # Public or per-user
    "home": Route(),
    "login": Route(),
    "logout": Route(),
    "healthz": Route(),
    "metrics": Route(),
    "appgroups:switch": Route(post=lambda w: {"app_group": w.acme.pk}, write_role=Role.VIEWER),
    # A person's own language: every role may choose it, and it names no app group's object.
    "appgroups:language-set": Route(
        post=lambda w: {"language": "de", "next": "/"}, write_role=Role.VIEWER
    ),
    # Settings
    "appgroups:settings": Route(
        post=lambda w: {"name": "Hijacked", "default_country": "FR"}, write_role=Role.ADMIN
    ),
    "appgroups:api-settings": Route(
        post=lambda w: {"name": "Stolen", "permissions": ["users.track"]}, write_role=Role.ADMIN
    ),
    "appgroups:api-key-revoke": Route(
        ids=lambda w: {"api_key_id": w.api_key.pk}, post=nothing, write_role=Role.ADMIN
    ),
    "monitoring:sync-status": Route(),
    # Audience
    "users:user-list": Route(),
    "users:user-detail": Route(ids=lambda w: {"profile_id": w.profile.pk}),
    "users:user-import": Route(post=lambda w: {"file": _csv_upload()}, write_role=Role.MARKETER),
    "users:user-import-detail": Route(ids=lambda w: {"user_import_id": w.user_import.pk}),
    "users:user-import-report": Route(ids=lambda w: {"user_import_id": w.user_import.pk}),
    # Partners
    "partners:technology-partners": Route(),
    "partners:tiktok": Route(),
    "partners:tiktok-connect": Route(post=nothing, write_role=Role.ADMIN),
    "partners:tiktok-callback": Route(),  # the OAuth state: see test_oauth_state.py
    "partners:tiktok-accounts": Route(
        post=lambda w: {"advertiser_ids": [w.ad_account.advertiser_id]}, write_role=Role.ADMIN
    ),
    "partners:tiktok-ad-account-disconnect": Route(
        ids=lambda w: {"pk": w.ad_account.pk}, post=nothing, write_role=Role.ADMIN
    ),
    "partners:tiktok-disconnect": Route(post=nothing, write_role=Role.ADMIN),
    "partners:tiktok-check": Route(post=nothing, write_role=Role.ADMIN),
    # Canvas
    "canvas:list": Route(),
    "canvas:create": Route(post=lambda w: BASICS, write_role=Role.MARKETER),
    "canvas:detail": Route(ids=canvas_ids),
    "canvas:basics": Route(ids=canvas_ids, post=lambda w: BASICS, write_role=Role.MARKETER),
    "canvas:entry": Route(
        ids=canvas_ids,
        post=lambda w: {"entry_type": "api", "schedule_mode": "launch"},
        write_role=Role.MARKETER,
    ),
    "canvas:audience": Route(
        ids=canvas_ids, post=lambda w: {"allow_reentry": "on"}, write_role=Role.MARKETER
    ),
    "canvas:build": Route(ids=canvas_ids),
    "canvas:summary": Route(ids=canvas_ids),
    "canvas:launch": Route(ids=canvas_ids, post=nothing, write_role=Role.MARKETER),
    "canvas:stop": Route(ids=canvas_ids, post=nothing, write_role=Role.MARKETER),
    "canvas:resume": Route(ids=canvas_ids, post=nothing, write_role=Role.MARKETER),
    "canvas:archive": Route(ids=canvas_ids, post=nothing, write_role=Role.MARKETER),
    "canvas:step-add": Route(
        ids=canvas_ids, post=lambda w: {"step_type": "delay"}, write_role=Role.MARKETER
    ),
    "canvas:step-edit": Route(
        ids=step_ids,
        post=lambda w: {"name": "Hijacked"},
        write_role=Role.MARKETER,
        mixed_ids=mixed_step_ids,
    ),
    "canvas:step-delete": Route(
        ids=step_ids, post=nothing, write_role=Role.MARKETER, mixed_ids=mixed_step_ids
    ),
    "canvas:audience-sync": Route(
        ids=step_ids,
        post=lambda w: (
            SYNC_SAVE | {"ad_account": w.ad_account.pk, "audience": f"local:{w.audience.pk}"}
        ),
        write_role=Role.MARKETER,
        mixed_ids=mixed_step_ids,
    ),
    "canvas:audience-options": Route(ids=step_ids, mixed_ids=mixed_step_ids),
    "analytics:canvas-analytics": Route(ids=canvas_ids),
    # Notifications (each user's own)
    "notifications:list": Route(),
    "notifications:read": Route(
        ids=lambda w: {"pk": w.notification.pk},
        post=nothing,
        write_role=Role.VIEWER,
        control_as=Role.ADMIN,
    ),
    "notifications:read-all": Route(post=nothing, write_role=Role.VIEWER),
}

# Django admin (staff only: see test_admin_is_for_staff_only) and the REST API (bearer keys:
# see test_rest_tenancy.py) are swept elsewhere.
ELSEWHERE = re.compile(r"^(admin|api)/")


def _csv_upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "stolen.csv", b"external_id,email\nhijack-1,hijack@example.com\n", "text/csv"
    )


def _walk(resolver, prefix="", namespaces=()):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            spaces = namespaces + ((pattern.namespace,) if pattern.namespace else ())
            yield from _walk(pattern, prefix + str(pattern.pattern), spaces)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespaces, pattern.name)) if pattern.name else None
            yield name, prefix + str(pattern.pattern), list(pattern.pattern.regex.groupindex)


def routed_urls() -> list[tuple[str | None, str, list[str]]]:
    return [u for u in _walk(get_resolver()) if not ELSEWHERE.match(u[1])]


def test_every_url_is_in_the_sweep():
    unlisted = [(name, route) for name, route, _ in routed_urls() if name not in ROUTES]
    assert not unlisted, f"add these URLs to ROUTES in {__file__}: {unlisted}"
    stale = set(ROUTES) - {name for name, _, _ in routed_urls()}
    assert not stale, f"ROUTES names URLs that no longer exist: {stale}"


def test_every_url_with_an_id_says_how_to_name_acmes_object():
    for name, route, params in routed_urls():
        if params:
            assert ROUTES[name].ids is not None, f"{name} ({route}) takes {params}"


def _client(membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def _request(client: Client, method: str, url: str, data: dict | None):
    if method == "GET":
        return client.get(url)
    return client.post(url, data or {})


def _as_missing(kwargs: dict) -> dict:
    return {key: MISSING_ID for key in kwargs}


ID_ROUTES = sorted(name for name, spec in ROUTES.items() if spec.ids is not None)


@pytest.mark.parametrize("name", ID_ROUTES)
@pytest.mark.parametrize("role", ["admin", "marketer", "viewer"])
def test_another_app_group_cannot_reach_acmes_objects(world, name, role):
    spec = ROUTES[name]
    client = _client(world.member("globex", role))
    kwargs_list = [spec.ids(world)] + ([spec.mixed_ids(world)] if spec.mixed_ids else [])
    for kwargs in kwargs_list:
        url = reverse(name, kwargs=kwargs)
        missing = reverse(name, kwargs=_as_missing(kwargs))
        for method in ("GET", "POST"):
            data = spec.post(world) if (method == "POST" and spec.post) else {}
            before = snapshot()
            response = _request(client, method, url, data)
            assert_unchanged(before, snapshot(), f"{role} of Globex {method} {url}")
            assert response.status_code in (403, 404, 405), (method, url, response.status_code)
            body = response.content.decode(errors="replace")
            for secret in world.acme_strings:
                assert secret not in body, (method, url, secret)
            # No oracle: an existing id of Acme's answers like an id nobody has.
            fresh = _request(client, method, missing, spec.post(world) if spec.post else {})
            assert fresh.status_code == response.status_code, (method, url)


@pytest.mark.parametrize("name", ID_ROUTES)
def test_the_sweep_names_real_objects(world, name):
    """Control: Acme's own Admin reaches every object the sweep names (no 403/404)."""
    spec = ROUTES[name]
    response = _client(world.acme_admin).get(reverse(name, kwargs=spec.ids(world)))
    assert response.status_code in (200, 302, 405), (name, response.status_code)


LIST_PAGES = [
    name
    for name, spec in ROUTES.items()
    if spec.ids is None and name not in ("login", "logout", "metrics", "healthz")
]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_pages_without_ids_show_nothing_of_another_app_group(world, name):
    response = _client(world.globex_admin).get(reverse(name), follow=True)
    body = response.content.decode(errors="replace")
    assert response.status_code in (200, 403, 405), (name, response.status_code)
    for secret in world.acme_strings:
        assert secret not in body, (name, secret)


def test_searching_users_finds_nothing_of_another_app_group(world):
    client = _client(world.globex_admin)
    response = client.post(reverse("users:user-list"), {"q": world.profile.email})
    # (The query itself is echoed in the search box.)
    assert list(response.context["profiles"]) == []
    body = response.content.decode()
    assert world.profile.braze_id not in body and world.profile.external_id not in body


# Ids of Acme's objects typed into Globex's own forms


def test_ids_of_another_app_group_in_form_fields_change_nothing(world):
    client = _client(world.globex_admin)
    canvas, step = world.globex_canvas, world.globex_step
    attempts = [
        (reverse("appgroups:switch"), {"app_group": world.acme.pk}),
        (reverse("canvas:step-add", args=[canvas.pk]),
         {"step_type": "delay", "parent": world.sync_step.pk}),
        (reverse("canvas:audience-sync", args=[canvas.pk, step.pk]),
         SYNC_SAVE | {"ad_account": world.ad_account.pk, "audience": f"local:{world.audience.pk}"}),
        (reverse("canvas:audience-sync", args=[canvas.pk, step.pk]),
         SYNC_SAVE | {"ad_account": world.globex_ad_account.pk,
                      "audience": f"local:{world.audience.pk}"}),
        (reverse("canvas:audience-sync", args=[canvas.pk, step.pk]),
         {"op": "create_audience", "name": "x", "partner": "tiktok",
          "ad_account": world.ad_account.pk, "audience_query": "Stolen", "action": "add",
          "match_fields": ["email"]}),
    ]  # fmt: skip
    for url, data in attempts:
        before = snapshot()
        response = client.post(url, data)
        after = snapshot()
        assert response.status_code in (200, 302, 403, 404), (url, data)
        assert_unchanged(before, after, f"{url} {data}")
        body = response.content.decode(errors="replace")
        for secret in world.acme_strings:
            assert secret not in body, (url, secret)
    # The type-ahead does not list Acme's audiences either.
    options = client.get(
        reverse("canvas:audience-options", args=[canvas.pk, step.pk]),
        {"ad_account": world.ad_account.pk, "audience_query": "Acme"},
    )
    assert world.audience.name not in options.content.decode()


# Roles


WRITE_ROUTES = sorted(name for name, spec in ROUTES.items() if spec.write_role is not None)


@pytest.mark.parametrize("name", WRITE_ROUTES)
def test_every_write_refuses_lower_roles_and_changes_nothing(world, name):
    spec = ROUTES[name]
    url = reverse(name, kwargs=spec.ids(world) if spec.ids else {})
    lower = ROLE_ORDER[: ROLE_ORDER.index(spec.write_role)]
    for role in lower:
        before = snapshot()
        response = _client(world.member("acme", role)).post(url, spec.post(world))
        assert response.status_code == 403, (name, role, response.status_code)
        assert "Limited access" in response.content.decode()
        assert_unchanged(before, snapshot(), f"{role} POST {url}")
    # Control: the lowest allowed role is not refused.
    allowed = spec.control_as or spec.write_role
    response = _client(world.member("acme", allowed)).post(url, spec.post(world))
    assert response.status_code not in (403, 404), (name, allowed, response.status_code)


def test_admin_is_for_staff_only(world):
    client = _client(world.acme_admin)
    for url in ["/admin/", "/admin/partners/tiktokconnection/", "/admin/appgroups/user/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/admin/login/"), url
