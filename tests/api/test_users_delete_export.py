"""POST /api/users/delete and /api/users/export/ids over HTTP, Braze shapes."""

from __future__ import annotations

import pytest

from tests.factories import profile_track
from users.models import Device, Profile

pytestmark = pytest.mark.django_db(transaction=True)

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"


def test_delete_by_external_ids_counts_only_existing_users(api, app_group):
    profile_track(app_group, external_id="u1", devices=[{"device_id": "d", "idfa": IDFA}])
    profile_track(app_group, external_id="u2")
    profile_track(app_group, external_id="u3")

    response = api.post("/users/delete", json={"external_ids": ["u1", "u2", "u1", "nobody"]})

    assert response.status_code == 201
    assert response.json() == {"message": "success", "deleted": 2}
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["u3"]
    assert not Device.objects.exists()


def test_delete_by_alias_and_braze_id(api, app_group):
    alias = profile_track(
        app_group,
        user_alias={"alias_name": "n", "alias_label": "l"},
        _update_existing_only=False,
    )
    other = profile_track(app_group, external_id="u2")

    by_alias = api.post(
        "/users/delete", json={"user_aliases": [{"alias_name": "n", "alias_label": "l"}]}
    )
    by_braze_id = api.post("/users/delete", json={"braze_ids": [other.braze_id]})

    assert by_alias.json()["deleted"] == by_braze_id.json()["deleted"] == 1
    assert not Profile.objects.filter(id__in=[alias.id, other.id]).exists()


def test_delete_by_email_follows_prioritization(api, app_group):
    identified = profile_track(app_group, external_id="u1", email="ana@example.com")
    anonymous = profile_track(
        app_group,
        user_alias={"alias_name": "a", "alias_label": "l"},
        email="ANA@example.com",
        _update_existing_only=False,
    )

    response = api.post(
        "/users/delete",
        json={
            "email_addresses": [
                {"email": " ana@example.com", "prioritization": ["unidentified", "identified"]}
            ]
        },
    )

    assert response.json()["deleted"] == 1
    assert list(Profile.objects.values_list("id", flat=True)) == [identified.id]
    assert not Profile.objects.filter(id=anonymous.id).exists()


def test_delete_by_phone_with_most_recently_updated(api, app_group):
    older = profile_track(app_group, external_id="u1", phone="+1 650 253 0000")
    newer = profile_track(app_group, external_id="u2", phone="(650) 253-0000")

    response = api.post(
        "/users/delete",
        json={
            "phone_numbers": [
                {"phone": "+16502530000", "prioritization": ["most_recently_updated"]}
            ]
        },
    )

    assert response.json()["deleted"] == 1
    assert Profile.objects.filter(id=older.id).exists()
    assert not Profile.objects.filter(id=newer.id).exists()


def test_one_bad_delete_item_deletes_nothing(api, app_group):
    profile_track(app_group, external_id="u1")

    response = api.post("/users/delete", json={"external_ids": ["u1", 7]})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"type": "'external_ids' must be a string", "input_array": "external_ids", "index": 1}
    ]
    assert Profile.objects.filter(external_id="u1").exists()


def test_delete_never_reaches_another_app_group(api, app_group, other_app_group):
    theirs = profile_track(other_app_group, external_id="u1")

    external = api.post("/users/delete", json={"external_ids": ["u1"]})
    braze = api.post("/users/delete", json={"braze_ids": [theirs.braze_id]})

    assert external.json()["deleted"] == braze.json()["deleted"] == 0
    assert Profile.objects.filter(id=theirs.id).exists()


def test_export_returns_braze_user_objects_with_devices(api, app_group):
    profile_track(
        app_group,
        external_id="u1",
        email="Ana@Example.com",
        first_name="Ana",
        dob="1990-02-14",
        plan="gold",
        devices=[
            {"device_id": "iphone", "idfa": IDFA, "ad_tracking_enabled": True, "os": "iOS 17"}
        ],
    )
    api.post(
        "/users/track",
        json={"events": [{"external_id": "u1", "name": "login", "time": "2024-01-01T00:00:00Z"}]},
    )

    response = api.post("/users/export/ids", json={"external_ids": ["u1", "ghost"]})

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "success"
    assert body["invalid_user_ids"] == ["ghost"]
    [user] = body["users"]
    assert user["external_id"] == "u1"
    assert (user["email"], user["first_name"], user["dob"]) == (
        "Ana@Example.com",
        "Ana",
        "1990-02-14",
    )
    assert user["custom_attributes"] == {"plan": "gold"}
    assert user["devices"] == [
        {"device_id": "iphone", "os": "iOS 17", "idfa": IDFA, "ad_tracking_enabled": True}
    ]
    assert user["custom_events"][0]["name"] == "login"
    assert user["custom_events"][0]["count"] == 1
    assert len(user["braze_id"]) == 24
    assert "phone" not in user  # empty fields are left out, as Braze does


def test_export_by_each_kind_of_identifier(api, app_group):
    profile = profile_track(
        app_group,
        external_id="u1",
        email="ana@example.com",
        phone="+1 650 253 0000",
        devices=[{"device_id": "dev-1"}],
    )
    alias = profile_track(
        app_group, user_alias={"alias_name": "n", "alias_label": "l"}, _update_existing_only=False
    )

    for body in (
        {"email_address": "ANA@example.com"},
        {"phone": "(650) 253-0000"},
        {"braze_id": profile.braze_id},
        {"device_id": "dev-1"},
    ):
        users = api.post("/users/export/ids", json=body).json()["users"]
        assert [u["braze_id"] for u in users] == [profile.braze_id], body

    by_alias = api.post(
        "/users/export/ids", json={"user_aliases": [{"alias_name": "n", "alias_label": "l"}]}
    ).json()["users"]
    assert by_alias[0]["user_aliases"] == [{"alias_name": "n", "alias_label": "l"}]
    assert by_alias[0]["braze_id"] == alias.braze_id


def test_export_fields_to_export_limits_the_fields(api, app_group):
    profile_track(app_group, external_id="u1", email="a@example.com", first_name="Ana", x=1)

    response = api.post(
        "/users/export/ids", json={"external_ids": ["u1"], "fields_to_export": ["first_name"]}
    )

    assert response.json()["users"] == [{"first_name": "Ana"}]


def test_export_cannot_see_another_app_groups_users(api, app_group, other_app_group):
    theirs = profile_track(other_app_group, external_id="u1", email="ana@example.com")

    for body in (
        {"external_ids": ["u1"]},
        {"braze_id": theirs.braze_id},
        {"email_address": "ana@example.com"},
    ):
        response = api.post("/users/export/ids", json=body)
        assert response.status_code == 201
        assert response.json()["users"] == []
        assert response.json()["invalid_user_ids"]
