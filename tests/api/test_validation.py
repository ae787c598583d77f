"""Malformed bodies get Braze's answers, word for word, now that models validate them.

Every expected answer below is what the hand-written checks answered before the models
(recorded from them), including the bodies with several problems, where Braze reports the first
its checks meet: an object's identifier before the rest, then its keys in the object's order,
and the Canvas looked up before the rest of a trigger request.
"""

from __future__ import annotations

import json

import pytest

from appgroups.models import ApiPermission
from canvas.models import Canvas, CanvasState, EntryType
from journeys.models import Entry
from tests.factories import rest_api_key
from users.models import Profile

pytestmark = pytest.mark.django_db

MUST_LIST = "'prioritization' must list identified, unidentified or most_recently_updated"


@pytest.fixture
def post(client, app_group, settings):
    settings.REST_API_RATE_LIMITS = {p: (10**9, 3600) for p in ApiPermission.values}
    _, secret = rest_api_key(app_group=app_group, permissions=ApiPermission.values)

    def post(path: str, body) -> tuple[int, dict]:
        response = client.post(
            f"/api{path}",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response["Content-Type"] == "application/json"
        return response.status_code, response.json()

    return post


def errors_of(body: dict) -> list[tuple[str, int, str]]:
    return [(e["input_array"], e["index"], e["type"]) for e in body["errors"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "Request body must be a JSON object"),
        ({"attributes": "x", "events": 5}, "'attributes' must be an array"),
        (
            {"attributes": [{"external_id": "u"}] * 76},
            "Max Input Length Exceeded: at most 75 attributes per request",
        ),
        ({"events": [], "purchases": None}, "Received no attributes, events, or purchases"),
    ],
    ids=["not-an-object", "not-an-array", "too-many", "no-objects"],
)
def test_track_fatal_errors(post, body, message):
    status, answer = post("/users/track", body)

    assert (status, answer) == (400, {"message": message, "errors": []})
    assert not Profile.objects.exists()


def test_track_reports_each_bad_object_by_its_first_problem(post):
    ok = {"external_id": "ok"}
    status, answer = post(
        "/users/track",
        {
            "attributes": [
                ok,
                {"external_id": "u1", "braze_id": "b", "first_name": 5},
                {"_update_existing_only": "yes"},
                {"email": "nope", "first_name": 5},
                {"external_id": "u2", "z": {"x": 1}, "first_name": 5},
                {"external_id": "u3", "first_name": 5, "z": {"x": 1}},
                {"phone": "1" * 70},
                {"phone": "+1 650 253 0000" + " " * 60},
                {"external_id": "u4", "devices": [{"device_id": "d", "zz": 1, "aa": 2, "os": 5}]},
                {"external_id": "u5", "devices": [{}] * 11},
                {"external_id": "u6", "": 1},
                {"external_id": "u7", "tags": {"add": ["a", None]}},
                {"external_id": "u8", "n": {"inc": 2**63}},
                {"user_alias": {"alias_name": " "}},
                {"external_id": "u9", "country": "Atlantis"},
                {"external_id": "u10", "devices": [
                    {"device_id": "d", "idfa": " " * 100, "ad_tracking_enabled": "yes"}
                ]},
                {"external_id": "u11", "visits": 2**63, "x": "\x00"},
            ],
            "events": [
                {"external_id": "ok", "name": "e"},
                {"email": "nope", "time": "x"},
                {"external_id": "ok", "time": "2024-01-01", "name": "e", "properties": []},
                # An email that does not identify the user is not read.
                {"external_id": "ok", "email": 5, "time": "2024-01-01T00:00:00Z", "name": "e"},
            ],
            "purchases": [
                {"external_id": "ok", "time": "2024-01-01", "product_id": "p", "currency": "US",
                 "price": True},
                {"external_id": "ok", "time": "2024-01-01", "product_id": "p", "currency": "USD",
                 "price": 1, "quantity": 0},
                {"external_id": "ok", "time": "yesterday", "product_id": 5},
            ],
        },
    )  # fmt: skip

    assert status == 201
    assert answer["attributes_processed"] == 1
    assert (answer["events_processed"], answer["purchases_processed"]) == (1, 0)
    assert errors_of(answer) == [
        ("attributes", 1, "only one of external_id, user_alias or braze_id may be given"),
        ("attributes", 2, "'_update_existing_only' must be a boolean"),
        ("attributes", 3, "'email' is not a valid email address"),
        ("attributes", 4, "'z': objects are only accepted as {\"inc\": n} or "
                          "{\"add\"/\"remove\": [...]}"),
        ("attributes", 5, "'first_name' must be a string"),
        ("attributes", 6, "'phone' is not a valid phone number"),
        ("attributes", 7, "'phone' is longer than 64 characters"),
        ("attributes", 8, "unknown device field 'aa'"),
        ("attributes", 9, "'devices' holds at most 10 devices"),
        ("attributes", 10, "custom attribute names must not be empty"),
        ("attributes", 11, "'tags.add' may only hold strings, numbers and booleans"),
        ("attributes", 12, "'n': inc is out of the 64-bit integer range"),
        ("attributes", 13, "'user_alias.alias_name' must not be empty"),
        ("attributes", 14, "'country' must be an ISO 3166-1 alpha-2 code"),
        ("attributes", 15, "'devices.ad_tracking_enabled' must be a boolean or null"),
        ("attributes", 16, "'visits' is out of the 64-bit integer range"),
        ("events", 0, "'time' is required"),
        ("events", 1, "'email' is not a valid email address"),
        ("events", 2, "'properties' must be an object"),
        ("purchases", 0, "'currency' must be a three-letter ISO 4217 code"),
        ("purchases", 1, "'quantity' must be between 1 and 100"),
        ("purchases", 2, "'time' must be an ISO 8601 time"),
    ]  # fmt: skip
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["ok"]


