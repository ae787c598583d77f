"""Settings > APIs and Identifiers: keys shown once, stored hashed, Admin-only writes, scoping."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from appgroups.models import RestApiKey
from appgroups.services.api_keys import api_key_create, api_key_revoke
from tests.factories import rest_api_key

URL = reverse("appgroups:api-settings")


@pytest.mark.django_db
def test_admin_creates_a_key_that_is_shown_once_and_stored_hashed(admin_client, app_group):
    response = admin_client.post(
        URL, {"name": "Warehouse", "permissions": ["users.track", "users.export.ids"]}
    )

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    secret = response.context["created_secret"]
    key = RestApiKey.objects.get()
    assert (key.app_group, key.name) == (app_group, "Warehouse")
    assert key.permissions == ["users.export.ids", "users.track"]
    assert key.key_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(RestApiKey.objects.values_list())
    assert secret in response.content.decode()
    assert len(secret) == 36 and key.prefix == secret[:8]
    # Shown once: the next visit lists the key without its secret.
    later = admin_client.get(URL).content.decode()
    assert "Warehouse" in later and secret not in later


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["viewer_client", "marketer_client"])
def test_non_admins_see_keys_but_get_limited_access_for_create_and_revoke(request, who, app_group):
    client = request.getfixturevalue(who)
    key, _ = rest_api_key(app_group=app_group, permissions=["users.track"], name="Existing")

    page = client.get(URL)
    create = client.post(URL, {"name": "Mine", "permissions": ["users.track"]})
    revoke = client.post(reverse("appgroups:api-key-revoke", args=[key.id]))

    assert page.status_code == 200 and "Existing" in page.content.decode()
    assert "Create a REST API key" not in page.content.decode()
    assert create.status_code == revoke.status_code == 403
    assert "Limited access" in create.content.decode()
    assert RestApiKey.objects.count() == 1
    key.refresh_from_db()
    assert key.is_active


@pytest.mark.django_db
def test_a_key_needs_a_name_and_a_permission(admin_client):
    response = admin_client.post(URL, {"name": " ", "permissions": []})

    form = response.context["form"]
    assert set(form.errors) == {"name", "permissions"}
    assert not RestApiKey.objects.exists()
    assert response.context["created_secret"] is None


@pytest.mark.django_db
def test_unknown_permissions_are_refused(admin_client, admin):
    response = admin_client.post(URL, {"name": "x", "permissions": ["users.everything"]})

    assert "permissions" in response.context["form"].errors
    with pytest.raises(ValidationError):
        api_key_create(actor=admin, name="x", permissions=["users.everything"])


@pytest.mark.django_db
def test_admin_revokes_a_key_and_revoking_again_changes_nothing(admin_client, admin, app_group):
    key, _ = rest_api_key(app_group=app_group, permissions=["users.track"])

    response = admin_client.post(reverse("appgroups:api-key-revoke", args=[key.id]))

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == admin.user
    revoked_at = key.revoked_at
    api_key_revoke(actor=admin, api_key_id=key.id)
    key.refresh_from_db()
    assert key.revoked_at == revoked_at


@pytest.mark.django_db
def test_another_groups_key_cannot_be_revoked_or_seen(admin_client, other_app_group):
    theirs, _ = rest_api_key(app_group=other_app_group, permissions=["users.track"], name="Theirs")

    response = admin_client.post(reverse("appgroups:api-key-revoke", args=[theirs.id]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_active
    assert "Theirs" not in admin_client.get(URL).content.decode()


@pytest.mark.django_db
def test_revoke_needs_post(admin_client, app_group):
    key, _ = rest_api_key(app_group=app_group, permissions=["users.track"])

    assert admin_client.get(reverse("appgroups:api-key-revoke", args=[key.id])).status_code == 405


@pytest.mark.django_db
def test_services_check_the_role_themselves(viewer, marketer):
    for actor in (viewer, marketer):
        with pytest.raises(PermissionDenied):
            api_key_create(actor=actor, name="x", permissions=["users.track"])


@pytest.mark.django_db
def test_sending_the_same_form_twice_creates_one_key(admin_client):
    form = {"name": "Once", "permissions": ["users.track"], "nonce": "abc123"}

    first = admin_client.post(URL, form)
    second = admin_client.post(URL, form)

    assert RestApiKey.objects.count() == 1
    assert first.context["created_secret"] and second.context["created_secret"] is None
    assert "already created" in second.content.decode()
