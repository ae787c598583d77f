"""POST /api/users/track over HTTP with Braze-shaped payloads."""

from __future__ import annotations

import pytest

from tests.factories import profile_track
from users.identifiers import sha256_hex
from users.models import Device, Profile, ProfileActivity

pytestmark = pytest.mark.django_db(transaction=True)

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"


def test_creates_a_profile_with_normalized_hashes(api, app_group):
    response = api.post(
        "/users/track",
        json={
            "attributes": [
                {
                    "external_id": "u1",
                    "email": "  Ana.Lopez@Example.COM ",
                    "phone": "(650) 253-0000",
                    "first_name": "Ana",
                    "country": "us",
                    "dob": "1990-02-14",
                    "favorite_color": "blue",
                }
            ]
        },
    )

    assert response.status_code == 201, response.text
    assert response.json() == {"message": "success", "attributes_processed": 1}
    profile = Profile.objects.get(app_group=app_group, external_id="u1")
    assert profile.email == "Ana.Lopez@Example.COM"
    assert profile.email_sha256 == sha256_hex("ana.lopez@example.com")
    assert profile.phone_e164 == "+16502530000"
    assert profile.phone_sha256 == sha256_hex("+16502530000")
    assert (profile.first_name, profile.country, str(profile.dob)) == ("Ana", "US", "1990-02-14")
    assert profile.custom_attributes == {"favorite_color": "blue"}
    assert len(profile.braze_id) == 24
    assert "X-RateLimit-Limit" in response.headers


def test_invalid_email_is_kept_with_its_reason_and_no_hash(api, app_group):
    response = api.post(
        "/users/track",
        json={"attributes": [{"external_id": "u1", "email": "not-an-email", "phone": "12"}]},
    )

    assert response.status_code == 201
    profile = Profile.objects.get(external_id="u1")
    assert (profile.email, profile.email_sha256) == ("not-an-email", None)
    assert profile.email_invalid_reason == "not an email address"
    assert (profile.phone_sha256, profile.phone_invalid_reason) == (
        None,
        "not a valid phone number",
    )


def test_national_phone_uses_the_app_groups_default_country(api, app_group):
    app_group.default_country = "GB"
    app_group.save()

    api.post("/users/track", json={"attributes": [{"external_id": "u1", "phone": "020 8366 1177"}]})

    assert Profile.objects.get(external_id="u1").phone_e164 == "+442083661177"


def test_updates_merge_custom_attributes_and_null_removes(api, app_group):
    profile_track(app_group, external_id="u1", first_name="Ana", visits=1, tags=["a", "b"], x=1)

    response = api.post(
        "/users/track",
        json={
            "attributes": [
                {
                    "external_id": "u1",
                    "first_name": None,
                    "visits": {"inc": 2},
                    "tags": {"add": ["c", "a"], "remove": ["b"]},
                    "x": None,
                    "plan": "gold",
                }
            ]
        },
    )

    assert response.status_code == 201
    profile = Profile.objects.get(external_id="u1")
    assert profile.first_name == ""
    # "add" moves an element already present to the end (Braze arrays are ordered sets).
    assert profile.custom_attributes == {"visits": 3, "tags": ["c", "a"], "plan": "gold"}


def test_inc_and_add_start_from_nothing(api, app_group):
    api.post(
        "/users/track",
        json={"attributes": [{"external_id": "u1", "n": {"inc": -4}, "l": {"add": [1, "1"]}}]},
    )

    assert Profile.objects.get(external_id="u1").custom_attributes == {"n": -4, "l": [1, "1"]}


def test_objects_for_the_same_user_apply_in_order(api, app_group):
    response = api.post(
        "/users/track",
        json={
            "attributes": [
                {"external_id": "u1", "n": 1, "first_name": "A"},
                {"external_id": "u1", "n": {"inc": 5}},
                {"external_id": "u1", "first_name": "B"},
            ]
        },
    )

    assert response.json()["attributes_processed"] == 3
    profile = Profile.objects.get(external_id="u1")
    assert (profile.first_name, profile.custom_attributes) == ("B", {"n": 6})


