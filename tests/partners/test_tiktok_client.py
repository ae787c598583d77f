"""The client maps TikTok's answers (envelope codes, HTTP statuses, network failures) to the
few exceptions the rest of the code acts on, and checks every answer it reads (types, ids,
pages, size). Unit tests with a stub HTTP session."""

import io
import json

import pytest
import requests

from partners.tiktok import client as tiktok
from partners.tiktok.client import (
    TikTokAdAccountAccessError,
    TikTokAuthCodeError,
    TikTokAuthError,
    TikTokClient,
    TikTokNotFoundError,
    TikTokPermanentError,
    TikTokRateLimitError,
    TikTokTransientError,
)


class StubSession:
    """Answers every request with the next queued response; records what was sent."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.sent: list[dict] = []

    def request(self, method, url, **kwargs):
        self.sent.append({"method": method, "url": url, **kwargs})
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    # OAuth2Session (a requests.Session) sends through its own adapter; see oauth_session.
    def close(self):
        pass


def envelope(code=0, message="OK", data=None, status=200):
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(
        {"code": code, "message": message, "request_id": "20261123000000ABCDEF", "data": data or {}}
    ).encode()
    return response


def plain(status, text="404 page not found"):
    response = requests.Response()
    response.status_code = status
    response._content = text.encode()
    return response


def make_client(*responses, limiter=None):
    session = StubSession(*responses)
    return TikTokClient(
        base_url="http://127.0.0.1:8100",
        app_id="app",
        secret="s3cret",
        session=session,
        limiter=limiter,
    ), session


@pytest.mark.parametrize(
    ("code", "exception"),
    [
        (40100, TikTokRateLimitError),
        (40016, TikTokRateLimitError),
        (40133, TikTokRateLimitError),
        (40132, TikTokRateLimitError),
        (50000, TikTokTransientError),
        (50002, TikTokTransientError),
        (51001, TikTokTransientError),
        (51063, TikTokTransientError),
        (60001, TikTokTransientError),
        (40200, TikTokTransientError),
        (40105, TikTokAuthError),
        (40102, TikTokAuthError),
        (40106, TikTokAuthError),
        (40001, TikTokAdAccountAccessError),
        (40007, TikTokNotFoundError),
        (40110, TikTokAuthCodeError),
        (40002, TikTokPermanentError),
        (40011, TikTokPermanentError),
        (40062, TikTokPermanentError),
        (40104, TikTokPermanentError),
    ],
)
def test_envelope_codes_map_to_what_the_caller_should_do(code, exception):
    client, _ = make_client(envelope(code=code, message=f"message {code}"))

    with pytest.raises(exception) as raised:
        client.authorized_advertisers(access_token="token")

    assert raised.value.code == code
    assert raised.value.message == f"message {code}"
    assert raised.value.request_id == "20261123000000ABCDEF"
    # Each class answers exactly one question; none is two things at once.
    assert not (
        isinstance(raised.value, TikTokTransientError)
        and isinstance(raised.value, TikTokAuthError | TikTokPermanentError)
    )


def test_ad_account_access_is_an_auth_error_so_callers_reconnect():
    assert issubclass(TikTokAdAccountAccessError, TikTokAuthError)


@pytest.mark.parametrize(
    ("answer", "exception"),
    [
        (plain(502, "bad gateway"), TikTokTransientError),
        (plain(504, "gateway timeout"), TikTokTransientError),
        (plain(429, "slow down"), TikTokRateLimitError),
        (plain(404), TikTokPermanentError),
        (plain(200, "<html>not json</html>"), TikTokTransientError),
        (requests.ReadTimeout("read timed out"), TikTokTransientError),
        (requests.ConnectionError("refused"), TikTokTransientError),
    ],
)
def test_http_and_network_failures(answer, exception):
    client, _ = make_client(answer)

    with pytest.raises(exception):
        client.user_info(access_token="token")


def test_requests_carry_the_token_header_and_trailing_slash():
    client, session = make_client(
        envelope(data={"list": [{"advertiser_id": 7001, "advertiser_name": "Acme US"}]})
    )

    advertisers = client.authorized_advertisers(access_token="tok")

    sent = session.sent[0]
    assert sent["url"] == "http://127.0.0.1:8100/open_api/v1.3/oauth2/advertiser/get/"
    assert sent["headers"]["Access-Token"] == "tok"
    assert sent["params"] == {"app_id": "app", "secret": "s3cret"}
    # Ids are strings even when TikTok sends numbers.
    assert advertisers == [tiktok.Advertiser(advertiser_id="7001", name="Acme US")]


def test_partial_success_is_success():
    client, _ = make_client(envelope(code=20001, data={"display_name": "Ana"}))

    assert client.user_info(access_token="t").display_name == "Ana"


def test_map_users_builds_tiktoks_body_and_treats_duplicate_requests_as_done():
    client, session = make_client(envelope(code=40050, message="Duplicated requests"))
    rows = [[{"id": "a" * 64, "audience_ids": ["9"]}, {}]]

    result = client.map_users(
        access_token="t", advertiser_ids=["7001"], action="add",
        id_schema=["EMAIL_SHA256", "PHONE_SHA256"], batch_data=json.dumps(rows).encode(),
    )  # fmt: skip

    body = json.loads(session.sent[0]["data"])
    assert body == {
        "advertiser_ids": ["7001"],
        "action": "add",
        "id_schema": ["EMAIL_SHA256", "PHONE_SHA256"],
        "batch_data": rows,
    }
    assert result.code == 40050


def test_map_users_refuses_unknown_actions():
    client, _ = make_client()
    with pytest.raises(ValueError):
        client.map_users(
            access_token="t", advertiser_ids=["1"], action="remove", id_schema=[], batch_data=[]
        )


def test_list_audiences_reads_every_page():
    page = lambda n, total: envelope(  # noqa: E731
        data={
            "list": [{"audience_id": f"{n}", "name": f"A{n}", "cover_num": 0}],
            "page_info": {"page": n, "page_size": 100, "total_page": total},
        }
    )
    client, session = make_client(page(1, 3), page(2, 3), page(3, 3))

    audiences = client.list_audiences(access_token="t", advertiser_id="7001")

    assert [a.audience_id for a in audiences] == ["1", "2", "3"]
    assert [s["params"]["page"] for s in session.sent] == [1, 2, 3]


def test_authorization_url_points_at_the_consent_page():
    client, _ = make_client()

    url = client.authorization_url(state="st4te", redirect_uri="http://127.0.0.1:8000/cb/")

    assert url.startswith("http://127.0.0.1:8100/portal/auth?")
    assert "app_id=app" in url
    assert "state=st4te" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fcb%2F" in url


def test_plain_http_is_refused_except_for_a_local_sandbox():
    with pytest.raises(ValueError, match="https"):
        TikTokClient(base_url="http://tiktok.example.com", app_id="a", secret="s")
    TikTokClient(base_url="https://business-api.tiktok.com", app_id="a", secret="s")


def test_mapping_rows_are_positional_with_empty_cells_for_missing_ids():
    rows = [("a" * 64, None, None, "b" * 64), (None, "c" * 64, None, None)]

    body = tiktok.encode_mapping_rows(rows, positions=[0, 1, 3], audience_id="99")

    assert json.loads(body) == [
        [{"id": "a" * 64, "audience_ids": ["99"]}, {}, {"id": "b" * 64, "audience_ids": ["99"]}],
        [{}, {"id": "c" * 64, "audience_ids": ["99"]}, {}],
    ]


class CountingLimiter:
    """Grants `slots` requests, then refuses; records each wait asked for."""

    def __init__(self, slots):
        self.slots = slots
        self.waits: list[float] = []

    def acquire(self, *, timeout):
        self.waits.append(timeout)
        if self.slots == 0:
            return False
        self.slots -= 1
        return True


def test_every_api_call_takes_a_slot_of_the_shared_limiter():
    limiter = CountingLimiter(slots=2)
    client, session = make_client(
        envelope(data={"display_name": "Ana"}), envelope(data={"list": []}), limiter=limiter
    )

    client.user_info(access_token="t")
    client.get_audiences(access_token="t", advertiser_id="7001", audience_ids=["9"])

    assert len(limiter.waits) == 2
    assert len(session.sent) == 2


def test_a_call_without_a_slot_is_not_sent_and_asks_to_retry():
    limiter = CountingLimiter(slots=0)
    client, session = make_client(envelope(data={"list": []}), limiter=limiter)

    with pytest.raises(TikTokTransientError, match="no request slot"):
        client.list_audiences(access_token="t", advertiser_id="7001")

    assert session.sent == []
    assert limiter.waits == [tiktok.SLOT_WAIT_SECONDS]


def test_the_flush_mapping_call_uses_the_slot_it_already_took():
    limiter = CountingLimiter(slots=0)
    client, session = make_client(envelope(), limiter=limiter)

    client.map_users(
        access_token="t", advertiser_ids=["7001"], action="add", id_schema=["EMAIL_SHA256"],
        batch_data=[[{"id": "a" * 64, "audience_ids": ["9"]}]], slot_taken=True,
    )  # fmt: skip

    assert limiter.waits == []
    assert len(session.sent) == 1


def test_the_products_client_counts_its_calls_in_the_tiktok_apps_limiter(settings):
    from partners.tiktok.access import tiktok_client

    settings.TIKTOK_APP_ID = "7000000000000000042"

    limiter = tiktok_client().limiter

    assert limiter.key == "ratelimit:tiktok:7000000000000000042"
    assert limiter.limit == settings.TIKTOK_MAX_REQUESTS_PER_SECOND


# TikTok's answers are checked, not trusted: anything malformed is a transient error
# (TikTokMalformedAnswerError) that names what was wrong, never an AttributeError or KeyError,
# and nothing of it is used.


def answer(body, status=200):
    """A response whose JSON body is exactly `body` (envelope() fills in what is missing)."""
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


def ok(data):
    return answer({"code": 0, "message": "OK", "request_id": "20261123000000ABCDEF", "data": data})


def test_a_malformed_answer_is_a_transient_error_that_callers_retry():
    from partners.tiktok.health import tiktok_error_sentence

    client, _ = make_client(ok(["not", "an", "object"]))

    with pytest.raises(TikTokTransientError) as raised:
        client.user_info(access_token="t")

    assert isinstance(raised.value, tiktok.TikTokMalformedAnswerError)
    assert raised.value.request_id == "20261123000000ABCDEF"
    assert tiktok_error_sentence(raised.value, "read the user") == (
        "TikTok could not be reached to read the user (/user/info/: TikTok's answer is "
        "malformed (data is an array, not an object)). Nothing was lost: try again in a moment."
    )


@pytest.mark.parametrize(
    "audience_id",
    [
        '7250000000000000001"],"x":["',  # would break out of encode_mapping_rows' string
        "../7250000000000000001",
        "",
        "1" * 33,  # wider than the column
        "-1",
        "٧٢٥٠",  # digits, but not ASCII ones
        7.25,
        True,
        None,
        {"id": "1"},
    ],
)
def test_create_audience_takes_only_an_id_of_digits(audience_id):
    client, _ = make_client(ok({"audience_id": audience_id}))

    with pytest.raises(
        TikTokTransientError, match=r"malformed \(data.audience_id is not an id of 1 to 32 digits"
    ):
        client.create_audience(access_token="t", advertiser_id="7001", name="Buyers")


CALLS = {
    "user_info": lambda c: c.user_info(access_token="t"),
    "authorized_advertisers": lambda c: c.authorized_advertisers(access_token="t"),
    "advertiser_info": lambda c: c.advertiser_info(access_token="t", advertiser_ids=["7001"]),
    "create_audience": lambda c: c.create_audience(
        access_token="t", advertiser_id="7001", name="B"
    ),
    "list_audiences": lambda c: c.list_audiences(access_token="t", advertiser_id="7001"),
    "get_audiences": lambda c: c.get_audiences(
        access_token="t", advertiser_id="7001", audience_ids=["9"]
    ),
    "revoke_token": lambda c: c.revoke_token(access_token="t"),
    "map_users": lambda c: c.map_users(
        access_token="t",
        advertiser_ids=["7001"],
        action="add",
        id_schema=["EMAIL_SHA256"],
        batch_data=[[{"id": "a" * 64, "audience_ids": ["9"]}]],
    ),  # fmt: skip
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("data", [["an", "array"], "a string", 7, True])
def test_data_that_is_not_an_object_is_malformed_on_every_call(call, data):
    client, _ = make_client(ok(data))

    with pytest.raises(TikTokTransientError, match=r"TikTok's answer is malformed \(data is a"):
        CALLS[call](client)


def test_an_empty_data_is_no_data():
    """A guard on the checks, not a fix: "data": [] carries nothing and is taken as {} (TikTok
    documents {} for an empty success, and a mapping answered [] must not be retried)."""
    client, _ = make_client(ok([]), ok(None))

    assert client.map_users(
        access_token="t", advertiser_ids=["7001"], action="add", id_schema=["EMAIL_SHA256"],
        batch_data=[[{"id": "a" * 64, "audience_ids": ["9"]}]],
    ).code == 0  # fmt: skip
    assert client.user_info(access_token="t") == tiktok.TikTokUser("", "")


@pytest.mark.parametrize(
    ("call", "data", "place"),
    [
        ("authorized_advertisers", {"list": {"advertiser_id": "1"}}, "data.list is an object"),
        ("authorized_advertisers", {"list": ["7001"]}, "data.list[0] is a string"),
        ("authorized_advertisers", {"list": [{"advertiser_name": "x"}]}, "data.list[0].advertiser_id is not an id"),
        ("authorized_advertisers", {"list": [{"advertiser_id": "7001", "advertiser_name": 5}]}, "data.list[0].advertiser_name is a number"),
        ("advertiser_info", {"list": [{"advertiser_id": "7001", "currency": ["USD"]}]}, "data.list[0].currency is an array"),
        ("advertiser_info", {"list": [{"advertiser_id": "7001 OR 1=1"}]}, "data.list[0].advertiser_id is not an id"),
        ("user_info", {"display_name": {"first": "Ana"}}, "data.display_name is an object"),
        ("revoke_token", {"advertiser_ids": "7001"}, "data.advertiser_ids is a string"),
        ("list_audiences", {"list": [{"audience_id": "9", "cover_num": -1}]}, "data.list[0].cover_num is not a count"),
        ("list_audiences", {"list": [{"audience_id": "9", "is_valid": "yes"}]}, "data.list[0].is_valid is a string"),
        ("list_audiences", {"list": [], "page_info": [1]}, "data.page_info is an array"),
        ("list_audiences", {"list": [], "page_info": {"total_page": "many"}}, "data.page_info.total_page is not a count"),
        ("get_audiences", {"list": [{"audience_details": "9"}]}, "data.list[0].audience_details is a string"),
    ],
)  # fmt: skip
def test_each_field_read_is_type_checked_and_named(call, data, place):
    client, _ = make_client(ok(data))

    with pytest.raises(TikTokTransientError, match="malformed") as raised:
        CALLS[call](client)

    assert place in raised.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"code": "0", "data": {}},
        {"code": 0.5, "data": {}},  # int() made it 0, success
        {"code": True, "data": {}},
    ],
)
def test_an_answer_without_an_integer_code_is_not_the_envelope(body):
    client, _ = make_client(answer(body))

    with pytest.raises(TikTokTransientError, match="not TikTok's envelope"):
        client.user_info(access_token="t")


def test_tiktoks_message_and_request_id_are_kept_to_a_sane_length():
    client, _ = make_client(
        answer({"code": 40002, "message": "m" * 100_000, "request_id": "r" * 1000, "data": {}})
    )

    with pytest.raises(TikTokPermanentError) as raised:
        client.user_info(access_token="t")

    assert len(raised.value.message) == 1000
    assert len(raised.value.request_id) == 64


def list_page(page, total_page, audience_id=None):
    items = [{"audience_id": audience_id or f"{page}", "name": f"A{page}"}]
    return ok({"list": items, "page_info": {"page": page, "total_page": total_page}})


def test_an_endless_total_page_is_not_followed():
    client, session = make_client(list_page(1, 1_000_000))

    with pytest.raises(TikTokTransientError, match="page_info.total_page is 1000000, more than"):
        client.list_audiences(access_token="t", advertiser_id="7001")

    assert len(session.sent) == 1


def test_a_total_page_that_keeps_growing_stops_at_the_page_bound():
    bound = tiktok.MAX_LIST_PAGES
    client, session = make_client(*(list_page(n, n + 1) for n in range(1, bound + 2)))

    with pytest.raises(TikTokTransientError, match=f"total_page is {bound + 1}, more than the"):
        client.list_audiences(access_token="t", advertiser_id="7001")

    assert [s["params"]["page"] for s in session.sent] == list(range(1, bound + 1))


def test_exactly_the_page_bound_is_read_whole():
    bound = tiktok.MAX_LIST_PAGES
    client, _ = make_client(*(list_page(n, bound) for n in range(1, bound + 1)))

    audiences = client.list_audiences(access_token="t", advertiser_id="7001")

    assert len(audiences) == bound


class CountingBody(io.BytesIO):
    """A streamed body that remembers how many bytes were read from it."""

    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def streamed(body: bytes, **headers):
    response = requests.Response()
    response.status_code = 200
    response.raw = CountingBody(body)
    response.headers.update(headers)
    return response


def padded_envelope(size: int) -> bytes:
    head = b'{"code":0,"message":"OK","request_id":"r","data":{"padding":"'
    return head + b"x" * (size - len(head) - 3) + b'"}}'


def test_an_answer_past_the_size_limit_is_not_read_to_its_end():
    limit = tiktok.MAX_RESPONSE_BYTES
    response = streamed(padded_envelope(4 * limit))
    client, _ = make_client(response)

    with pytest.raises(TikTokTransientError, match=r"malformed \(larger than 4 MiB, not read\)"):
        client.user_info(access_token="t")

    assert response.raw.bytes_read <= limit + tiktok.READ_CHUNK_BYTES


def test_an_answer_announcing_a_size_past_the_limit_is_not_read_at_all():
    response = streamed(padded_envelope(1000), **{"Content-Length": str(64 * 1024 * 1024)})
    client, _ = make_client(response)

    with pytest.raises(TikTokTransientError, match="larger than 4 MiB"):
        client.user_info(access_token="t")

    assert response.raw.bytes_read == 0


def test_an_answer_of_exactly_the_limit_is_read():
    response = streamed(padded_envelope(tiktok.MAX_RESPONSE_BYTES))
    client, _ = make_client(response)

    assert client.user_info(access_token="t") == tiktok.TikTokUser("", "")


def test_a_stored_audience_id_cannot_break_out_of_the_mapping_json():
    hostile = '9"],"x":["1'

    body = tiktok.encode_mapping_rows([("a" * 64,)], positions=[0], audience_id=hostile)

    assert json.loads(body) == [[{"id": "a" * 64, "audience_ids": [hostile]}]]
