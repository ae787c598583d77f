"""Every REST error Braze clients may meet, over HTTP: auth, permissions, shapes, sizes, limits.
None of them may be a 500, whatever the client sends."""

from __future__ import annotations

import time

import pytest

from api.rest import MAX_BODY_BYTES
from appgroups.models import ApiPermission, RestApiKey
from tests.factories import rest_api_key
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = ["/users/track", "/users/delete", "/users/export/ids"]
GOOD_BODIES = {
    "/users/track": {"attributes": [{"external_id": "u1"}]},
    "/users/delete": {"external_ids": ["u1"]},
    "/users/export/ids": {"external_ids": ["u1"]},
}


def assert_braze_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list)
    return body


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer nope",
        "Basic dXNlcjpwYXNz",
        "Bearer ' OR 1=1 --",
        "Bearer " + "x" * 5000,
    ],
)
def test_missing_or_unknown_key_is_401(api, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = api.post(path, json=GOOD_BODIES[path], key=None, headers=headers)

    assert_braze_error(response, 401)
    assert "X-RateLimit-Limit" not in response.headers


def test_a_quoted_key_is_401_as_in_braze(api, api_key):
    response = api.post("/users/track", json=GOOD_BODIES["/users/track"], key=f'"{api_key[1]}"')

    assert_braze_error(response, 401)


def test_a_revoked_key_is_401(api, api_key):
    RestApiKey.objects.filter(pk=api_key[0].pk).update(revoked_at="2024-01-01T00:00:00Z")

    response = api.post("/users/track", json=GOOD_BODIES["/users/track"])

    assert_braze_error(response, 401)
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("/users/track", ApiPermission.USERS_TRACK),
        ("/users/delete", ApiPermission.USERS_DELETE),
        ("/users/export/ids", ApiPermission.USERS_EXPORT_IDS),
    ],
)
def test_a_key_without_the_endpoints_permission_is_403(api, app_group, path, permission):
    others = [p for p in ApiPermission.values if p != permission]
    _, secret = rest_api_key(app_group=app_group, permissions=others)

    response = api.post(path, json=GOOD_BODIES[path], key=secret)

    body = assert_braze_error(response, 403)
    assert body["message"].startswith("Access Denied")
    assert permission in body["message"]
    assert not Profile.objects.exists()


def test_a_key_with_only_the_permission_it_needs_works(api, app_group):
    _, secret = rest_api_key(app_group=app_group, permissions=[ApiPermission.USERS_TRACK])

    response = api.post("/users/track", json=GOOD_BODIES["/users/track"], key=secret)

    assert response.status_code == 201


def test_last_used_time_is_recorded(api, api_key):
    assert api_key[0].last_used_at is None

    api.post("/users/export/ids", json=GOOD_BODIES["/users/export/ids"])

    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(api, path, method):
    response = api.request(method, path)

    assert_braze_error(response, 405)
    assert response.headers["Allow"] == "POST"


def test_unknown_api_paths_are_a_json_404(api):
    for path in ["/users/nope", "/", "/campaigns/trigger/send", "/users/track/extra"]:
        response = api.post(path, json={})
        assert_braze_error(response, 404)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"{",
        b"not json",
        b"\xff\xfe\x00",
        b'{"attributes": [}',
        b"[" * 5000 + b"]" * 5000,
        b'"\\ud800"',
        b"NaN",
    ],
)
def test_unparsable_bodies_are_400(api, path, raw):
    response = api.post(path, data=raw, headers={"Content-Type": "application/json"})

    assert_braze_error(response, 400)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        [],
        [1, 2],
        "attributes",
        42,
        None,
        True,
        {},
        {"attributes": "u1"},
        {"attributes": {"external_id": "u1"}},
        {"attributes": [], "events": [], "purchases": []},
        {"events": 7},
        {"external_ids": "u1"},
        {"external_ids": [None]},
        {"external_ids": [{"$gt": ""}]},
        {"user_aliases": [["a", "b"]]},
        {"fields_to_export": ["email"]},
        {"email_addresses": [{"email": "a@b.co"}]},
        {"email_addresses": [{"email": "a@b.co", "prioritization": ["oldest"]}]},
        {"external_ids": ["x" * 600]},
        {"external_ids": ["a\u0000b"]},
    ],
)
def test_wrong_shapes_are_400_never_500(api, path, body):
    response = api.post(path, json=body)

    assert_braze_error(response, 400)


def test_delete_takes_exactly_one_kind_of_identifier(api, app_group):
    response = api.post("/users/delete", json={"external_ids": ["a"], "braze_ids": ["b"]})

    assert "exactly one" in assert_braze_error(response, 400)["message"]


JUNK_VALUES = [
    None,
    True,
    0,
    -1,
    2**62,
    1.5e300,
    "",
    " ",
    "\u0000",
    "😀" * 300,
    "é",
    [],
    [None],
    [[[]]],
    {},
    {"inc": "1"},
    {"inc": True},
    {"inc": 2**70},
    {"add": "x"},
    {"add": [{"a": 1}]},
    {"remove": [[1]]},
    {"$set": 1},
    {"a": {"b": {"c": {"d": [1, {"e": None}]}}}},
]


