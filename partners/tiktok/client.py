"""TikTok Business API v1.3: the only code that knows TikTok's URLs, payloads and error codes.

The contract is docs/TIKTOK_API.md (§ numbers below); the sandbox implements it.

Everything else gets plain Python values and one of a few exceptions that say what to do:
TikTokTransientError (retry later), TikTokAuthError (the token or the ad-account access is
gone: mark the connection invalid and ask for a reconnect), TikTokPermanentError (the request
itself is wrong). The same client reaches the sandbox or the real TikTok: only the base URL
(settings.TIKTOK_API_BASE) changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session

logger = logging.getLogger(__name__)

# Called after every API request with (path, outcome, seconds): outcome is TikTok's code
# ("0", "40100"), "http_<status>", "timeout", "network", "not_envelope" or "too_large" (a body
# past MAX_RESPONSE_BYTES). The monitoring app
# registers its counters here (monitoring/apps.py), so this module stays free of bookkeeping.
RequestObserver = Callable[[str, str, float], None]
request_observers: list[RequestObserver] = []
# How long an API call waits for a slot of the shared rate limiter before giving up.
SLOT_WAIT_SECONDS = 5.0


class SlotLimiter(Protocol):
    """The app-wide request limiter (partners.tiktok.ratelimit.RateLimiter): TikTok counts every API
    call of a developer app against one QPS limit (docs/TIKTOK_API.md §4)."""

    def acquire(self, *, timeout: float) -> bool: ...


def _observe(path: str, outcome: str, seconds: float) -> None:
    for observer in request_observers:
        try:
            observer(path, outcome, seconds)
        except Exception:  # bookkeeping never breaks a request
            logger.warning("request observer failed", exc_info=True)


API_PATH = "/open_api/v1.3"
AUTHORIZE_PATH = "/portal/auth"

# Reference: TikTok's return-code appendix (docs id 1737172488964097), docs/TIKTOK_API.md §3.2
SUCCESS = 0
PARTIAL_SUCCESS = 20001
DUPLICATED_REQUEST = 40050
NO_PERMISSION = 40001
INVALID_PARAMETERS = 40002
OBJECT_NOT_FOUND = 40007
TOO_MANY_IDS = 40011
AUTH_CODE_INVALID = 40110
# App- or advertiser-level QPS limits and "too frequent": retry next second, with backoff.
RATE_LIMIT_CODES = frozenset({40016, 40100, 40132, 40133, 61000})
# TikTok-side failures worth retrying: task not ready / write conflict, internal errors,
# maintenance (docs/TIKTOK_API.md §3.2; PostHog and Airbyte retry the same set).
TRANSIENT_CODES = frozenset({40200, 40201, 40202, 40700, 50000, 50002, 51305, 60001})
TRANSIENT_CODE_RANGES = (range(51000, 51100),)
# The token is expired, revoked or does not match: only a reconnect helps.
AUTH_CODES = frozenset({40102, 40103, 40105, 40106, 40107})

# The product's Audience Sync actions (canvas.models.SyncAction) in /segment/mapping/'s words.
MAPPING_ACTIONS = {"add": "add", "remove": "delete"}
ID_SCHEMAS = ("EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256", "AAID_SHA256")
# Reference: TikTok truncates longer names to 67 characters plus "...".
MAX_AUDIENCE_NAME_LENGTH = 70
MAX_AUDIENCES_PER_ADVERTISER = 400
# /dmp/custom_audience/list/ accepts page_size 1..100.
AUDIENCE_PAGE_SIZE = 100

# TikTok's answers are checked, not trusted (a malformed one is TikTokMalformedAnswerError).
# Ids of advertisers and audiences are strings of digits (docs/TIKTOK_API.md §1); 32 is also
# the width of the columns that keep them.
TIKTOK_ID = re.compile(r"[0-9]{1,32}")
# An access token goes into a header: printable ASCII without spaces (TikTok's are 40 hex).
ACCESS_TOKEN = re.compile(r"[\x21-\x7e]{1,1000}")
# The largest answer read, streamed and dropped past this size. The largest real ones (a page
# of 100 audiences, /advertiser/info/ for 100 ad accounts) are tens of kilobytes.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# Pages of a list endpoint followed at most: 400 audiences per ad account (§5.7) are 4 pages
# of 100, shared audiences add a few; an answer promising more is not believed.
MAX_LIST_PAGES = 50
# TikTok's message and request id as kept on an error (they end up in the database and pages).
MAX_MESSAGE_LENGTH = 1000
MAX_REQUEST_ID_LENGTH = 64


class TikTokError(Exception):
    """A TikTok call failed. `code` is TikTok's envelope code (None for HTTP-level failures)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        request_id: str = "",
        http_status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.http_status = http_status

    def __str__(self) -> str:
        where = f"TikTok code {self.code}" if self.code is not None else "TikTok"
        return f"{where}: {self.message}"


