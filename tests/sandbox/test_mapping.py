"""/segment/mapping/: validation exactly as docs/SANDBOX.md "/segment/mapping/ validation",
all-or-nothing, and membership kept per id type."""

from __future__ import annotations

import orjson
import pytest

from tests.sandbox.helpers import cell, mapping_body, sha256_hex


def post(sandbox, token, body):
    return sandbox.api_post("/segment/mapping/", body, token)


def assert_nothing_stored(sandbox, audience_id):
    assert sandbox.members(audience_id) == {}
    assert [h["action"] for h in sandbox.audience(audience_id)["history"]] == ["create"]


def test_add_stores_each_id_under_its_type(tiktok_sandbox, token, advertiser_id, audience_id):
    rows = [
        [cell("a@x.io", audience_id), cell("+15550001", audience_id)],
        [cell("b@x.io", audience_id), {}],
        [{}, cell("+15550002", audience_id)],
    ]
    answer = post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))

    assert answer["code"] == 0
    assert answer["message"] == "OK"
    assert answer["data"] == {}
    assert tiktok_sandbox.members(audience_id) == {
        "EMAIL_SHA256": sorted([sha256_hex("a@x.io"), sha256_hex("b@x.io")]),
        "PHONE_SHA256": sorted([sha256_hex("+15550001"), sha256_hex("+15550002")]),
    }


def test_a_misaligned_row_is_visible_under_the_wrong_type(
    tiktok_sandbox, token, advertiser_id, audience_id
):
    # The bug Rudder shipped (docs/TIKTOK_API.md §5.2): an email hash sent in the phone column.
    rows = [[{}, cell("a@x.io", audience_id)]]
    post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))

    assert tiktok_sandbox.members(audience_id) == {"PHONE_SHA256": [sha256_hex("a@x.io")]}


def test_add_is_idempotent(tiktok_sandbox, token, advertiser_id, audience_id):
    body = mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    post(tiktok_sandbox, token, body)
    post(tiktok_sandbox, token, body)

    assert tiktok_sandbox.members(audience_id) == {"EMAIL_SHA256": [sha256_hex("a@x.io")]}
    assert tiktok_sandbox.audience(audience_id)["size"] == 1


def test_delete_removes_ids_of_that_type_only(tiktok_sandbox, token, advertiser_id, audience_id):
    both = [
        [cell("a@x.io", audience_id), cell("+1555", audience_id)],
        [cell("b@x.io", audience_id), {}],
    ]
    post(tiktok_sandbox, token, mapping_body(advertiser_id, both))
    answer = post(
        tiktok_sandbox,
        token,
        mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]], action="delete"),
    )

    assert answer["code"] == 0
    assert tiktok_sandbox.members(audience_id) == {
        "EMAIL_SHA256": [sha256_hex("b@x.io")],
        "PHONE_SHA256": [sha256_hex("+1555")],
    }


def test_deleting_ids_that_are_not_there_is_fine(tiktok_sandbox, token, advertiser_id, audience_id):
    body = mapping_body(advertiser_id, [[cell("ghost@x.io", audience_id), {}]], action="delete")

    assert post(tiktok_sandbox, token, body)["code"] == 0


def test_action_defaults_to_add(tiktok_sandbox, token, advertiser_id, audience_id):
    body = mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    del body["action"]

    assert post(tiktok_sandbox, token, body)["code"] == 0
    assert tiktok_sandbox.audience(audience_id)["size"] == 1


def test_batch_data_may_be_a_json_encoded_string(tiktok_sandbox, token, advertiser_id, audience_id):
    rows = [[cell("a@x.io", audience_id), cell("+1555", audience_id)]]
    body = mapping_body(advertiser_id, rows)
    body["batch_data"] = orjson.dumps(rows).decode()

    assert post(tiktok_sandbox, token, body)["code"] == 0
    assert tiktok_sandbox.audience(audience_id)["counts"] == {"EMAIL_SHA256": 1, "PHONE_SHA256": 1}


