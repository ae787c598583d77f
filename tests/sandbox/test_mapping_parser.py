"""The /segment/mapping/ parser's two paths agree (tiktok_sandbox/mapping.py).

The fast path proves things about raw bytes and gives up when it cannot; the slow path checks
every cell. These tests feed both the same bodies, valid and broken, and require the same
outcome: the same error, or the same ids per column and audience. They also check the fast
path is really taken for the bodies programs send, since the benchmark depends on it.
"""

from __future__ import annotations

import json
import random

import orjson
import pytest

from tests.sandbox.helpers import sha256_hex
from tiktok_sandbox.errors import ApiError
from tiktok_sandbox.mapping import _parse_fast, _parse_slow, parse_mapping, parse_mapping_body

AUDIENCE = "7250000000000000001"
OTHER = "7250000000000000002"
MAX_ROWS = 50


def body(rows, id_schema=("EMAIL_SHA256", "PHONE_SHA256"), **extra) -> dict:
    return {
        "advertiser_ids": ["7230000000000000101"],
        "action": "add",
        "id_schema": list(id_schema),
        "batch_data": rows,
        **extra,
    }


def full_rows(n: int, audiences=(AUDIENCE,)) -> list:
    return [
        [
            {"id": sha256_hex(f"e{i}"), "audience_ids": list(audiences)},
            {"id": sha256_hex(f"p{i}"), "audience_ids": list(audiences)},
        ]
        for i in range(n)
    ]


def mixed_rows(n: int) -> list:
    rows = full_rows(n)
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row[0] = {}
        if i % 4 == 1:
            row[1] = {}
    return rows


SERIALIZERS = {
    "orjson": orjson.dumps,
    "json.dumps": lambda d: json.dumps(d).encode(),
    "indent": lambda d: json.dumps(d, indent=2).encode(),
}


def outcome(parsed) -> tuple:
    """Comparable result: the error, or sorted ids per column and audience key."""
    try:
        batch = parsed.resolve(lambda advertiser_ids: None)
    except ApiError as error:
        return ("error", error.code, error.message)
    columns = []
    for id_type, column in zip(batch.id_schema, batch.columns, strict=True):
        width = 64 if id_type.endswith("SHA256") else 32
        for key, joined in sorted(column.items()):
            ids = sorted(joined[i : i + width] for i in range(0, len(joined), width))
            columns.append((id_type, key, ids))
    return ("ok", batch.action, batch.advertiser_ids, batch.id_schema, batch.rows, columns)


def both(raw: bytes) -> tuple[tuple, tuple]:
    return outcome(parse_mapping(raw, MAX_ROWS)), outcome(_parse_slow(raw, MAX_ROWS))


@pytest.mark.parametrize(
    "rows", [full_rows(1), full_rows(7), mixed_rows(20)], ids=["1", "7", "mixed"]
)
@pytest.mark.parametrize("serializer", ["orjson", "json.dumps"])
def test_program_built_bodies_take_the_fast_path(rows, serializer):
    raw = SERIALIZERS[serializer](body(rows))

    fast = _parse_fast(raw, MAX_ROWS)
    assert fast is not None
    assert outcome(fast) == outcome(_parse_slow(raw, MAX_ROWS))


@pytest.mark.parametrize(
    "document",
    [
        body(full_rows(5)),
        body(mixed_rows(12)),
        body(full_rows(3, audiences=(AUDIENCE, OTHER))),
        body([[{}, {}], [{}, {}]]),
        {"batch_data": full_rows(4), **{k: v for k, v in body([]).items() if k != "batch_data"}},
        body(full_rows(4), extra_field={"nested": [[1]]}),
        body(full_rows(2), id_schema=("email_sha256", "PHONE_SHA256")),
        body([[{"audience_ids": [AUDIENCE], "id": sha256_hex("swapped")}, {}]]),
        body(json.dumps(full_rows(3))),
        body(full_rows(MAX_ROWS + 1)),
        body(full_rows(MAX_ROWS)),
    ],
    ids=[
        "full",
        "mixed",
        "two-audiences",
        "all-empty",
        "batch-data-first",
        "trailing-key-with-brackets",
        "lowercase-schema",
        "key-order",
        "string-batch",
        "too-many-rows",
        "max-rows",
    ],
)
@pytest.mark.parametrize("serializer", list(SERIALIZERS))
def test_both_paths_agree_on_valid_and_edge_bodies(document, serializer):
    fast_first, slow_only = both(SERIALIZERS[serializer](document))

    assert fast_first == slow_only


