"""/users/track bodies are read two ways: through the API's models (api/track.py
parse_track_with_models) and by users.tracking's own parser (parse_track_body, which the demo
seed and the test factories use, and the API for a body without a problem). Both must agree on
every body: the same fatal message, or the same per-object errors and the same
writes. ONE_PROBLEM reaches every check of both once; the generated bodies (mostly near-valid
objects with a few keys gone wrong) mix problems. The long run:
`TRACK_EXAMPLES=100000 .venv/bin/pytest tests/api/test_track_parsing.py`.
"""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.track import parse_track, parse_track_with_models
from users.tracking import TrackFatal, parse_track_body

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
EXAMPLES = int(os.environ.get("TRACK_EXAMPLES", "300"))

strings = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\x1c", "\u3000", "u1", "x" * 64, "x" * 65, "x" * 128, "x" * 129,
    "x" * 255, "x" * 256, "x" * 513, "Ana@Example.com ", "not-an-email", "+1 650 253 0000",
    "12", "+1 650 253 0000" + " " * 60, "1" * 300, "us", "xx", "EN", "1990-02-14", "1990-02-30",
    "f", "q", "Europe/Paris", "Mars/Base", "opted_in", "nope", "2024-01-01T00:00:00Z",
    " 2024-01-01 ", "2024-13-01", "USD", "US1", "ÄÖÜ", "00000000-0000-0000-0000-000000000000",
    " " * 70,
]) | st.text(max_size=4)  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | strings
    | st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), 2**64 - 1, 1.5, -9.2e18, 3, 100, 101])
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["inc", "add", "remove", "alias_name", "x"]), inner, max_size=3
        )
    ),  # fmt: skip
    max_leaves=6,
)
values = strings | junk


def usually(*valid) -> st.SearchStrategy:
    """One of these valid values three times out of five, else anything."""
    good = st.sampled_from(valid)
    return st.one_of(good, good, good, strings, junk)


custom = usually(
    "gold", 1, -2, 1.5, True, None, ["a", "b", "a", 1], {"inc": 2}, {"add": ["x", 2]},
    {"remove": ["y"]}, {"add": ["z"], "remove": [True]},
)  # fmt: skip
IDFA, GAID = "6D92078A-8246-4BA4-AE5B-76104861E7DC", "38400000-8cf0-11bd-b23e-10b96e40000d"
devices = usually(
    None,
    [{"device_id": "d1", "idfa": IDFA, "os": "iOS", "ad_tracking_enabled": True}],
    [{"device_id": "d2", "google_ad_id": GAID, "model": "Pixel"}, {"device_id": "d1", "idfa": " "}],
    [{"device_id": "d1", "idfa": None, "google_ad_id": "nope", "ad_tracking_enabled": None},
     {"device_id": "d1", "os": None, "model": "x"}],
) | st.lists(
    st.fixed_dictionaries({}, optional={
        k: values for k in ("device_id", "os", "model", "idfa", "google_ad_id",
                            "ad_tracking_enabled", "zz", "aa")
    }) | junk,
    max_size=11,
)  # fmt: skip
ATTRIBUTES = {
    "external_id": usually("u1", "u2"), "braze_id": usually("f" * 24),
    "_update_existing_only": usually(True, False),
    "user_alias": usually({"alias_name": "a", "alias_label": "b"})
    | st.fixed_dictionaries({}, optional={"alias_name": values, "alias_label": values}),
    "email": usually("ana@example.com", " Bo@Example.com", "not-an-email", None),
    "phone": usually("+1 650 253 0000", "(650) 253-0000", "12", None),
    "first_name": usually("Ana", None), "home_city": usually("Paris", ""),
    "country": usually("us", "FR", None), "language": usually("en", "PT"),
    "dob": usually("1990-02-14", None), "gender": usually("f", "N"),
    "time_zone": usually("Europe/Paris"), "email_subscribe": usually("opted_in", None),
    "push_tokens": junk, "devices": devices,
    "plan": custom, "tags": custom, "": custom, "\x00k": custom, "k" * 256: custom, "_x": custom,
}  # fmt: skip
ACTIVITY = {
    "external_id": usually("u1"), "user_alias": usually({"alias_name": "a", "alias_label": "b"}),
    "braze_id": usually("f" * 24), "email": usually("ana@example.com", "nope"),
    "phone": usually("+16502530000", "12"), "_update_existing_only": usually(True, None),
    "app_id": usually("app", None), "time": usually("2024-01-01T10:00:00+02:00", "2030-01-01"),
    "properties": usually({"a": 1}, None, {"a": "x" * 60000}), "name": usually("played"),
    "product_id": usually("gem"), "currency": usually("EUR", "usd"),
    "price": usually(0.99, 3, -1), "quantity": usually(1, 100),
}  # fmt: skip
IDENTIFIED = [{"external_id": "u1"}, {"email": "ana@example.com"}, {"phone": "+16502530000"},
              {"user_alias": {"alias_name": "a", "alias_label": "b"}}]  # fmt: skip