def test_id_schema_is_case_insensitive_and_any_order(
    tiktok_sandbox, token, advertiser_id, audience_id
):
    body = mapping_body(
        advertiser_id,
        [[cell("+1555", audience_id), cell("a@x.io", audience_id)]],
        id_schema=("phone_sha256", "Email_Sha256"),
    )

    assert post(tiktok_sandbox, token, body)["code"] == 0
    assert tiktok_sandbox.members(audience_id) == {
        "EMAIL_SHA256": [sha256_hex("a@x.io")],
        "PHONE_SHA256": [sha256_hex("+1555")],
    }


def test_device_ids_and_md5_types(tiktok_sandbox, token, advertiser_id, audience_id):
    import hashlib

    md5 = hashlib.md5(b"6d92078a-8246-4ba4-ae5b-76104861e7dc").hexdigest()
    body = mapping_body(
        advertiser_id,
        [
            [
                cell("idfa-1", audience_id),
                cell("gaid-1", audience_id),
                {"id": md5, "audience_ids": [audience_id]},
            ]
        ],
        id_schema=("IDFA_SHA256", "AAID_SHA256", "AAID_MD5"),
    )

    assert post(tiktok_sandbox, token, body)["code"] == 0
    assert tiktok_sandbox.members(audience_id)["AAID_MD5"] == [md5]


def test_one_cell_may_map_to_several_audiences(tiktok_sandbox, token, advertiser_id, audience_id):
    second = tiktok_sandbox.create_audience(token, advertiser_id, "Second")
    body = mapping_body(advertiser_id, [[cell("a@x.io", audience_id, second), {}]])

    assert post(tiktok_sandbox, token, body)["code"] == 0
    assert tiktok_sandbox.members(audience_id) == tiktok_sandbox.members(second)


def test_audiences_of_several_advertisers_of_one_business_center(tiktok_sandbox, token):
    first, second = tiktok_sandbox.advertiser_ids[:2]
    a = tiktok_sandbox.create_audience(token, first)
    b = tiktok_sandbox.create_audience(token, second)
    body = mapping_body([first, second], [[cell("a@x.io", a), {}], [cell("b@x.io", b), {}]])

    assert post(tiktok_sandbox, token, body)["code"] == 0
    assert tiktok_sandbox.audience(a)["size"] == tiktok_sandbox.audience(b)["size"] == 1


# -- errors: each is all-or-nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (lambda b: b.pop("advertiser_ids"), 40002, "advertiser_ids"),
        (lambda b: b.update(advertiser_ids=[]), 40002, "advertiser_ids"),
        (lambda b: b.update(advertiser_ids=[7230000000000000101]), 40002, "advertiser_ids"),
        (lambda b: b.update(action="remove"), 40002, "action"),
        (lambda b: b.pop("id_schema"), 40002, "id_schema"),
        (lambda b: b.update(id_schema=[]), 40002, "id_schema"),
        (lambda b: b.update(id_schema=["EMAIL_SHA256", "GAID_SHA256"]), 40002, "GAID_SHA256"),
        (lambda b: b.update(id_schema=["EMAIL_SHA256", "email_sha256"]), 40002, "duplicate"),
        (lambda b: b.pop("batch_data"), 40002, "batch_data"),
        (lambda b: b.update(batch_data=[]), 40002, "batch_data"),
        (lambda b: b.update(batch_data="not json"), 40002, "batch_data"),
        (lambda b: b.update(batch_data={"rows": []}), 40002, "batch_data"),
        (lambda b: b["batch_data"].append({"id": "x"}), 40002, "batch_data[1]"),
        (lambda b: b["batch_data"].append([{}]), 40002, "1 cells"),
        (lambda b: b["batch_data"].append([{}, {}, {}]), 40002, "3 cells"),
        (lambda b: b["batch_data"].append([None, {}]), 40002, "batch_data[1][0]"),
        (lambda b: b["batch_data"].append([{"id": sha256_hex("z")}, {}]), 40002, "audience_ids"),
        (lambda b: b["batch_data"].append([{"audience_ids": ["1"]}, {}]), 40002, ".id"),
    ],
)
def test_malformed_bodies_are_40002_and_change_nothing(
    tiktok_sandbox, token, advertiser_id, audience_id, change, code, words
):
    body = mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    change(body)
    answer = post(tiktok_sandbox, token, body)

    assert answer["code"] == code, answer
    assert words in answer["message"]
    assert answer["data"] == {}
    assert_nothing_stored(tiktok_sandbox, audience_id)