class TikTokTransientError(TikTokError):
    """Retry later: rate limits, TikTok-side errors, HTTP 5xx, timeouts."""


class TikTokRateLimitError(TikTokTransientError):
    """TikTok's QPS limit (40100 and friends)."""


class TikTokMalformedAnswerError(TikTokTransientError):
    """TikTok answered, but not as its contract says: not JSON, larger than MAX_RESPONSE_BYTES,
    `data` or a field of the wrong type, an id that is not digits, more pages than
    MAX_LIST_PAGES. Nothing of it is used; retried like any transient failure."""


class TikTokAuthError(TikTokError):
    """The access token no longer works (expired, revoked): the connection is invalid."""


class TikTokAdAccountAccessError(TikTokAuthError):
    """No permission on the advertiser or audience (40001): access was removed."""


class TikTokPermanentError(TikTokError):
    """The request itself is wrong; sending it again fails the same way."""


class TikTokNotFoundError(TikTokPermanentError):
    """The object (usually an audience) does not exist (40007)."""


class TikTokAuthCodeError(TikTokPermanentError):
    """The OAuth auth_code is invalid, used or expired (40110)."""


def error_for(
    code: int, message: str, request_id: str = "", http_status: int | None = None
) -> TikTokError:
    """Map a TikTok envelope code to the exception the caller can act on."""
    kwargs = {"code": code, "request_id": request_id, "http_status": http_status}
    if code in RATE_LIMIT_CODES:
        return TikTokRateLimitError(message, **kwargs)
    if code in TRANSIENT_CODES or any(code in r for r in TRANSIENT_CODE_RANGES):
        return TikTokTransientError(message, **kwargs)
    if code == NO_PERMISSION:
        return TikTokAdAccountAccessError(message, **kwargs)
    if code in AUTH_CODES:
        return TikTokAuthError(message, **kwargs)
    if code == OBJECT_NOT_FOUND:
        return TikTokNotFoundError(message, **kwargs)
    if code == AUTH_CODE_INVALID:
        return TikTokAuthCodeError(message, **kwargs)
    return TikTokPermanentError(message, **kwargs)


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    advertiser_ids: list[str]
    scope: list[int]


@dataclass(frozen=True)
class Advertiser:
    advertiser_id: str
    name: str = ""
    currency: str = ""
    timezone: str = ""


@dataclass(frozen=True)
class TikTokUser:
    display_name: str
    core_user_id: str


@dataclass(frozen=True)
class Audience:
    audience_id: str
    name: str
    audience_type: str = ""
    cover_num: int = 0
    is_valid: bool = False
    create_time: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class MappingResult:
    request_id: str
    code: int
    seconds: float