@pytest.mark.parametrize("value", JUNK_VALUES)
def test_junk_in_every_attribute_position_never_500s(api, value):
    attributes = [
        {"external_id": value},
        {"user_alias": value},
        {"braze_id": value},
        {"email": value},
        {"phone": value},
        {"external_id": "u1", "_update_existing_only": value},
        {"external_id": "u1", "custom": value},
        {"external_id": "u1", "country": value, "dob": value, "gender": value},
        {"external_id": "u1", "time_zone": value, "email_subscribe": value, "language": value},
        {"external_id": "u1", "devices": value},
        {"external_id": "u1", "devices": [value]},
        {"external_id": "u1", "devices": [{"device_id": "d", "idfa": value}]},
        {"external_id": "u1", "devices": [{"device_id": value, "ad_tracking_enabled": value}]},
        {"external_id": "u1", "first_name": value, "email": value, "phone": value},
        {"user_alias": {"alias_name": value, "alias_label": "l"}},
    ]
    events = [
        {"external_id": "u1", "name": value, "time": "2024-01-01T00:00:00Z"},
        {"external_id": "u1", "name": "n", "time": value},
        {"external_id": "u1", "name": "n", "time": "2024-01-01", "properties": value},
    ]
    purchases = [
        {"external_id": "u1", "product_id": "p", "currency": value, "price": 1, "time": "2024-01-01"},
        {"external_id": "u1", "product_id": "p", "currency": "USD", "price": value, "time": "2024-01-01"},
        {"external_id": "u1", "product_id": value, "currency": "USD", "price": 1, "time": "2024-01-01"},
        {"external_id": "u1", "product_id": "p", "currency": "EUR", "price": 1, "quantity": value,
         "time": "2024-01-01"},
    ]  # fmt: skip

    response = api.post(
        "/users/track", json={"attributes": attributes, "events": events, "purchases": purchases}
    )

    assert response.status_code in (201, 400), response.text
    body = response.json()
    assert body["message"] == "success" or body["errors"]


def test_odd_but_valid_strings_are_stored_as_given(api, app_group):
    name = "Zoë 😀 \u202e ' \" <script>"
    response = api.post(
        "/users/track",
        json={"attributes": [{"external_id": "ü-1 😀", "first_name": name, "ключ": "значение"}]},
    )

    assert response.status_code == 201
    profile = Profile.objects.get(external_id="ü-1 😀")
    assert profile.first_name == name
    assert profile.custom_attributes == {"ключ": "значение"}


def test_a_body_over_the_limit_is_413_and_writes_nothing(api):
    padding = "x" * (MAX_BODY_BYTES + 10)
    body = '{"attributes": [{"external_id": "u1", "pad": "' + padding + '"}]}'

    response = api.post(
        "/users/track", data=body.encode(), headers={"Content-Type": "application/json"}
    )

    assert_braze_error(response, 413)
    assert not Profile.objects.exists()


def test_too_many_ids_for_delete_and_export_is_400(api):
    ids = [f"u{i}" for i in range(51)]

    delete = api.post("/users/delete", json={"external_ids": ids})
    export = api.post("/users/export/ids", json={"external_ids": ids[:30], "user_aliases": [
        {"alias_name": f"a{i}", "alias_label": "l"} for i in range(21)
    ]})  # fmt: skip

    assert "max number" in assert_braze_error(delete, 400)["message"]
    assert "max number" in assert_braze_error(export, 400)["message"]


def test_rate_limit_is_per_key_and_endpoint_with_braze_headers(api, app_group, settings):
    settings.REST_API_RATE_LIMITS = {ApiPermission.USERS_EXPORT_IDS: (3, 3600)}
    body = GOOD_BODIES["/users/export/ids"]

    answers = [api.post("/users/export/ids", json=body) for _ in range(4)]

    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 3600
    assert_braze_error(answers[-1], 429)
    assert int(answers[-1].headers["Retry-After"]) > 0
    # Another endpoint of the same key, and the same endpoint with another key, still answer.
    assert api.post("/users/track", json=GOOD_BODIES["/users/track"]).status_code == 201
    _, other = rest_api_key(app_group=app_group, permissions=[ApiPermission.USERS_EXPORT_IDS])
    assert api.post("/users/export/ids", json=body, key=other).status_code == 201


def test_rate_limited_requests_write_nothing(api, settings):
    settings.REST_API_RATE_LIMITS = {ApiPermission.USERS_TRACK: (1, 3600)}
    api.post("/users/track", json={"attributes": [{"external_id": "first"}]})

    response = api.post("/users/track", json={"attributes": [{"external_id": "second"}]})

    assert response.status_code == 429
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["first"]


def test_csrf_is_not_required_and_no_session_is_used(api):
    # requests sends no CSRF token and no cookie: token auth alone is enough.
    response = api.post("/users/track", json=GOOD_BODIES["/users/track"])

    assert response.status_code == 201
    assert "sessionid" not in response.cookies


def test_an_unexpected_failure_is_a_json_500_without_the_body_in_the_log(api, monkeypatch, caplog):
    def explode(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("api.users.profiles_track", explode)

    response = api.post(
        "/users/track", json={"attributes": [{"external_id": "u1", "email": "secret@example.com"}]}
    )

    assert_braze_error(response, 500)
    assert response.json()["message"] == "Internal server error"
    assert "secret@example.com" not in caplog.text
    assert "database went away" in caplog.text
