"""The worst /users/track body the size limit allows, all long arrays: answered correctly and
without the quadratic work that once took seconds (issue 15, item 2; its server time is a
benchmark, bench/track_arrays.py, not asserted here)."""

import orjson
import pytest

from api.rest import MAX_BODY_BYTES
from bench.track_arrays import worst_array_body
from tests.factories import rest_api_key
from users import profile_fields
from users.models import Profile
from users.profile_fields import ARRAY_MAX_ITEMS

pytestmark = pytest.mark.django_db


def test_the_largest_body_of_long_arrays_keeps_the_first_and_newest_items(
    client, app_group, monkeypatch
):
    _, key = rest_api_key(app_group=app_group, permissions=["users.track"])
    body = worst_array_body(MAX_BODY_BYTES - 1024)
    assert MAX_BODY_BYTES - 64 * 1024 < len(body) < MAX_BODY_BYTES
    # The work per array is bounded by the cap, not by what the client sent: count the items
    # looked at (a measure of work that, unlike a time, cannot flake).
    looked_at = []
    clean_scalar = profile_fields.clean_scalar
    monkeypatch.setattr(
        profile_fields,
        "clean_scalar",
        lambda value, **kw: looked_at.append(1) or clean_scalar(value, **kw),
    )

    response = client.post(
        "/api/users/track", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )  # fmt: skip

    assert response.status_code == 201, response.content[:300]
    assert response.json()["attributes_processed"] == 75
    assert len(looked_at) <= 75 * 2 * ARRAY_MAX_ITEMS
    assert Profile.objects.filter(app_group=app_group).count() == 75
    custom = Profile.objects.get(app_group=app_group, external_id="worst-7").custom_attributes
    # Braze truncates: a set keeps its first items; an add keeps the newest.
    items = len(orjson.loads(body)["attributes"][7]["favourite_colours"])
    assert custom["favourite_colours"] == [f"c7-{i}" for i in range(ARRAY_MAX_ITEMS)]
    assert custom["visited"] == [f"v7-{i}" for i in range(items - ARRAY_MAX_ITEMS, items)]


def test_duplicates_and_json_types_are_told_apart_in_an_array(client, app_group):
    _, key = rest_api_key(app_group=app_group, permissions=["users.track"])
    response = client.post(
        "/api/users/track",
        {"attributes": [{"external_id": "a", "tags": ["x", "x", 1, 1.0, True, "1", 1]}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 201
    assert Profile.objects.get(external_id="a").custom_attributes["tags"] == [
        "x",
        1,
        1.0,
        True,
        "1",
    ]