def test_partial_success_lists_bad_objects_by_index(api, app_group):
    response = api.post(
        "/users/track",
        json={
            "attributes": [
                {"external_id": "ok-1", "first_name": "A"},
                {"first_name": "no identifier"},
                "not an object",
                {"external_id": "ok-2", "country": "Atlantis"},
                {"external_id": "ok-3"},
            ],
            "events": [
                {"external_id": "ok-1", "name": "login", "time": "2024-05-01T10:00:00Z"},
                {"external_id": "ok-1", "name": "login"},
            ],
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "success"
    assert body["attributes_processed"] == 2
    assert body["events_processed"] == 1
    assert [(e["input_array"], e["index"]) for e in body["errors"]] == [
        ("attributes", 1),
        ("attributes", 2),
        ("attributes", 3),
        ("events", 1),
    ]
    assert body["errors"][0]["type"].startswith("missing identifier")
    assert set(Profile.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-3"}


def test_a_request_with_only_bad_objects_is_a_400_and_writes_nothing(api, app_group):
    response = api.post(
        "/users/track",
        json={"attributes": [{"first_name": "x"}, {"external_id": ""}]},
    )

    assert response.status_code == 400
    assert len(response.json()["errors"]) == 2
    assert not Profile.objects.exists()


def test_more_than_75_objects_is_fatal_and_writes_nothing(api, app_group):
    attributes = [{"external_id": f"u{i}"} for i in range(76)]

    response = api.post("/users/track", json={"attributes": attributes})

    assert response.status_code == 400
    assert "75" in response.json()["message"]
    assert not Profile.objects.exists()


def test_exactly_75_of_each_array_is_accepted(api, app_group):
    attributes = [{"external_id": f"u{i}", "n": i} for i in range(75)]
    events = [{"external_id": f"u{i}", "name": "e", "time": "2024-01-01"} for i in range(75)]
    purchases = [
        {
            "external_id": f"u{i}",
            "product_id": "p",
            "currency": "USD",
            "price": 1,
            "time": "2024-01-01",
        }
        for i in range(75)
    ]

    response = api.post(
        "/users/track", json={"attributes": attributes, "events": events, "purchases": purchases}
    )

    assert response.status_code == 201
    assert response.json() == {
        "message": "success",
        "attributes_processed": 75,
        "events_processed": 75,
        "purchases_processed": 75,
    }
    assert Profile.objects.count() == 75


def test_update_existing_only_skips_unknown_users(api, app_group):
    profile_track(app_group, external_id="known")

    response = api.post(
        "/users/track",
        json={
            "attributes": [
                {"external_id": "known", "_update_existing_only": True, "a": 1},
                {"external_id": "unknown", "_update_existing_only": True, "a": 1},
            ]
        },
    )

    assert response.status_code == 201
    assert response.json()["attributes_processed"] == 2
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["known"]


def test_alias_only_users_need_update_existing_only_false(api, app_group):
    alias = {"alias_name": "device123", "alias_label": "my_device_identifier"}

    api.post("/users/track", json={"attributes": [{"user_alias": alias, "first_name": "A"}]})
    assert not Profile.objects.exists()

    api.post(
        "/users/track",
        json={"attributes": [{"user_alias": alias, "_update_existing_only": False, "x": 1}]},
    )
    api.post("/users/track", json={"attributes": [{"user_alias": alias, "first_name": "B"}]})

    profile = Profile.objects.get()
    assert (profile.alias_name, profile.alias_label, profile.external_id) == (
        "device123",
        "my_device_identifier",
        None,
    )
    assert (profile.first_name, profile.custom_attributes) == ("B", {"x": 1})


def test_email_identifies_the_most_recently_updated_identified_profile(api, app_group):
    older = profile_track(app_group, external_id="u1", email="ana@example.com")
    profile_track(app_group, email="ana@example.com", _update_existing_only=False)

    response = api.post(
        "/users/track", json={"attributes": [{"email": "ANA@example.com ", "vip": True}]}
    )

    assert response.status_code == 201
    older.refresh_from_db()
    assert older.custom_attributes == {"vip": True}
    assert Profile.objects.filter(custom_attributes__vip=True).count() == 1


def test_email_or_phone_creates_an_email_only_user(api, app_group):
    api.post("/users/track", json={"attributes": [{"email": "new@example.com", "a": 1}]})
    api.post("/users/track", json={"attributes": [{"phone": "+1 650 253 0000", "b": 2}]})

    email_user = Profile.objects.get(email_sha256=sha256_hex("new@example.com"))
    phone_user = Profile.objects.get(phone_e164="+16502530000")
    assert email_user.external_id is None and phone_user.external_id is None
    assert (email_user.custom_attributes, phone_user.custom_attributes) == ({"a": 1}, {"b": 2})


def test_an_invalid_email_or_phone_cannot_identify(api, app_group):
    response = api.post(
        "/users/track",
        json={"attributes": [{"email": "nope"}, {"phone": "123"}, {"external_id": "u1"}]},
    )

    errors = response.json()["errors"]
    assert [(e["index"], e["type"]) for e in errors] == [
        (0, "'email' is not a valid email address"),
        (1, "'phone' is not a valid phone number"),
    ]


def test_braze_id_updates_but_never_creates(api, app_group):
    profile = profile_track(app_group, external_id="u1")

    response = api.post(
        "/users/track",
        json={"attributes": [{"braze_id": profile.braze_id, "a": 1}, {"braze_id": "f" * 24}]},
    )

    assert response.json()["attributes_processed"] == 1
    assert response.json()["errors"] == [
        {"type": "no user with this braze_id", "input_array": "attributes", "index": 1}
    ]
    profile.refresh_from_db()
    assert profile.custom_attributes == {"a": 1}


def test_devices_extension_sets_ad_id_hashes_on_the_profile(api, app_group):
    response = api.post(
        "/users/track",
        json={
            "attributes": [
                {
                    "external_id": "u1",
                    "devices": [
                        {"device_id": "iphone", "idfa": IDFA, "ad_tracking_enabled": True},
                        {"device_id": "pixel", "google_ad_id": GAID, "os": "Android 14"},
                    ],
                }
            ]
        },
    )

    assert response.status_code == 201, response.text
    profile = Profile.objects.get(external_id="u1")
    assert profile.idfa_sha256 == sha256_hex(IDFA.lower())
    assert profile.gaid_sha256 == sha256_hex(GAID)
    assert profile.ad_tracking_enabled is True
    assert Device.objects.filter(profile=profile).count() == 2


def test_the_latest_device_reporting_a_value_wins_and_clearing_falls_back(api, app_group):
    other_idfa = "11111111-2222-3333-4444-555555555555"
    api.post(
        "/users/track",
        json={"attributes": [{"external_id": "u1", "devices": [{"device_id": "a", "idfa": IDFA}]}]},
    )
    api.post(
        "/users/track",
        json={
            "attributes": [
                {"external_id": "u1", "devices": [{"device_id": "b", "idfa": other_idfa}]}
            ]
        },
    )
    # A device write that does not carry an IDFA leaves the mirror alone.
    api.post(
        "/users/track",
        json={"attributes": [{"external_id": "u1", "devices": [{"device_id": "a", "os": "iOS"}]}]},
    )
    profile = Profile.objects.get(external_id="u1")
    assert profile.idfa_sha256 == sha256_hex(other_idfa)

    # Device b drops its IDFA: device a's is the latest one reported.
    api.post(
        "/users/track",
        json={"attributes": [{"external_id": "u1", "devices": [{"device_id": "b", "idfa": None}]}]},
    )
    profile.refresh_from_db()
    assert profile.idfa_sha256 == sha256_hex(IDFA.lower())

    api.post("/users/track", json={"attributes": [{"external_id": "u1", "devices": None}]})
    profile.refresh_from_db()
    assert (profile.idfa_sha256, profile.ad_tracking_enabled) == (None, None)
    assert not Device.objects.exists()


def test_an_invalid_ad_id_is_kept_with_its_reason(api, app_group):
    api.post(
        "/users/track",
        json={
            "attributes": [
                {
                    "external_id": "u1",
                    "devices": [
                        {"device_id": "a", "idfa": "00000000-0000-0000-0000-000000000000"},
                        {"device_id": "b", "google_ad_id": "not-a-uuid"},
                    ],
                }
            ]
        },
    )

    profile = Profile.objects.get(external_id="u1")
    assert profile.idfa_sha256 is None and profile.idfa_invalid_reason.startswith("all-zero")
    assert (profile.gaid_sha256, profile.gaid_invalid_reason) == (None, "not a UUID")


def test_events_and_purchases_are_counted_per_name(api, app_group):
    response = api.post(
        "/users/track",
        json={
            "events": [
                {"external_id": "u1", "name": "played", "time": "2024-01-02T00:00:00Z"},
                {"external_id": "u1", "name": "played", "time": "2024-01-01T00:00:00+01:00"},
            ],
            "purchases": [
                {
                    "external_id": "u1",
                    "product_id": "gem",
                    "currency": "USD",
                    "price": 0.99,
                    "quantity": 3,
                    "time": "2024-01-03T00:00:00Z",
                }
            ],
        },
    )

    assert response.json() == {
        "message": "success",
        "events_processed": 2,
        "purchases_processed": 1,
    }
    event = ProfileActivity.objects.get(kind="event", name="played")
    assert event.count == 2
    assert event.first_at.isoformat() == "2023-12-31T23:00:00+00:00"
    assert ProfileActivity.objects.get(kind="purchase", name="gem").count == 3
    # An event creates its user, as in Braze.
    assert Profile.objects.filter(external_id="u1").exists()


def test_inc_on_a_string_is_an_error_for_that_object_only(api, app_group):
    profile_track(app_group, external_id="u1", plan="gold")

    response = api.post(
        "/users/track",
        json={"attributes": [{"external_id": "u1", "plan": {"inc": 1}, "first_name": "X"}]},
    )

    assert response.status_code == 400
    assert (
        response.json()["errors"][0]["type"] == "'plan' cannot be incremented: it is not a number"
    )
    assert Profile.objects.get(external_id="u1").first_name == ""


def test_another_app_groups_users_are_invisible(api, app_group, other_app_group):
    theirs = profile_track(other_app_group, external_id="u1", first_name="Theirs")

    api.post("/users/track", json={"attributes": [{"external_id": "u1", "first_name": "Ours"}]})
    response = api.post(
        "/users/track", json={"attributes": [{"braze_id": theirs.braze_id, "first_name": "Hack"}]}
    )

    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
    assert Profile.objects.get(app_group=app_group, external_id="u1").first_name == "Ours"
    assert response.status_code == 400


def test_resending_stored_values_writes_nothing(api, app_group):
    body = {"attributes": [{"external_id": "u1", "first_name": "Ana", "plan": "gold"}]}
    api.post("/users/track", json=body)
    before = Profile.objects.get(external_id="u1").updated_at

    again = api.post("/users/track", json=body)
    assert Profile.objects.get(external_id="u1").updated_at == before
    changed = api.post(
        "/users/track", json={"attributes": [{"external_id": "u1", "plan": "silver"}]}
    )

    assert again.status_code == changed.status_code == 201
    profile = Profile.objects.get(external_id="u1")
    assert profile.updated_at > before
    assert (profile.first_name, profile.custom_attributes) == ("Ana", {"plan": "silver"})