class TikTokClient:
    """Typed calls to TikTok. Methods raise a TikTokError subclass on any failure."""

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        secret: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        limiter: SlotLimiter | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.secret = secret
        self.session = session or requests.Session()
        self.timeout = timeout
        # With a limiter, every call takes a slot first, unless its caller already holds one
        # (the flush: map_users(slot_taken=True)).
        self.limiter = limiter
        _allow_plain_http_for_loopback(self.base_url)

    @classmethod
    def from_settings(
        cls, session: requests.Session | None = None, limiter: SlotLimiter | None = None
    ) -> TikTokClient:
        return cls(
            base_url=settings.TIKTOK_API_BASE,
            app_id=settings.TIKTOK_APP_ID,
            secret=settings.TIKTOK_APP_SECRET,
            session=session,
            timeout=(settings.TIKTOK_CONNECT_TIMEOUT, settings.TIKTOK_READ_TIMEOUT),
            limiter=limiter,
        )

    @property
    def is_configured(self) -> bool:
        return bool(self.base_url and self.app_id and self.secret)

    # OAuth

    def authorization_url(self, *, state: str, redirect_uri: str) -> str:
        # Reference: docs/TIKTOK_API.md §2.1 (authorization URL)
        # TikTok reads app_id (not OAuth's client_id, which it ignores) plus state and
        # redirect_uri.
        oauth = OAuth2Session(client_id=self.app_id, redirect_uri=redirect_uri, state=state)
        url, _ = oauth.authorization_url(f"{self.base_url}{AUTHORIZE_PATH}", app_id=self.app_id)
        return url

    def exchange_auth_code(self, *, auth_code: str, redirect_uri: str) -> TokenGrant:
        """Trade the callback's auth_code for a long-lived advertiser token."""
        # Reference: docs/TIKTOK_API.md §2.3 (token exchange)
        # TikTok's exchange is not RFC 6749: a JSON body {app_id, secret, auth_code} and the
        # token inside its envelope. The compliance hooks translate both ways, so
        # OAuth2Session handles the rest.
        grant: dict[str, Any] = {}

        def json_request(url, headers, request_kwargs):
            body = {"app_id": self.app_id, "secret": self.secret, "auth_code": auth_code}
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            return url, headers, {"data": json.dumps(body)}

        def envelope_response(response):
            path = "/oauth2/access_token/"
            grant["grant"] = _token_grant(self._unwrap(response, path=path), path)
            # oauthlib only needs the standard fields; TikTok's scope ids stay in `grant`.
            response._content = json.dumps(
                {"access_token": grant["grant"].access_token, "token_type": "Bearer"}
            ).encode()
            return response

        self._take_slot("/oauth2/access_token/")
        oauth = OAuth2Session(client_id=self.app_id, redirect_uri=redirect_uri)
        # OAuth2Session reads the answer itself: its adapters stop past MAX_RESPONSE_BYTES too.
        for prefix in ("https://", "http://"):
            oauth.mount(prefix, _BoundedAdapter("/oauth2/access_token/"))
        oauth.register_compliance_hook("access_token_request", json_request)
        oauth.register_compliance_hook("access_token_response", envelope_response)
        try:
            oauth.fetch_token(
                self._url("/oauth2/access_token/"),
                code=auth_code,
                include_client_id=True,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TikTokTransientError(f"token exchange failed: {type(exc).__name__}") from exc
        except ValueError as exc:  # oauthlib: the response lacked a token
            raise TikTokPermanentError(f"token exchange answer was not understood: {exc}") from exc
        return grant["grant"]

    def revoke_token(self, *, access_token: str) -> list[str]:
        """Revoke the token at TikTok; returns the advertisers it no longer reaches."""
        # Reference: docs/TIKTOK_API.md §2.4 (POST /oauth2/revoke_token/)
        data = self._post(
            "/oauth2/revoke_token/",
            {"app_id": self.app_id, "secret": self.secret, "access_token": access_token},
        )
        return _id_list(data.get("advertiser_ids"), "/oauth2/revoke_token/", "data.advertiser_ids")

    # Ad accounts

    def authorized_advertisers(self, *, access_token: str) -> list[Advertiser]:
        """The advertisers this token may act for (also the cheap token check)."""
        # Reference: docs/TIKTOK_API.md §2.5 (GET /oauth2/advertiser/get/)
        path = "/oauth2/advertiser/get/"
        data = self._get(
            path, {"app_id": self.app_id, "secret": self.secret}, access_token=access_token
        )
        return [
            Advertiser(
                advertiser_id=_id(item.get("advertiser_id"), path, f"{where}.advertiser_id"),
                name=_text(item.get("advertiser_name"), path, f"{where}.advertiser_name"),
            )
            for where, item in _items(data, "list", path)
        ]

    def advertiser_info(self, *, access_token: str, advertiser_ids: list[str]) -> list[Advertiser]:
        # Reference: docs/TIKTOK_API.md §2.6 (GET /advertiser/info/)
        path = "/advertiser/info/"
        data = self._get(
            path, {"advertiser_ids": json.dumps(advertiser_ids)}, access_token=access_token
        )
        return [
            Advertiser(
                advertiser_id=_id(item.get("advertiser_id"), path, f"{where}.advertiser_id"),
                name=_text(item.get("name"), path, f"{where}.name"),
                currency=_text(item.get("currency"), path, f"{where}.currency"),
                timezone=_text(item.get("display_timezone"), path, f"{where}.display_timezone")
                or _text(item.get("timezone"), path, f"{where}.timezone"),
            )
            for where, item in _items(data, "list", path)
        ]

    def user_info(self, *, access_token: str) -> TikTokUser:
        # Reference: docs/TIKTOK_API.md §2.7 (GET /user/info/)
        path = "/user/info/"
        data = self._get(path, {}, access_token=access_token)
        core_user_id = data.get("core_user_id")
        return TikTokUser(
            display_name=_text(data.get("display_name"), path, "data.display_name"),
            core_user_id=(
                str(core_user_id)
                if _is_int(core_user_id)
                else _text(core_user_id, path, "data.core_user_id")
            ),
        )

    # Audiences

    def create_audience(self, *, access_token: str, advertiser_id: str, name: str) -> str:
        """Create a Partner (streaming) audience; returns its id."""
        # Reference: docs/TIKTOK_API.md §5.1 (POST /segment/audience/)
        path = "/segment/audience/"
        data = self._post(
            path,
            {"advertiser_id": advertiser_id, "action": "create", "custom_audience_name": name},
            access_token=access_token,
        )
        # Stored, then sent in every mapping request: only digits are taken.
        return _id(data.get("audience_id"), path, "data.audience_id")

    def delete_audience(self, *, access_token: str, advertiser_id: str, audience_id: str) -> None:
        self._post(
            "/segment/audience/",
            {"advertiser_id": advertiser_id, "action": "delete", "delete_audience_id": audience_id},
            access_token=access_token,
        )

    def list_audiences(self, *, access_token: str, advertiser_id: str) -> list[Audience]:
        """Every audience of the advertiser (owned and shared), all pages (MAX_LIST_PAGES at
        most: an answer promising more is malformed)."""
        # Reference: docs/TIKTOK_API.md §5.3 (GET /dmp/custom_audience/list/)
        path = "/dmp/custom_audience/list/"
        audiences: list[Audience] = []
        for page in range(1, MAX_LIST_PAGES + 1):
            data = self._get(
                path,
                {"advertiser_id": advertiser_id, "page": page, "page_size": AUDIENCE_PAGE_SIZE},
                access_token=access_token,
            )
            audiences.extend(
                _audience(item, path, where) for where, item in _items(data, "list", path)
            )
            page_info = _object(data.get("page_info") or {}, path, "data.page_info")
            total_pages = _count(page_info.get("total_page"), path, "data.page_info.total_page")
            if total_pages > MAX_LIST_PAGES:
                raise _malformed(
                    path,
                    f"page_info.total_page is {total_pages}, more than the {MAX_LIST_PAGES} "
                    "pages the client reads",
                )
            if page >= total_pages:
                return audiences
        # Not reached (total_pages <= MAX_LIST_PAGES ends the loop by then): the loop's bound
        # holds even if that check changes.
        raise _malformed(path, f"more pages still announced after {MAX_LIST_PAGES}")

    def get_audiences(
        self, *, access_token: str, advertiser_id: str, audience_ids: list[str]
    ) -> list[Audience]:
        # Reference: docs/TIKTOK_API.md §5.4 (GET /dmp/custom_audience/get/)
        path = "/dmp/custom_audience/get/"
        data = self._get(
            path,
            {"advertiser_id": advertiser_id, "custom_audience_ids": json.dumps(audience_ids)},
            access_token=access_token,
        )
        return [
            _audience(
                _object(item.get("audience_details"), path, f"{where}.audience_details"),
                path,
                f"{where}.audience_details",
            )
            for where, item in _items(data, "list", path)
        ]

    def map_users(
        self,
        *,
        access_token: str,
        advertiser_ids: list[str],
        action: str,
        id_schema: list[str],
        batch_data: list[list[dict]] | bytes,
        slot_taken: bool = False,
    ) -> MappingResult:
        """Add users to, or delete them from, audiences: one row per user, cells positional.

        `batch_data` may be pre-serialized JSON (bytes) so the flush can build large batches
        without a second encoding pass. `slot_taken`: the caller already holds a limiter slot
        for this request (the flush takes one before it claims a batch).
        """
        # Reference: docs/TIKTOK_API.md §5.2 (POST /segment/mapping/)
        if action not in MAPPING_ACTIONS.values():
            raise ValueError(f"action must be add or delete, not {action!r}")
        head = json.dumps(
            {"advertiser_ids": advertiser_ids, "action": action, "id_schema": id_schema}
        )
        rows = batch_data if isinstance(batch_data, bytes) else json.dumps(batch_data).encode()
        # Splice the rows into the object without decoding them again.
        body = head[:-1].encode() + b', "batch_data": ' + rows + b"}"
        started = time.monotonic()
        response = self._request(
            "POST", "/segment/mapping/", data=body, access_token=access_token, slot_taken=slot_taken
        )
        try:
            code, request_id, _ = self._envelope(response, path="/segment/mapping/")
        except TikTokPermanentError as exc:
            # A repeat of a request TikTok already applied: adds and deletes are idempotent.
            if exc.code != DUPLICATED_REQUEST:
                raise
            code, request_id = exc.code, exc.request_id
        return MappingResult(request_id=request_id, code=code, seconds=time.monotonic() - started)

    # Transport

    def _url(self, path: str) -> str:
        return f"{self.base_url}{API_PATH}{path}"

    def _get(self, path: str, params: dict, *, access_token: str | None = None) -> dict:
        response = self._request("GET", path, params=params, access_token=access_token)
        return self._unwrap(response, path=path)

    def _post(self, path: str, body: dict, *, access_token: str | None = None) -> dict:
        response = self._request("POST", path, data=json.dumps(body), access_token=access_token)
        return self._unwrap(response, path=path)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        data: str | bytes | None = None,
        access_token: str | None = None,
        slot_taken: bool = False,
    ) -> requests.Response:
        if not slot_taken:
            self._take_slot(path)
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if access_token is not None:
            headers["Access-Token"] = access_token
        started = time.monotonic()
        try:
            # Streamed, so that _read_body can stop past MAX_RESPONSE_BYTES.
            response = self.session.request(
                method, self._url(path), params=params, data=data, headers=headers,
                timeout=self.timeout, stream=True,
            )  # fmt: skip
        except requests.Timeout as exc:
            _observe(path, "timeout", time.monotonic() - started)
            raise TikTokTransientError(f"{path} timed out") from exc
        except requests.RequestException as exc:
            _observe(path, "network", time.monotonic() - started)
            raise TikTokTransientError(f"{path} failed: {type(exc).__name__}") from exc
        _read_body(response, path, started)
        return response

    def _take_slot(self, path: str) -> None:
        """Wait for a slot of the app's shared limiter; TikTokTransientError when none frees up.

        Call TikTok outside a database transaction: the limiter's database mode (no Redis) locks
        a row, which a caller's transaction would hold for the whole HTTP call.
        """
        if self.limiter is not None and not self.limiter.acquire(timeout=SLOT_WAIT_SECONDS):
            # Not an API request (the observers count those): the limiter records its waits.
            raise TikTokTransientError(
                f"{path}: no request slot within {SLOT_WAIT_SECONDS:.0f} s "
                "(the TikTok app's requests per second are all in use); try again shortly"
            )

    def _unwrap(self, response: requests.Response, *, path: str) -> dict:
        """Return the envelope's data, or raise what its code (or HTTP status) means."""
        return self._envelope(response, path=path)[2]

    def _envelope(self, response: requests.Response, *, path: str) -> tuple[int, str, dict]:
        """(code, request_id, data) of a successful answer; else raise what its code (or HTTP
        status) means. An answer that is not the envelope, or whose `data` is not an object,
        is malformed (docs/TIKTOK_API.md §3.1)."""
        status = response.status_code
        seconds = response.elapsed.total_seconds()
        if status != 200:
            _observe(path, f"http_{status}", seconds)
        if status == 429:
            raise TikTokRateLimitError(f"{path}: HTTP 429", http_status=status)
        if status >= 500:
            raise TikTokTransientError(f"{path}: HTTP {status}", http_status=status)
        if status != 200:
            # TikTok answers wrong paths and methods at HTTP level; our bug, not a retry.
            raise TikTokPermanentError(f"{path}: HTTP {status}", http_status=status)
        try:
            envelope = response.json()
        except ValueError as exc:
            _observe(path, "not_envelope", seconds)
            raise _malformed(path, "not JSON") from exc
        code = envelope.get("code") if isinstance(envelope, dict) else None
        if not _is_int(code):
            _observe(path, "not_envelope", seconds)
            raise _malformed(path, "not TikTok's envelope: no integer code")
        request_id = str(envelope.get("request_id") or "")[:MAX_REQUEST_ID_LENGTH]
        message = str(envelope.get("message") or "")[:MAX_MESSAGE_LENGTH]
        _observe(path, str(code), seconds)
        # DEBUG: each caller logs the outcome it cares about (the flush a line per batch, with
        # this request id), so INFO would say every mapping request twice.
        logger.debug(
            "tiktok %s code=%s request_id=%s ms=%d",
            path, code, request_id, seconds * 1000,
            extra={"tiktok_path": path, "tiktok_code": code, "tiktok_request_id": request_id},
        )  # fmt: skip
        if code not in (SUCCESS, PARTIAL_SUCCESS):
            raise error_for(code, message, request_id, status)
        data = envelope.get("data")
        if data is None or data == [] or data == "":
            data = {}  # nothing either way (success answers "data": {} when it has none)
        if not isinstance(data, dict):
            raise _malformed(path, f"data is {_kind(data)}, not an object", request_id)
        return code, request_id, data