def test_rows_that_differ_beyond_their_ids_are_not_taken_as_uniform():
    rows = full_rows(6)
    rows[4][0]["audience_ids"] = [OTHER]  # same length, other audience
    rows[5][1]["audience_ids"] = ["7250000000000000x01"]  # not even a number
    fast_first, slow_only = both(orjson.dumps(body(rows)))

    assert fast_first == slow_only
    assert fast_first[0] == "ok"
    keys = {key for _, key, _ in fast_first[5]}
    assert keys == {(AUDIENCE,), (OTHER,), ("7250000000000000x01",)}


@pytest.mark.parametrize(
    "bad",
    [
        "A" * 64,  # uppercase hex
        "x" * 64,  # the fast path's own marker letter
        "g" * 64,
        "0" * 63 + " ",
        "0" * 63,
        "0" * 65,
        "a@b.co" + "0" * 58,
    ],
)
@pytest.mark.parametrize("row", [0, 3, 9])
def test_one_bad_id_anywhere_gives_the_slow_paths_error(bad, row):
    rows = full_rows(10)
    rows[row][1]["id"] = bad
    raw = orjson.dumps(body(rows))
    fast_first, slow_only = both(raw)

    assert fast_first == slow_only
    assert fast_first[:2] == ("error", 40062)
    assert f"batch_data[{row}][1].id" in fast_first[2]


def test_random_byte_mutations_never_make_the_paths_disagree():
    rng = random.Random(20260803)
    alphabet = b'"[]{},:x X0af\\ \n' + b"AZ9"
    templates = [
        orjson.dumps(body(full_rows(6))),
        orjson.dumps(body(mixed_rows(9))),
        json.dumps(body(full_rows(4, audiences=(AUDIENCE, OTHER)))).encode(),
    ]
    disagreements = []
    for n in range(3000):
        raw = bytearray(rng.choice(templates))
        for _ in range(rng.choice((1, 1, 2, 3))):
            position = rng.randrange(len(raw))
            operation = rng.random()
            if operation < 0.6:
                raw[position] = rng.choice(alphabet)
            elif operation < 0.8:
                del raw[position]
            else:
                raw.insert(position, rng.choice(alphabet))
        fast_first, slow_only = both(bytes(raw))
        if fast_first != slow_only:
            disagreements.append((n, bytes(raw), fast_first, slow_only))
    assert disagreements == []


def test_parse_mapping_body_raises_the_first_error_in_order():
    document = body([[{"id": "raw", "audience_ids": [AUDIENCE]}, {}]])
    del document["id_schema"]

    with pytest.raises(ApiError) as head_error:
        parse_mapping_body(orjson.dumps(document), MAX_ROWS)
    assert head_error.value.code == 40002

    def refuse(advertiser_ids):
        raise ApiError(40001, "no")

    bad_id = orjson.dumps(body([[{"id": "raw", "audience_ids": [AUDIENCE]}, {}]]))
    with pytest.raises(ApiError) as permission:
        parse_mapping_body(bad_id, MAX_ROWS, refuse)
    assert permission.value.code == 40001
    with pytest.raises(ApiError) as batch_error:
        parse_mapping_body(bad_id, MAX_ROWS)
    assert batch_error.value.code == 40062