EVENT = {"time": "2024-01-01", "name": "e"}
PURCHASE = {"time": "2024-01-01", "product_id": "p", "currency": "USD", "price": 1}


def some_of(keys: dict, size: int = 5) -> st.SearchStrategy[dict]:
    """Objects made of a few of these keys, in any order."""
    names = st.lists(st.sampled_from(sorted(keys)), unique=True, max_size=size)
    return names.flatmap(
        lambda names: st.tuples(*[keys[n] for n in names]).map(
            lambda v: dict(zip(names, v, strict=True))
        )
    )


def near_valid(bases: list[dict], keys: dict) -> st.SearchStrategy[dict]:
    """A valid object with a few keys added or changed, before or after its own keys."""
    return st.tuples(st.sampled_from(bases), some_of(keys, 3), st.booleans()).map(
        lambda t: {**t[0], **t[1]} if t[2] else {**t[1], **t[0]}
    )


def objects(bases: list[dict], keys: dict, size: int) -> st.SearchStrategy[list]:
    valid = near_valid(bases, keys)
    return st.lists(st.one_of(valid, valid, valid, some_of(keys), junk), min_size=1, max_size=size)


arrays = st.fixed_dictionaries({}, optional={
    "attributes": objects(IDENTIFIED, ATTRIBUTES, 4),
    "events": objects([{**b, **EVENT} for b in IDENTIFIED], ACTIVITY, 3),
    "purchases": objects([{**b, **PURCHASE} for b in IDENTIFIED], ACTIVITY, 3),
})  # fmt: skip
bodies = st.one_of(
    *[arrays] * 6,
    # The body's own problems, less often.
    junk,
    st.dictionaries(st.sampled_from(["attributes", "events", "purchases"]), junk, max_size=2),
    st.builds(lambda n: {"attributes": [{"external_id": "u"}] * n}, st.integers(74, 77)),
)