def mapping_action(sync_action: str) -> str:
    """/segment/mapping/'s `action` for an Audience Sync action ("remove" is TikTok's "delete")."""
    return MAPPING_ACTIONS[sync_action]


def encode_mapping_rows(hashes: list[tuple], *, positions: list[int], audience_id: str) -> bytes:
    """`batch_data` for /segment/mapping/ (docs/TIKTOK_API.md §5.2): one row per user, one cell per
    id_schema entry in order, `{"id", "audience_ids"}` or `{}` for a missing id.

    `hashes` holds each user's hashes in a fixed order, `positions` picks the id_schema's. The
    JSON is spliced by hand: 10,000 rows are encoded without a Python object per cell, and the
    hashes are 64 lowercase hex characters (users.identifiers), safe to splice; the audience
    id is JSON-encoded all the same (it came from TikTok, or from a row written before ids
    were checked), so no value can break out of its string.
    """
    after = '","audience_ids":[' + json.dumps(str(audience_id)) + "]}"
    encoded = []
    for row in hashes:
        cells = ",".join('{"id":"' + row[i] + after if row[i] else "{}" for i in positions)
        encoded.append("[" + cells + "]")
    return ("[" + ",".join(encoded) + "]").encode()


def _audience(item: dict, path: str, where: str) -> Audience:
    is_valid = item.get("is_valid")
    if is_valid is not None and not _is_int(is_valid) and not isinstance(is_valid, bool):
        raise _malformed(path, f"{where}.is_valid is {_kind(is_valid)}, not a boolean")
    return Audience(
        audience_id=_id(item.get("audience_id"), path, f"{where}.audience_id"),
        name=_text(item.get("name"), path, f"{where}.name"),
        audience_type=_text(item.get("audience_type"), path, f"{where}.audience_type")
        or _text(item.get("type"), path, f"{where}.type"),
        cover_num=_count(item.get("cover_num"), path, f"{where}.cover_num"),
        is_valid=bool(is_valid),
        create_time=_text(item.get("create_time"), path, f"{where}.create_time"),
        raw=item,
    )