@pytest.mark.parametrize(
    ("body", "message", "errors"),
    [
        (
            {"external_ids": [], "braze_ids": ["x"]},
            "Provide exactly one of: external_ids, user_aliases, braze_ids, email_addresses, "
            "phone_numbers",
            [],
        ),
        ({"user_aliases": []}, "'user_aliases' must be a non-empty array", []),
        (
            {"braze_ids": ["x"] * 51},
            "The max number of ids per request was exceeded: at most 50",
            [],
        ),
        (
            {"email_addresses": [{"email": "nope", "prioritization": "x"},
                                 {"email": "a@b.co", "prioritization": []}, 5, {"email": 5}]},
            "Invalid 'email_addresses': nothing was deleted",
            [
                ("email_addresses", 0, "'email' is not valid"),
                ("email_addresses", 1, MUST_LIST),
                ("email_addresses", 2,
                 "'email_addresses' items must be objects with email and prioritization"),
                ("email_addresses", 3, "'email' must be a string"),
            ],
        ),
        (
            {"user_aliases": [{"alias_name": "n"}, {"alias_name": "n", "alias_label": "l"}]},
            "Invalid 'user_aliases': nothing was deleted",
            [("user_aliases", 0, "'alias_label' must be a string")],
        ),
    ],
    ids=["two-arrays", "empty", "too-many", "bad-items", "one-bad-alias"],
)  # fmt: skip
def test_delete_errors(post, app_group, body, message, errors):
    Profile.objects.create(app_group=app_group, external_id="x", braze_id="x")

    status, answer = post("/users/delete", body)

    assert (status, answer["message"], errors_of(answer)) == (400, message, errors)
    assert Profile.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"external_ids": ["u"] * 30, "braze_id": 5, "user_aliases": [
                {"alias_name": f"a{i}", "alias_label": "l"} for i in range(21)
            ]},
            "The max number of external_ids and aliases per request was exceeded: at most 50",
        ),
        (
            {"external_ids": ["u"], "fields_to_export": ["nope", "email"]},
            "'fields_to_export' has an unknown field: 'nope'",
        ),
        (
            {"external_ids": ["u"], "fields_to_export": ["nope", 5]},
            "'fields_to_export' must be an array of field names",
        ),
        (
            {"user_aliases": [5]},
            "'user_aliases' items must be objects with alias_name and alias_label",
        ),
        ({"braze_id": " "}, "'braze_id' must not be empty"),
        (
            {"external_ids": []},
            "Provide at least one of: external_ids, user_aliases, braze_id, device_id, "
            "email_address, phone",
        ),
        ({"external_ids": [5], "user_aliases": 5}, "'external_ids' must be a string"),
        ({"user_aliases": 5}, "'user_aliases' must be an array of user alias objects"),
    ],
    ids=["count-first", "unknown-field", "not-names", "alias-items", "blank", "nothing",
         "in-order", "aliases-not-an-array"],
)  # fmt: skip
def test_export_errors(post, body, message):
    assert post("/users/export/ids", body) == (400, {"message": message, "errors": []})