def test_a_body_that_is_not_json_is_40002(tiktok_sandbox, token):
    assert post(tiktok_sandbox, token, b"{not json")["code"] == 40002
    assert post(tiktok_sandbox, token, b"[]")["code"] == 40002


@pytest.mark.parametrize(
    "bad_id",
    [
        "a@x.io",  # raw email
        "+15550001",  # raw phone
        sha256_hex("a@x.io").upper(),  # not lowercase
        sha256_hex("a@x.io")[:-1],  # 63 characters
        sha256_hex("a@x.io") + "0",  # 65 characters
        "",
    ],
)
def test_an_id_that_is_not_a_sha256_hex_digest_is_40062_and_nothing_is_stored(
    tiktok_sandbox, token, advertiser_id, audience_id, bad_id
):
    rows = [[cell(f"ok{n}@x.io", audience_id), {}] for n in range(5)]
    rows.append([{"id": bad_id, "audience_ids": [audience_id]}, {}])
    answer = post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))

    assert answer["code"] == 40062
    assert "batch_data[5][0].id" in answer["message"]
    assert_nothing_stored(tiktok_sandbox, audience_id)


def test_md5_columns_want_32_hex_characters(tiktok_sandbox, token, advertiser_id, audience_id):
    body = mapping_body(advertiser_id, [[cell("gaid", audience_id)]], id_schema=("AAID_MD5",))

    assert post(tiktok_sandbox, token, body)["code"] == 40062


def test_10000_rows_are_accepted_and_10001_are_40011(
    tiktok_sandbox, token, advertiser_id, audience_id
):
    rows = [[cell(f"u{n}@x.io", audience_id), {}] for n in range(10_001)]

    too_many = post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))
    assert too_many["code"] == 40011
    assert "10001" in too_many["message"]
    assert_nothing_stored(tiktok_sandbox, audience_id)
    assert post(tiktok_sandbox, token, mapping_body(advertiser_id, rows[:10_000]))["code"] == 0
    assert tiktok_sandbox.audience(audience_id)["size"] == 10_000


def test_an_unknown_audience_is_40007(tiktok_sandbox, token, advertiser_id, audience_id):
    rows = [[cell("a@x.io", audience_id), {}], [cell("b@x.io", "7250000000000999999"), {}]]
    answer = post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))

    assert answer["code"] == 40007
    assert "7250000000000999999" in answer["message"]
    assert_nothing_stored(tiktok_sandbox, audience_id)


def test_a_deleted_audience_is_40007(tiktok_sandbox, token, advertiser_id, audience_id):
    tiktok_sandbox.delete_audience(audience_id)
    answer = post(
        tiktok_sandbox, token, mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    )

    assert answer["code"] == 40007


def test_an_audience_of_an_advertiser_not_in_advertiser_ids_is_40001(
    tiktok_sandbox, token, audience_id
):
    other = tiktok_sandbox.advertiser_ids[1]
    answer = post(tiktok_sandbox, token, mapping_body(other, [[cell("a@x.io", audience_id), {}]]))

    assert answer["code"] == 40001
    assert audience_id in answer["message"]
    assert_nothing_stored(tiktok_sandbox, audience_id)