# Reading TikTok's answers: every field the client uses is type-checked here, and anything
# else is TikTokMalformedAnswerError with the field's place in the answer ("data.list[3].name").


def _malformed(path: str, what: str, request_id: str = "") -> TikTokMalformedAnswerError:
    return TikTokMalformedAnswerError(
        f"{path}: TikTok's answer is malformed ({what})", request_id=request_id
    )


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(value: object, path: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise _malformed(path, f"{where} is {_kind(value)}, not an object")
    return value


def _items(data: dict, key: str, path: str) -> list[tuple[str, dict]]:
    """data[key] as (place, object) pairs: absent or null is empty; anything but an array of
    objects is malformed."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(path, f"data.{key} is {_kind(value)}, not an array")
    return [
        (f"data.{key}[{i}]", _object(item, path, f"data.{key}[{i}]"))
        for i, item in enumerate(value)
    ]


def _id(value: object, path: str, where: str) -> str:
    """An advertiser or audience id: 1 to 32 digits, as a string (a number is accepted)."""
    text = str(value) if _is_int(value) else value
    if not isinstance(text, str) or not TIKTOK_ID.fullmatch(text):
        shown = repr(text[:40]) if isinstance(text, str) else _kind(value)
        raise _malformed(path, f"{where} is not an id of 1 to 32 digits: {shown}")
    return text


def _id_list(value: object, path: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(path, f"{where} is {_kind(value)}, not an array")
    return [_id(item, path, f"{where}[{i}]") for i, item in enumerate(value)]


def _text(value: object, path: str, where: str) -> str:
    """A string field; absent or null is "". Its length is the caller's to fit."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _malformed(path, f"{where} is {_kind(value)}, not a string")
    return value


def _count(value: object, path: str, where: str) -> int:
    """A non-negative integer (a string of digits is accepted); absent or null is 0."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,18}", value):
        return int(value)
    if not _is_int(value) or value < 0:
        raise _malformed(path, f"{where} is not a count: {str(value)[:40]!r}")
    return value


def _token_grant(data: dict, path: str) -> TokenGrant:
    token = data.get("access_token")
    if not isinstance(token, str) or not ACCESS_TOKEN.fullmatch(token):
        raise _malformed(path, "data.access_token is not a token")
    scope = data.get("scope") or []
    if not isinstance(scope, list) or not all(_is_int(s) for s in scope):
        raise _malformed(path, "data.scope is not an array of integers")
    return TokenGrant(
        access_token=token,
        advertiser_ids=_id_list(data.get("advertiser_ids"), path, "data.advertiser_ids"),
        scope=list(scope),
    )


def _read_body(response: requests.Response, path: str, started: float) -> None:
    """Read a streamed answer into response.content, or raise: past MAX_RESPONSE_BYTES the
    rest is not read (TikTokMalformedAnswerError), a broken read is a network failure."""
    if response.raw is None:  # built in memory (tests' stand-ins): only the size to check
        if len(response.content or b"") > MAX_RESPONSE_BYTES:
            _observe(path, "too_large", time.monotonic() - started)
            raise _too_large(path)
        return
    chunks: list[bytes] = []
    size = 0
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            raise _too_large(path)
        # Counts decoded bytes: a small compressed body cannot unpack into gigabytes either.
        for chunk in response.iter_content(READ_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise _too_large(path)
            chunks.append(chunk)
    except TikTokMalformedAnswerError:
        _observe(path, "too_large", time.monotonic() - started)
        response.close()  # the rest stays unread: the connection is dropped, not reused
        raise
    except requests.RequestException as exc:
        _observe(path, "network", time.monotonic() - started)
        response.close()
        raise TikTokTransientError(f"{path} failed: {type(exc).__name__}") from exc
    response._content = b"".join(chunks)
    response._content_consumed = True
    response.close()  # read to the end: the connection goes back to the pool


def _too_large(path: str) -> TikTokMalformedAnswerError:
    return _malformed(path, f"larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB, not read")


class _BoundedAdapter(HTTPAdapter):
    """An adapter that reads every answer through _read_body (OAuth2Session, which reads the
    token exchange's answer itself, would otherwise read any size)."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def send(self, request, stream=False, **kwargs):
        started = time.monotonic()
        response = super().send(request, stream=True, **kwargs)
        _read_body(response, self.path, started)
        return response


def _allow_plain_http_for_loopback(base_url: str) -> None:
    """oauthlib refuses http:// token URLs; allow it only for a sandbox on this machine, and
    only where settings allow plain http (TIKTOK_API_ALLOW_HTTP: development, or the explicit
    opt-out in production). OAUTHLIB_INSECURE_TRANSPORT applies to the whole process."""
    parts = urlsplit(base_url)
    if parts.scheme == "https":
        return
    if (
        parts.scheme == "http"
        and parts.hostname in settings.TIKTOK_LOOPBACK_HOSTS
        and settings.TIKTOK_API_ALLOW_HTTP
    ):
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        return
    raise ValueError(
        "TIKTOK_API_BASE must be https (plain http only to a sandbox on 127.0.0.1, in "
        f"development or with TIKTOK_API_ALLOW_HTTP=1): {base_url}"
    )