@pytest.fixture
def canvas(app_group):
    return Canvas.objects.create(
        app_group=app_group, name="Triggered", state=CanvasState.ACTIVE,
        entry_type=EntryType.API_TRIGGERED,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"canvas_id": "nope", "recipients": 5}, 404, "No Canvas with canvas_id 'nope'"),
        (
            {"context": {}, "canvas_entry_properties": {}, "broadcast": "x"},
            400, "request: use 'context' or 'canvas_entry_properties', not both",
        ),
        (
            {"broadcast": True, "audience": {}},
            400, "'audience' (connected audience) is not supported: the Canvas's Target "
            "Audience applies to every trigger",
        ),
    ],
    ids=["canvas-looked-up-first", "properties-twice-first", "audience"],
)  # fmt: skip
def test_trigger_errors(post, canvas, body, status, message):
    body = {"canvas_id": str(canvas.pk), **body}

    assert post("/canvas/trigger/send", body) == (status, {"message": message, "errors": []})


def test_trigger_lists_every_bad_recipient(post, canvas):
    status, answer = post(
        "/canvas/trigger/send",
        {"canvas_id": str(canvas.pk), "recipients": [
            {"external_user_id": "a", "send_to_existing_only": None},
            {"user_alias": {"alias_name": "a", "alias_label": "b"}, "send_to_existing_only": False},
            {"external_user_id": "b", "context": []},
            {"external_user_id": "c"},
            {"external_user_id": " ", "attributes": []},
            7,
        ]},
    )  # fmt: skip

    assert (status, answer["message"]) == (400, "Invalid recipients")
    assert errors_of(answer) == [
        ("recipients", 0, "recipients[0]: 'send_to_existing_only' must be true or false"),
        ("recipients", 1,
         "recipients[1]: 'send_to_existing_only' false needs an 'external_user_id'"),
        ("recipients", 2, "recipients[2]: 'context' must be an object"),
        ("recipients", 4, "recipients[4]: 'attributes' must be an object"),
        ("recipients", 5, "recipients[5] must be an object"),
    ]  # fmt: skip
    assert not Entry.objects.exists()


def test_trigger_checks_recipients_attributes_as_users_track_does(post, canvas):
    status, answer = post(
        "/canvas/trigger/send",
        {"canvas_id": str(canvas.pk), "recipients": [
            {"external_user_id": "new", "send_to_existing_only": False,
             "attributes": {"first_name": 5}},
        ]},
    )  # fmt: skip

    assert (status, answer["message"]) == (400, "Invalid recipient attributes")
    assert errors_of(answer) == [("attributes", 0, "'first_name' must be a string")]
    assert not Profile.objects.exists()


@pytest.mark.parametrize(
    ("recipient", "message"),
    [
        ({"external_user_id": "a\x00b"}, "'external_user_id' must not contain NUL characters"),
        (
            {"user_alias": {"alias_name": "a\x00", "alias_label": "l"}},
            "'user_alias' must not contain NUL characters",
        ),
        # Anything else wrong with the recipient is reported first, as it always was.
        (
            {"user_alias": {"alias_name": "a\x00", "alias_label": 5}},
            "'user_alias' needs alias_name and alias_label",
        ),
    ],
    ids=["external-id", "alias", "alias-otherwise-bad"],
)
def test_nul_in_a_recipients_identifier_is_a_400(post, canvas, recipient, message):
    """New: PostgreSQL cannot look such a value up (this was a 500 there)."""
    status, answer = post(
        "/canvas/trigger/send", {"canvas_id": str(canvas.pk), "recipients": [recipient]}
    )

    assert (status, answer["message"]) == (400, "Invalid recipients")
    assert errors_of(answer) == [("recipients", 0, f"recipients[0]: {message}")]