def test_an_advertiser_the_token_lacks_is_40001(tiktok_sandbox, audience_id, advertiser_id):
    narrow = tiktok_sandbox.connect(advertiser_ids=tiktok_sandbox.advertiser_ids[1:2])
    answer = post(
        tiktok_sandbox, narrow, mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    )

    assert answer["code"] == 40001
    assert advertiser_id in answer["message"]


def test_advertisers_from_two_business_centers_are_40002(
    tiktok_sandbox, audience_id, advertiser_id
):
    agency = tiktok_sandbox.connect(
        user_id=tiktok_sandbox.agency_user_id,
        advertiser_ids=[advertiser_id, tiktok_sandbox.other_bc_advertiser_id],
    )
    body = mapping_body(
        [advertiser_id, tiktok_sandbox.other_bc_advertiser_id], [[cell("a@x.io", audience_id), {}]]
    )
    answer = post(tiktok_sandbox, agency, body)

    assert answer["code"] == 40002
    assert "Business Center" in answer["message"]


def test_a_removed_advertiser_is_40001_from_then_on(
    tiktok_sandbox, token, advertiser_id, audience_id
):
    body = mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    assert post(tiktok_sandbox, token, body)["code"] == 0

    tiktok_sandbox.remove_advertiser(advertiser_id, token)

    assert post(tiktok_sandbox, token, body)["code"] == 40001
    # The token still works for the accounts it kept.
    other = tiktok_sandbox.advertiser_ids[1]
    assert tiktok_sandbox.api_get("/advertiser/info/", token, advertiser_ids=[other])["code"] == 0


def test_a_revoked_token_is_40105(tiktok_sandbox, token, advertiser_id, audience_id):
    tiktok_sandbox.revoke(token)
    answer = post(
        tiktok_sandbox, token, mapping_body(advertiser_id, [[cell("a@x.io", audience_id), {}]])
    )

    assert answer["code"] == 40105
    assert_nothing_stored(tiktok_sandbox, audience_id)


def test_permission_errors_come_before_batch_errors(tiktok_sandbox, audience_id, advertiser_id):
    narrow = tiktok_sandbox.connect(advertiser_ids=tiktok_sandbox.advertiser_ids[1:2])
    body = mapping_body(advertiser_id, [[{"id": "raw@x.io", "audience_ids": [audience_id]}, {}]])

    assert post(tiktok_sandbox, narrow, body)["code"] == 40001


def test_a_big_batch_with_one_bad_row_stores_nothing(
    tiktok_sandbox, token, advertiser_id, audience_id
):
    rows = [[cell(f"u{n}@x.io", audience_id), cell(f"+1{n:09d}", audience_id)] for n in range(5000)]
    rows[4321][1] = {"id": "+15550000", "audience_ids": [audience_id]}
    answer = post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))

    assert answer["code"] == 40062
    assert "batch_data[4321][1]" in answer["message"]
    assert_nothing_stored(tiktok_sandbox, audience_id)


def test_a_big_batch_with_mixed_empty_cells_is_stored_exactly(
    tiktok_sandbox, token, advertiser_id, audience_id
):
    rows = []
    for n in range(3000):
        email = cell(f"u{n}@x.io", audience_id) if n % 3 else {}
        phone = cell(f"+1{n:09d}", audience_id) if n % 2 else {}
        rows.append([email, phone])
    assert post(tiktok_sandbox, token, mapping_body(advertiser_id, rows))["code"] == 0

    members = tiktok_sandbox.members(audience_id)
    assert members["EMAIL_SHA256"] == sorted(sha256_hex(f"u{n}@x.io") for n in range(3000) if n % 3)
    assert members["PHONE_SHA256"] == sorted(sha256_hex(f"+1{n:09d}") for n in range(3000) if n % 2)
    assert tiktok_sandbox.audience(audience_id)["counts"] == {
        "EMAIL_SHA256": 2000,
        "PHONE_SHA256": 1500,
    }