U1 = {"external_id": "u1"}
EVENT_U1 = {**U1, **EVENT}
PURCHASE_U1 = {**U1, **PURCHASE}
# Objects with one problem each (or none), one per check.
ONE_PROBLEM = {
    "attributes": [
        "x", {**U1, "braze_id": "b"}, {"_update_existing_only": 1}, {"external_id": 5},
        {"external_id": "x" * 513}, {"external_id": "\x00"}, {"external_id": " "},
        {"user_alias": []}, {"user_alias": {"alias_label": "l"}}, {"braze_id": "f" * 65},
        {"email": 5}, {"email": "nope"}, {"phone": "x" * 256}, {"phone": "12"}, {"first_name": "A"},
        {**U1, "email": None, "phone": None, "first_name": None}, {**U1, "email": "x" * 256},
        {**U1, "phone": "+1 650 253 0000" + " " * 60}, {**U1, "last_name": 5},
        {**U1, "country": "xx"}, {**U1, "language": "xx"}, {**U1, "dob": "1990-02-30"},
        {**U1, "gender": "q"}, {**U1, "time_zone": "Mars/Base"}, {**U1, "push_subscribe": "no"},
        {**U1, "devices": None}, {**U1, "devices": {}}, {**U1, "devices": [{}] * 11},
        {**U1, "devices": [1]}, {**U1, "devices": [{"device_id": "d", "zz": 1, "aa": 1}]},
        {**U1, "devices": [{"os": "iOS"}]}, {**U1, "devices": [{"device_id": "d", "os": 5}]},
        {**U1, "devices": [{"device_id": "d", "model": "x" * 129}]},
        {**U1, "devices": [{"device_id": "d", "idfa": "x" * 65}]},
        {**U1, "devices": [{"device_id": "d", "google_ad_id": "\x00"}]},
        {**U1, "devices": [{"device_id": "d", "ad_tracking_enabled": 1}]},
        {**U1, "devices": [{"device_id": "d", "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
                            "os": None, "ad_tracking_enabled": True},
                           {"device_id": "d", "idfa": " " * 70, "google_ad_id": None}]},
        {**U1, "": 1}, {**U1, "k" * 256: 1}, {**U1, "\x00": 1}, {**U1, " ": "x"},
        {**U1, "n": None, "s": "x", "b": False, "i": -(2**63), "f": 1.5, "l": ["a", 1, "a"] * 10},
        {**U1, "n": "x" * 256}, {**U1, "n": "\x00"}, {**U1, "n": 2**63}, {**U1, "n": [[]]},
        {**U1, "n": ["x" * 256]}, {**U1, "n": {"inc": 1.0}}, {**U1, "n": {"inc": 2**63}},
        {**U1, "n": {"inc": -5}}, {**U1, "n": {"add": 1}}, {**U1, "n": {"add": [], "remove": [{}]}},
        {**U1, "n": {"add": ["a"], "remove": [2]}}, {**U1, "n": {}}, {**U1, "n": {"x": 1}},
    ],
    "events": [
        None, {"name": "e", "time": "2024-01-01"}, {**EVENT_U1, "app_id": 5},
        {**U1, "name": "e"}, {**EVENT_U1, "time": None}, {**EVENT_U1, "time": "x" * 65},
        {**EVENT_U1, "time": "yesterday"}, {**EVENT_U1, "properties": []},
        {**EVENT_U1, "properties": {"a": "x" * 60000}}, {**U1, "time": "2024-01-01"},
        {**EVENT_U1, "name": ""}, {**EVENT_U1, "time": "2099-01-01T00:00:00-05:00",
                                   "properties": {"a": 1}, "app_id": None},
    ],
    "purchases": [
        {**U1, "time": "2024-01-01"}, {**PURCHASE_U1, "product_id": 5},
        {**PURCHASE_U1, "currency": "US"}, {**PURCHASE_U1, "currency": None},
        {**PURCHASE_U1, "price": True}, {**PURCHASE_U1, "price": None},
        {**PURCHASE_U1, "quantity": 1.0}, {**PURCHASE_U1, "quantity": 101},
        {**PURCHASE_U1, "quantity": 100, "price": 0.5, "currency": "eur"},
    ],
}  # fmt: skip


def test_every_check_agrees():
    for array, objects_ in ONE_PROBLEM.items():
        for obj in objects_:
            body = {array: [obj]}
            assert outcome(parse_track_with_models, body) == outcome(parse_track_body, body), body


def outcome(parse, body):
    try:
        batch = parse(body, default_country="US", now=NOW)
    except TrackFatal as exc:
        return exc.message
    return batch.errors, batch.sizes, batch.profile_writes, batch.activity_writes


@settings(max_examples=EXAMPLES, derandomize=EXAMPLES <= 1000, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(bodies)
def test_the_models_and_the_hand_parser_agree(body):
    assert outcome(parse_track_with_models, body) == outcome(parse_track_body, body)
    # What the API runs: the hand parser for a body without a problem, else the models.
    assert outcome(parse_track, body) == outcome(parse_track_with_models, body)


def test_a_body_the_hand_parser_cannot_read_is_answered_by_the_models():
    # Event properties nested past orjson's depth limit: the hand parser cannot serialize them
    # to measure their size; the API answers what the models answer (tests/hostile covers the
    # HTTP side).
    deep = "x"
    for _ in range(300):
        deep = {"k": deep}
    body = {
        "events": [{"external_id": "u1", "name": "e", "time": "2024-01-01", "properties": deep}]
    }
    assert outcome(parse_track, body) == outcome(parse_track_with_models, body)
