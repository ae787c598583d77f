"""Every page is scoped to the current app group; another group's ids answer 404."""

from django.urls import reverse

from appgroups.middleware import SESSION_KEY
from appgroups.models import Role
from tests.factories import MembershipFactory

SWITCH_URL = reverse("appgroups:switch")


def test_switching_to_another_groups_id_answers_404(admin_client, app_group, other_app_group):
    response = admin_client.post(SWITCH_URL, {"app_group": other_app_group.id})

    assert response.status_code == 404
    assert admin_client.session[SESSION_KEY] != other_app_group.id


def test_switching_to_an_unknown_or_garbage_id_answers_404(admin_client):
    assert admin_client.post(SWITCH_URL, {"app_group": "999999"}).status_code == 404
    assert admin_client.post(SWITCH_URL, {"app_group": "abc"}).status_code == 404


def test_switching_changes_the_current_group_and_role(admin_client, admin, other_app_group):
    MembershipFactory(user=admin.user, app_group=other_app_group, role=Role.VIEWER)

    response = admin_client.post(SWITCH_URL, {"app_group": other_app_group.id, "next": "/canvas/"})

    assert response.status_code == 302
    assert response.url == "/canvas/"
    home = admin_client.get(reverse("home"))
    assert home.context["current_app_group"] == other_app_group
    assert home.context["current_membership"].role == Role.VIEWER
    # Admin in Acme, but only Viewer in Globex: the admin action is refused there.
    refused = admin_client.post(
        reverse("appgroups:settings"), {"name": "Renamed", "default_country": "US"}
    )
    assert refused.status_code == 403


def test_switch_ignores_an_offsite_next_url(admin_client, app_group):
    response = admin_client.post(
        SWITCH_URL, {"app_group": app_group.id, "next": "https://evil.example/"}
    )

    assert response.url == reverse("home")


def test_switch_requires_post(admin_client, app_group):
    assert admin_client.get(SWITCH_URL, {"app_group": app_group.id}).status_code == 405


def test_switcher_lists_only_the_users_groups(admin_client, other_app_group):
    content = admin_client.get(reverse("home")).content.decode()

    assert "Acme" in content
    assert "Globex" not in content


def test_every_dashboard_page_requires_login(client, db):
    for url in [
        "/",
        "/canvas/",
        "/users/",
        "/partners/",
        "/settings/api-keys/",
        "/settings/workspace/",
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_a_user_without_app_group_is_told_so(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(email="loner@example.com"))
    response = client.get(reverse("home"))

    assert response.status_code == 403
    assert "don't belong to any app group" in response.content.decode()


def test_csrf_is_enforced_on_forms(admin, app_group):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)

    response = client.post(reverse("appgroups:settings"), {"name": "X", "default_country": "US"})

    assert response.status_code == 403
    app_group.refresh_from_db()
    assert app_group.name == "Acme"


def test_odd_ids_in_urls_and_forms_answer_404_not_500(admin_client):
    for value in ["²", "1" * 40, "-3", " 7"]:
        assert admin_client.post(SWITCH_URL, {"app_group": value}).status_code == 404, value
    # A pagination cursor nobody could have produced is ignored, not a server error.
    assert admin_client.get(reverse("users:user-list"), {"before": "²"}).status_code == 200
