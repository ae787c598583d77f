"""Roles are enforced by services and views, not only hidden in templates."""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from appgroups.models import ROLE_PERMISSIONS, AppGroup, Permission, Role
from appgroups.services import app_group_settings_update

SETTINGS_URL = reverse("appgroups:settings")


def test_admin_has_every_permission_and_viewer_only_view():
    assert ROLE_PERMISSIONS[Role.ADMIN] == set(Permission.values)
    assert ROLE_PERMISSIONS[Role.VIEWER] == {Permission.VIEW}
    assert Permission.MANAGE_PARTNERS not in ROLE_PERMISSIONS[Role.MARKETER]
    assert Permission.MANAGE_CANVASES in ROLE_PERMISSIONS[Role.MARKETER]


@pytest.mark.parametrize("who", ["viewer_client", "marketer_client"])
def test_non_admins_see_workspace_settings_read_only_and_cannot_change_them(
    request, who, app_group
):
    client = request.getfixturevalue(who)

    get = client.get(SETTINGS_URL)
    post = client.post(SETTINGS_URL, {"name": "Hijacked", "default_country": "FR"})

    assert get.status_code == 200
    page = get.content.decode()
    assert 'name="name"' in page and 'value="Acme"' in page
    assert all(field.disabled for field in get.context["form"].fields.values())
    assert ">Save</button>" not in page
    assert "Only Admins can change them." in page
    assert post.status_code == 403
    assert "Limited access" in post.content.decode()
    app_group.refresh_from_db()
    assert (app_group.name, app_group.default_country) == ("Acme", "US")


@pytest.mark.parametrize(
    ("who", "shown", "hidden"),
    [
        (
            "viewer_client",
            ["APIs and Identifiers", "Workspace Settings"],
            ["Import Users", "Sync Status"],
        ),
        ("marketer_client", ["Import Users", "Workspace Settings"], ["Sync Status"]),
        ("admin_client", ["Import Users", "APIs and Identifiers", "Sync Status"], []),
    ],
)
def test_the_sidebar_shows_each_role_what_it_can_use(request, who, shown, hidden):
    client = request.getfixturevalue(who)
    sidebar = client.get(reverse("canvas:list")).content.decode()
    sidebar = sidebar[sidebar.index('<nav class="sidebar"') : sidebar.index("</nav>")]

    for label in shown:
        assert f">{label}</a>" in sidebar
    for label in hidden:
        assert f">{label}</a>" not in sidebar
    # Every page the sidebar links to answers this role (no "Limited access").
    for href in re.findall(r'href="([^"]+)"', sidebar):
        answer = client.get(href, follow=True)
        assert answer.status_code == 200, href
        assert "Limited access" not in answer.content.decode(), href


def test_admin_changes_workspace_settings(admin_client, app_group):
    response = admin_client.post(SETTINGS_URL, {"name": "Acme EU", "default_country": "FR"})

    assert response.status_code == 302
    app_group.refresh_from_db()
    assert (app_group.name, app_group.default_country) == ("Acme EU", "FR")


def test_settings_form_shows_field_errors_and_saves_nothing(admin_client, app_group):
    response = admin_client.post(SETTINGS_URL, {"name": "   ", "default_country": "XX"})

    assert response.status_code == 200
    form = response.context["form"]
    assert "name" in form.errors
    assert "default_country" in form.errors
    app_group.refresh_from_db()
    assert app_group.name == "Acme"


def test_settings_refuses_a_name_another_group_has(admin_client, app_group, other_app_group):
    response = admin_client.post(SETTINGS_URL, {"name": "Globex", "default_country": "US"})

    assert response.status_code == 200
    assert response.context["form"].errors["name"] == ["Another app group already has this name."]
    assert AppGroup.objects.filter(name="Globex").count() == 1


def test_service_refuses_viewer_even_without_the_view(viewer):
    with pytest.raises(PermissionDenied):
        app_group_settings_update(actor=viewer, name="Renamed", default_country="US")


def test_navigation_pages_answer_for_every_role(viewer_client):
    for name in [
        "home",
        "canvas:list",
        "users:user-list",
        "partners:technology-partners",
        "appgroups:api-settings",
    ]:
        response = viewer_client.get(reverse(name))
        assert response.status_code == 200, name
        assert "Acme" in response.content.decode()
