"""The JSON API under /open_api/v1.3/: TikTok's paths, envelope, return codes and limits.

Every answer is HTTP 200 with {code, message, request_id, data}, business errors and rate
limits included (docs/TIKTOK_API.md §3.1); only injected gateway faults answer HTTP 502/504.
Handlers are plain functions of a `Call` that return `data` or raise ApiError.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tiktok_sandbox import errors, seed
from tiktok_sandbox.errors import ApiError, param_error
from tiktok_sandbox.faults import MALFORMED_KINDS, malformed_body
from tiktok_sandbox.mapping import ID_LENGTHS, MappingBatch, parse_mapping
from tiktok_sandbox.sandbox import Sandbox, new_request_id
from tiktok_sandbox.store import Audience, AudienceEvent, Token
from tiktok_sandbox.traffic import LogEntry

API_PREFIX = "/open_api/v1.3"
MAPPING_PATH = "/segment/mapping/"
AUTH_CODE_TTL_SECONDS = 3600  # single use, valid one hour (§2.2)
SCOPES = [1, 3]  # Ad Account Management, Audience Management (§2.3)
AUDIENCE_NAME_LIMIT = 70  # longer names are cut to 67 characters + "..." (§5.1)
AUDIENCE_RETENTION_SECONDS = 365 * 24 * 3600  # expiry a year after the last change (§5.7)
MAX_IDS_PER_QUERY = 100  # custom_audience_ids and advertiser_ids lists (§5.3-§5.5)
ADVERTISER_FIELDS = (
    "advertiser_id",
    "name",
    "status",
    "role",
    "currency",
    "timezone",
    "display_timezone",
    "country",
    "company",
    "create_time",
    "email",
    "telephone_number",
    "advertiser_account_type",
    "owner_bc_id",
)
GATEWAY_PAGES = {
    502: "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>",
    504: "<html><head><title>504 Gateway Time-out</title></head>"
    "<body><center><h1>504 Gateway Time-out</h1></center></body></html>",
}


@dataclass
class Call:
    """One API request as the handlers see it."""

    sandbox: Sandbox
    request: Request
    body: bytes
    request_id: str
    now: float
    generation: int = 0  # of the traffic log when the request arrived
    token: Token | None = None
    rows: int = 0
    ids: int = 0
    # /segment/mapping/'s action ("add", "delete"), for the request log.
    action: str | None = None
    extra: dict = field(default_factory=dict)

    def json_body(self) -> dict:
        try:
            document = orjson.loads(self.body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise param_error(f"Request body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise param_error("Request body must be a JSON object.")
        return document

    def query(self, name: str, *, required: bool = False) -> str | None:
        value = self.request.query_params.get(name)
        if value is None or value == "":
            if required:
                raise param_error(f"{name}: Missing data for required field.")
            return None
        return value

    def query_id_list(self, name: str, *, required: bool) -> list[str] | None:
        """GET array params arrive as JSON-encoded strings, e.g. ["123","456"] (§1)."""
        raw = self.query(name, required=required)
        if raw is None:
            return None
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise param_error(f'{name}: must be a JSON-encoded array, e.g. ["123"].') from None
        return _id_list(name, value)

    def query_int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.query(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise param_error(f"{name}: must be an integer.") from None
        if not low <= value <= high:
            raise param_error(f"{name}: must be between {low} and {high}.")
        return value

    def advertiser(self, advertiser_id: str) -> seed.AdAccount:
        """The ad account, if this token may act on it; 40001 otherwise (§3.2)."""
        assert self.token is not None
        if advertiser_id not in self.token.advertiser_ids:
            raise ApiError(
                errors.NO_PERMISSION, f"No permission to operate advertiser {advertiser_id}."
            )
        return seed.AD_ACCOUNTS_BY_ID[advertiser_id]


Handler = Callable[[Call], dict]


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    handler: Handler
    needs_token: bool = True


# -- OAuth ------------------------------------------------------------------------------------


def check_app(call: Call, app_id: object, secret: object) -> None:
    """app_id and secret in a body or query; 40113 for another app, 40101 for a bad secret."""
    if not app_id:
        raise param_error("app_id: Missing data for required field.")
    if not secret:
        raise param_error("secret: Missing data for required field.")
    settings = call.sandbox.settings
    if str(app_id) != settings.app_id:
        raise ApiError(errors.APP_INVALID, f"App {app_id} does not exist or is not available.")
    if secret != settings.app_secret:
        raise ApiError(errors.INVALID_AUTH_PARAMS, "The app_id and secret do not match.")


def oauth_access_token(call: Call) -> dict:
    # Reference: tiktok/tiktok-business-api-sdk authentication_api.py, bububa model/oauth/
    # access_token.go (docs/docs/TIKTOK_API.md §2.2-§2.3)
    body = call.json_body()
    check_app(call, body.get("app_id"), body.get("secret"))
    auth_code = body.get("auth_code")
    if not auth_code:
        raise param_error("auth_code: Missing data for required field.")
    store = call.sandbox.store
    row = store.auth_code_get(str(auth_code))
    if row is None or row["app_id"] != call.sandbox.settings.app_id:
        raise ApiError(errors.AUTH_CODE_INVALID, "Auth code is invalid.")
    if row["used_at"] is not None:
        raise ApiError(errors.AUTH_CODE_INVALID, "Auth code has been used.")
    if call.now - row["created_at"] > AUTH_CODE_TTL_SECONDS:
        raise ApiError(errors.AUTH_CODE_INVALID, "Auth code has expired.")
    advertiser_ids = orjson.loads(row["advertiser_ids"])
    with store.transaction():
        if not store.auth_code_mark_used(row["code"], call.now):
            raise ApiError(errors.AUTH_CODE_INVALID, "Auth code has been used.")
        token = store.token_create(
            app_id=row["app_id"],
            user_id=row["user_id"],
            advertiser_ids=advertiser_ids,
            now=call.now,
        )
    returned = advertiser_ids if body.get("return_advertiser_ids", True) is not False else []
    return {"access_token": token, "advertiser_ids": returned, "scope": SCOPES}


def oauth_revoke_token(call: Call) -> dict:
    # Reference: bububa/tiktok-business model/oauth/revoke_token.go (docs/TIKTOK_API.md §2.4)
    body = call.json_body()
    check_app(call, body.get("app_id"), body.get("secret"))
    value = body.get("access_token")
    if not value:
        raise param_error("access_token: Missing data for required field.")
    token = call.sandbox.store.token_get(str(value))
    if token is None or not token.active or token.app_id != call.sandbox.settings.app_id:
        raise ApiError(errors.ACCESS_TOKEN_INVALID, errors.MESSAGE_TOKEN_INVALID)
    call.sandbox.token_revoke(token.token, by="api")
    return {"app_id": token.app_id, "advertiser_ids": list(token.advertiser_ids)}


def oauth_advertiser_get(call: Call) -> dict:
    # Reference: tiktok/tiktok-business-api-sdk authentication_api.py, bububa model/oauth/
    # advertiser_get.go (docs/TIKTOK_API.md §2.5)
    check_app(call, call.query("app_id"), call.query("secret"))
    assert call.token is not None
    return {
        "list": [
            {
                "advertiser_id": advertiser_id,
                "advertiser_name": seed.AD_ACCOUNTS_BY_ID[advertiser_id].name,
            }
            for advertiser_id in call.token.advertiser_ids
        ]
    }


# -- accounts ---------------------------------------------------------------------------------


def advertiser_info(call: Call) -> dict:
    # Reference: tiktok/tiktok-business-api-sdk yml_files/advertiser_info.yml (docs/TIKTOK_API.md §2.6)
    advertiser_ids = call.query_id_list("advertiser_ids", required=True)
    assert advertiser_ids is not None
    if not 1 <= len(advertiser_ids) <= MAX_IDS_PER_QUERY:
        raise param_error(f"advertiser_ids: must hold 1 to {MAX_IDS_PER_QUERY} ids.")
    fields = call.query_id_list("fields", required=False) or list(ADVERTISER_FIELDS)
    unknown = [name for name in fields if name not in ADVERTISER_FIELDS]
    if unknown:
        raise param_error(f"fields: unknown field {unknown[0]!r}.")
    result = []
    for advertiser_id in advertiser_ids:
        full = _advertiser_json(call.advertiser(advertiser_id))
        result.append({name: full[name] for name in ["advertiser_id", *fields]})
    return {"list": result}


def _advertiser_json(account: seed.AdAccount) -> dict:
    return {
        "advertiser_id": account.advertiser_id,
        "name": account.name,
        "status": "STATUS_ENABLE",
        "role": "ROLE_ADVERTISER",
        "currency": account.currency,
        "timezone": account.timezone,
        "display_timezone": account.display_timezone,
        "country": account.country,
        "company": account.company,
        "create_time": account.create_time,
        # TikTok masks contact details in this response (§2.6).
        "email": "a***@" + account.company.split()[0].lower() + ".example",
        "telephone_number": "+1******0000",
        "advertiser_account_type": "AUCTION",
        "owner_bc_id": account.bc_id,
    }


def user_info(call: Call) -> dict:
    # Reference: bububa/tiktok-business model/user/info.go (docs/TIKTOK_API.md §2.7)
    assert call.token is not None
    user = seed.USERS_BY_ID[call.token.user_id]
    local, domain = user.email.split("@")
    return {
        "display_name": user.display_name,
        "email": f"{local[0]}***@{domain}",
        "core_user_id": user.user_id,
        "create_time": user.create_time,
        "avatar_url": str(call.request.base_url) + "static/avatar.svg",
    }


# -- audiences --------------------------------------------------------------------------------


def segment_audience(call: Call) -> dict:
    # Reference: bububa/tiktok-business model/dmp/segment_audience.go (docs/TIKTOK_API.md §5.1)
    body = call.json_body()
    advertiser_id = _required_str(body, "advertiser_id")
    action = body.get("action") or "create"
    if action not in ("create", "delete"):
        raise param_error(f"action: must be one of create, delete; got {action!r}.")
    call.advertiser(advertiser_id)
    if action == "delete":
        audience = _owned_audience(call, _required_str(body, "delete_audience_id"), advertiser_id)
        call.sandbox.audience_delete(
            audience.audience_id, editor="open_api", request_id=call.request_id
        )
        return {"audience_id": audience.audience_id}
    name = body.get("custom_audience_name")
    if not isinstance(name, str) or not name.strip():
        raise param_error("custom_audience_name: Missing data for required field.")
    if len(name) > AUDIENCE_NAME_LIMIT:
        name = name[: AUDIENCE_NAME_LIMIT - 3] + "..."
    sandbox = call.sandbox
    cap = sandbox.settings.audience_cap
    if sandbox.store.audience_count(advertiser_id) >= cap:
        raise param_error(
            f"The number of custom audiences of advertiser {advertiser_id} "
            f"has reached the limit of {cap}."
        )
    with sandbox.store.transaction():
        audience = sandbox.store.audience_create(
            advertiser_id=advertiser_id,
            name=name,
            now=call.now,
            ready_at=call.now + sandbox.faults.audience_not_ready_seconds,
        )
        sandbox.store.audience_event_add(
            AudienceEvent(
                audience.audience_id, call.now, "create", call.request_id, "open_api", 0, {}
            )
        )
    return {"audience_id": audience.audience_id}


def segment_mapping(call: Call) -> dict:
    # Reference: bububa/tiktok-business model/dmp/segment_mapping.go (docs/TIKTOK_API.md §5.2; docs/SANDBOX.md)
    sandbox = call.sandbox
    parsed = parse_mapping(call.body, sandbox.settings.max_rows_per_request)
    call.action = parsed.action
    batch = parsed.resolve(lambda advertiser_ids: _check_mapping_advertisers(call, advertiser_ids))
    call.rows = batch.rows
    _check_mapping_audiences(call, batch)
    by_audience = batch.ids_by_audience()
    try:
        with sandbox.store.transaction():
            for audience_id, by_type in by_audience.items():
                counts = {}
                for id_type, hex_ids in by_type.items():
                    sandbox.membership.record(audience_id, id_type, batch.action, hex_ids)
                    counts[id_type] = len(hex_ids) // ID_LENGTHS[id_type]
                    call.ids += counts[id_type]
                sandbox.store.audience_touch(audience_id, call.now)
                sandbox.store.audience_event_add(
                    AudienceEvent(
                        audience_id,
                        call.now,
                        batch.action,
                        call.request_id,
                        "open_api",
                        batch.rows,
                        counts,
                    )
                )
    except Exception:
        sandbox.membership.load()  # the commit failed: rebuild the sets from the log
        raise
    sandbox.traffic.mapping_succeeded(call.now, batch.rows, call.ids)
    return {}


def _check_mapping_advertisers(call: Call, advertiser_ids: list[str]) -> None:
    for advertiser_id in advertiser_ids:
        call.advertiser(advertiser_id)
    centers = {seed.AD_ACCOUNTS_BY_ID[a].bc_id for a in advertiser_ids}
    if len(centers) > 1:
        raise param_error(
            "advertiser_ids: all advertisers must belong to the same Business Center."
        )


def _check_mapping_audiences(call: Call, batch: MappingBatch) -> None:
    """Each audience must exist (40007), belong to one of advertiser_ids (40001), be ready."""
    audiences = []
    for audience_id in batch.audience_ids():
        audience = call.sandbox.store.audience_get(audience_id)
        if audience is None or audience.deleted_at is not None:
            raise ApiError(errors.NOT_FOUND, f"Audience {audience_id} does not exist.")
        if audience.advertiser_id not in batch.advertiser_ids:
            raise ApiError(
                errors.NO_PERMISSION,
                f"Audience {audience_id} does not belong to any of advertiser_ids.",
            )
        audiences.append(audience)
    for audience in audiences:
        if call.now < audience.ready_at:
            # TikTok's documented 40002 cause: the audience is being processed (§3.2).
            raise param_error(
                f"Audience {audience.audience_id} is being processed, please try again later."
            )


def custom_audience_list(call: Call) -> dict:
    # Reference: tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_list.yml,
    # bububa model/dmp/customaudience/list.go (docs/TIKTOK_API.md §5.3)
    advertiser_id = call.query("advertiser_id", required=True)
    assert advertiser_id is not None
    call.advertiser(advertiser_id)
    wanted = call.query_id_list("custom_audience_ids", required=False)
    if wanted is not None and not 1 <= len(wanted) <= MAX_IDS_PER_QUERY:
        raise param_error(f"custom_audience_ids: must hold 1 to {MAX_IDS_PER_QUERY} ids.")
    page = call.query_int("page", 1, 1, 1_000_000)
    page_size = call.query_int("page_size", 10, 1, 100)
    audiences = call.sandbox.store.audience_list(advertiser_id)
    if wanted is not None:
        audiences = [a for a in audiences if a.audience_id in set(wanted)]
    total = len(audiences)
    chosen = audiences[(page - 1) * page_size : page * page_size]
    return {
        "list": [_audience_json(call.sandbox, a) for a in chosen],
        "page_info": {
            "page": page,
            "page_size": page_size,
            "total_number": total,
            "total_page": math.ceil(total / page_size),
        },
    }


def custom_audience_get(call: Call) -> dict:
    # Reference: tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_get.yml,
    # bububa model/dmp/customaudience/get.go (docs/TIKTOK_API.md §5.4)
    advertiser_id = call.query("advertiser_id", required=True)
    assert advertiser_id is not None
    call.advertiser(advertiser_id)
    audience_ids = _audience_id_list(call.query_id_list("custom_audience_ids", required=True))
    history_size = call.query_int("history_size", 100, 1, 100)
    result = []
    for audience_id in audience_ids:
        audience = _owned_audience(call, audience_id, advertiser_id)
        details = _audience_json(call.sandbox, audience)
        details["rule"] = '{"inclusions": null, "exclusions": null}'
        events = call.sandbox.store.audience_events(audience_id, history_size)
        result.append(
            {
                "audience_details": details,
                "audience_history": [_history_json(event) for event in events],
            }
        )
    return {"list": result}


def custom_audience_delete(call: Call) -> dict:
    # Reference: tiktok/tiktok-business-api-sdk yml_files/dmp_custom_audience_delete.yml
    # (docs/TIKTOK_API.md §5.5)
    body = call.json_body()
    advertiser_id = _required_str(body, "advertiser_id")
    call.advertiser(advertiser_id)
    raw = body.get("custom_audience_ids")
    if raw is None:
        raise param_error("custom_audience_ids: Missing data for required field.")
    audience_ids = _audience_id_list(_id_list("custom_audience_ids", raw))
    audiences = [_owned_audience(call, a, advertiser_id) for a in audience_ids]
    for audience in audiences:
        call.sandbox.audience_delete(
            audience.audience_id, editor="open_api", request_id=call.request_id
        )
    return {}


def _owned_audience(call: Call, audience_id: str, advertiser_id: str) -> Audience:
    audience = call.sandbox.store.audience_get(audience_id)
    if audience is None or audience.deleted_at is not None:
        raise ApiError(errors.NOT_FOUND, f"Audience {audience_id} does not exist.")
    if audience.advertiser_id != advertiser_id:
        raise ApiError(
            errors.NO_PERMISSION,
            f"Audience {audience_id} does not belong to advertiser {advertiser_id}.",
        )
    return audience


def _audience_json(sandbox: Sandbox, audience: Audience) -> dict:
    size = sandbox.audience_size(audience.audience_id)
    valid = size >= sandbox.settings.size_threshold
    return {
        "audience_id": audience.audience_id,
        "name": audience.name,
        # The list schema says audience_type; a get fixture modelled on a real answer says type.
        "audience_type": "Partner",
        "type": "Partner",
        "audience_sub_type": "NORMAL",
        "calculate_type": "MULTIPLE_TYPES",
        "cover_num": size if valid else 0,
        "is_valid": valid,
        "shared": False,
        "is_creator": True,
        "is_expiring": False,
        "is_auto_refresh": False,
        "owner_id": audience.advertiser_id,
        "msg": None,
        "error_msg": None,
        "create_time": format_time(audience.created_at),
        "expired_time": format_time(audience.updated_at + AUDIENCE_RETENTION_SECONDS),
    }


def _history_json(event: AudienceEvent) -> dict:
    if event.action == "create":
        detail = "0"
    else:
        detail = ", ".join(f"{id_type}: {n}" for id_type, n in event.counts.items()) or "0"
    return {
        "action": event.action,
        "action_detail": detail,
        "editor": event.editor,
        "msg": None,
        "opt_time": format_time(event.at),
    }


def _audience_id_list(ids: list[str] | None) -> list[str]:
    assert ids is not None
    if not 1 <= len(ids) <= MAX_IDS_PER_QUERY:
        raise param_error(f"custom_audience_ids: must hold 1 to {MAX_IDS_PER_QUERY} ids.")
    return list(dict.fromkeys(ids))


def _id_list(name: str, value: object) -> list[str]:
    # IDs are strings on the wire (§1): some exceed 2^53 and would lose digits as numbers.
    if type(value) is not list or not all(type(item) is str for item in value):
        raise param_error(f'{name}: must be an array of strings, e.g. ["123"].')
    return value


def _required_str(body: dict, name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise param_error(f"{name}: Missing data for required field.")
    if not isinstance(value, str):
        raise param_error(f"{name}: must be a string.")
    return value


def format_time(epoch: float) -> str:
    # "YYYY-MM-DD HH:MM:SS", UTC, as the audience endpoints answer (§5.3).
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


ENDPOINTS = (
    Endpoint("/oauth2/access_token/", "POST", oauth_access_token, needs_token=False),
    Endpoint("/oauth2/revoke_token/", "POST", oauth_revoke_token, needs_token=False),
    Endpoint("/oauth2/advertiser/get/", "GET", oauth_advertiser_get),
    Endpoint("/advertiser/info/", "GET", advertiser_info),
    Endpoint("/user/info/", "GET", user_info),
    Endpoint("/segment/audience/", "POST", segment_audience),
    Endpoint(MAPPING_PATH, "POST", segment_mapping),
    Endpoint("/dmp/custom_audience/list/", "GET", custom_audience_list),
    Endpoint("/dmp/custom_audience/get/", "GET", custom_audience_get),
    Endpoint("/dmp/custom_audience/delete/", "POST", custom_audience_delete),
)


# -- the HTTP wrapper -------------------------------------------------------------------------


def routes() -> list[Route]:
    return [
        Route(API_PREFIX + endpoint.path, _view(endpoint), methods=[endpoint.method])
        for endpoint in ENDPOINTS
    ]


def _view(endpoint: Endpoint) -> Callable:
    async def view(request: Request) -> Response:
        return await handle(endpoint, request)

    view.__name__ = "api" + endpoint.path.replace("/", "_").rstrip("_")
    return view


async def handle(endpoint: Endpoint, request: Request) -> Response:
    started = time.perf_counter()
    sandbox: Sandbox = request.app.state.sandbox
    generation = sandbox.traffic.generation
    body = await request.body()
    in_scope = sandbox.faults.applies_to(endpoint.path)
    if in_scope and sandbox.faults.latency_ms:
        await asyncio.sleep(sandbox.faults.latency_ms / 1000)
    # From here to the answer nothing awaits, so the checks and the writes are atomic.
    now = sandbox.now()
    call = Call(sandbox, request, body, new_request_id(now), now, generation)
    fault = None
    data: dict = {}
    try:
        if endpoint.needs_token:
            call.token = _authenticate(call)
        if endpoint.path == MAPPING_PATH:
            _rate_limit(call)
        if in_scope:
            scripted = bool(sandbox.faults.script)
            fault = sandbox.faults.draw(sandbox.rng)
            if scripted:
                sandbox.faults_set(sandbox.faults)  # a used-up entry stays used after a restart
            _raise_injected(call, fault)
        if fault in ("http_502", "http_504"):
            status = 502 if fault == "http_502" else 504
            return _gateway_error(call, endpoint, status, fault, started)
        data = endpoint.handler(call)
        code, message = errors.OK, "OK"
    except ApiError as error:
        code, message = error.code, error.message
    if fault == "timeout":
        # Applied, then no answer in time: the client cannot tell whether it landed.
        await asyncio.sleep(sandbox.faults.timeout_seconds)
        return _gateway_error(call, endpoint, 504, fault, started)
    envelope = {"code": code, "message": message, "request_id": call.request_id, "data": data}
    headers = {"X-Tt-Logid": call.request_id, "X-Tt-Trace-Id": call.request_id}
    # A malformed fault: handled (and applied) as usual, the answer garbled on its way out.
    body = malformed_body(fault, envelope) if fault in MALFORMED_KINDS else orjson.dumps(envelope)
    if isinstance(body, bytes):
        response = Response(body, media_type="application/json", headers=headers)
    else:
        response = StreamingResponse(body, media_type="application/json", headers=headers)
    _log(call, endpoint, 200, code, message, fault, started)
    return response


def _authenticate(call: Call) -> Token:
    value = call.request.headers.get("Access-Token", "").strip()
    if not value:
        raise ApiError(errors.ACCESS_TOKEN_MISSING, errors.MESSAGE_TOKEN_MISSING)
    token = call.sandbox.store.token_get(value)
    if token is None or not token.active or token.app_id != call.sandbox.settings.app_id:
        raise ApiError(errors.ACCESS_TOKEN_INVALID, errors.MESSAGE_TOKEN_INVALID)
    return token


def _rate_limit(call: Call) -> None:
    assert call.token is not None
    sandbox = call.sandbox
    current = sandbox.traffic.mapping_arrived(call.token.app_id, call.now)
    call.extra["qps"] = current
    if current > sandbox.qps_limit:
        raise ApiError(
            errors.RATE_LIMITED, errors.qps_message(call.token.app_id, sandbox.qps_limit, current)
        )


def _raise_injected(call: Call, fault: str | None) -> None:
    sandbox = call.sandbox
    if fault == "40100":
        limit = sandbox.qps_limit
        current = max(call.extra.get("qps", 0), limit + 1)
        raise ApiError(
            errors.RATE_LIMITED, errors.qps_message(sandbox.settings.app_id, limit, current)
        )
    if fault == "50000":
        raise ApiError(errors.SYSTEM_ERROR, errors.MESSAGE_SYSTEM_ERROR)
    if fault == "51001":
        raise ApiError(errors.INTERNAL_TIMEOUT, errors.MESSAGE_INTERNAL_TIMEOUT)


def _gateway_error(
    call: Call, endpoint: Endpoint, status: int, fault: str, started: float
) -> Response:
    _log(call, endpoint, status, None, f"HTTP {status}", fault, started)
    return Response(GATEWAY_PAGES[status], status_code=status, media_type="text/html")


def _log(
    call: Call,
    endpoint: Endpoint,
    http_status: int,
    code: int | None,
    message: str,
    fault: str | None,
    started: float,
) -> None:
    call.sandbox.traffic.record(
        LogEntry(
            at=call.now,
            method=endpoint.method,
            endpoint=endpoint.path,
            http_status=http_status,
            code=code,
            message=message[:200],
            request_id=call.request_id,
            bytes_in=len(call.body),
            rows=call.rows,
            ids=call.ids,
            action=call.action,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            fault=fault,
        ),
        generation=call.generation,
    )
