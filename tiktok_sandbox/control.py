"""The control API under /_sandbox/: the fault panel and Business Center as JSON, for tests,
benchmarks and scripts (docs/SANDBOX.md documents each route).

It has no authentication: the sandbox binds to 127.0.0.1 and must never face a network.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tiktok_sandbox import seed
from tiktok_sandbox.api import format_time
from tiktok_sandbox.faults import FAULT_KINDS, Faults
from tiktok_sandbox.sandbox import Sandbox, new_request_id
from tiktok_sandbox.store import Token

PREFIX = "/_sandbox"
# Member lists are for tests; a benchmark-sized audience would make a huge answer.
DEFAULT_MEMBER_LIMIT = 100_000


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ControlError(400, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _token_json(token: Token) -> dict:
    return {
        "access_token": token.token,
        "app_id": token.app_id,
        "user_id": token.user_id,
        "advertiser_ids": list(token.advertiser_ids),
        "removed_advertiser_ids": list(token.removed_advertiser_ids),
        "active": token.active,
        "revoked_by": token.revoked_by,
        "created_at": format_time(token.created_at),
    }


def _audience_json(sandbox: Sandbox, audience_id: str) -> dict:
    audience = sandbox.store.audience_get(audience_id)
    if audience is None:
        raise ControlError(404, f"audience {audience_id} does not exist")
    size = sandbox.audience_size(audience_id)
    return {
        "audience_id": audience.audience_id,
        "advertiser_id": audience.advertiser_id,
        "name": audience.name,
        "deleted": audience.deleted_at is not None,
        "size": size,
        "counts": sandbox.membership.counts(audience_id),
        "is_valid": size >= sandbox.settings.size_threshold,
        "created_at": format_time(audience.created_at),
        "updated_at": format_time(audience.updated_at),
    }


# -- routes -----------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    sandbox = _sandbox(request)
    return _json({"ok": True, "app_id": sandbox.settings.app_id})


async def config(request: Request) -> Response:
    settings = _sandbox(request).settings
    return _json(
        {
            "app_id": settings.app_id,
            "app_name": settings.app_name,
            "redirect_uris": list(settings.redirect_uris),
            "loopback_any_port": settings.loopback_any_port,
            "qps_limit": settings.qps_limit,
            "max_rows_per_request": settings.max_rows_per_request,
            "audience_cap": settings.audience_cap,
            "size_threshold": settings.size_threshold,
            "seed": settings.seed,
            "data_dir": str(settings.data_dir),
        }
    )


async def seed_data(request: Request) -> Response:
    return _json(seed.as_dict())


async def reset(request: Request) -> Response:
    _sandbox(request).reset()
    return _json({"ok": True})


async def clock(request: Request) -> Response:
    """{"offset_seconds": n} sets, {"advance_seconds": n} adds to, the clock offset."""
    sandbox = _sandbox(request)
    if request.method == "POST":
        body = await _body(request)
        if "offset_seconds" in body:
            sandbox.clock_offset = float(body["offset_seconds"])
        elif "advance_seconds" in body:
            sandbox.clock_offset += float(body["advance_seconds"])
        else:
            raise ControlError(400, "give offset_seconds or advance_seconds")
    return _json({"offset_seconds": sandbox.clock_offset, "now": sandbox.now()})


async def redirect_uris(request: Request) -> Response:
    sandbox = _sandbox(request)
    if request.method == "POST":
        uri = (await _body(request)).get("uri")
        try:
            sandbox.redirect_uri_add(str(uri or ""))
        except ValueError as exc:
            raise ControlError(400, str(exc)) from None
    return _json({"redirect_uris": sandbox.redirect_uris()})


async def auth_codes(request: Request) -> Response:
    """Mint an auth_code as Confirm on the consent page would, without a browser."""
    sandbox = _sandbox(request)
    body = await _body(request)
    user = seed.USERS_BY_ID.get(str(body.get("user_id") or seed.OWNER.user_id))
    if user is None:
        raise ControlError(400, "unknown user_id")
    advertiser_ids = body.get("advertiser_ids") or list(user.default_advertiser_ids)
    unknown = [a for a in advertiser_ids if a not in user.advertiser_ids]
    if unknown:
        raise ControlError(400, f"user {user.user_id} has no access to {', '.join(unknown)}")
    redirect_uri = str(body.get("redirect_uri") or (sandbox.redirect_uris() or [""])[0])
    code = sandbox.authorize(
        user_id=user.user_id, advertiser_ids=advertiser_ids, redirect_uri=redirect_uri
    )
    return _json({"auth_code": code, "user_id": user.user_id, "advertiser_ids": advertiser_ids})


async def tokens(request: Request) -> Response:
    return _json({"tokens": [_token_json(t) for t in _sandbox(request).tokens()]})


async def token_revoke(request: Request) -> Response:
    """{"access_token": t} revokes one token; {} revokes every active token."""
    sandbox = _sandbox(request)
    value = (await _body(request)).get("access_token")
    targets = [t for t in sandbox.tokens() if t.active and value in (None, t.token)]
    if value is not None and not targets:
        raise ControlError(404, "no such active token")
    for token in targets:
        sandbox.token_revoke(token.token, by="business_center")
    return _json({"revoked": [t.token for t in targets]})


async def token_remove_advertiser(request: Request) -> Response:
    """{"advertiser_id": a[, "access_token": t]}: a from t, or from every token holding it."""
    sandbox = _sandbox(request)
    body = await _body(request)
    advertiser_id, value = body.get("advertiser_id"), body.get("access_token")
    if not advertiser_id:
        raise ControlError(400, "advertiser_id is required")
    changed = [
        t.token
        for t in sandbox.tokens()
        if value in (None, t.token) and sandbox.token_remove_advertiser(t.token, advertiser_id)
    ]
    if not changed:
        raise ControlError(404, "no token holds that advertiser")
    return _json({"advertiser_id": advertiser_id, "tokens": changed})


async def audiences(request: Request) -> Response:
    sandbox = _sandbox(request)
    advertiser_id = request.query_params.get("advertiser_id")
    found = sandbox.store.audience_list(advertiser_id)
    return _json({"audiences": [_audience_json(sandbox, a.audience_id) for a in found]})


async def audience(request: Request) -> Response:
    sandbox = _sandbox(request)
    audience_id = request.path_params["audience_id"]
    data = _audience_json(sandbox, audience_id)
    data["history"] = [
        {
            "at": format_time(event.at),
            "action": event.action,
            "request_id": event.request_id,
            "editor": event.editor,
            "rows": event.rows,
            "counts": event.counts,
        }
        for event in sandbox.store.audience_events(audience_id)
    ]
    return _json(data)


async def audience_members(request: Request) -> Response:
    """Distinct ids per id type, sorted; ?limit=n caps each list (0 for counts only)."""
    sandbox = _sandbox(request)
    audience_id = request.path_params["audience_id"]
    data = _audience_json(sandbox, audience_id)
    limit = int(request.query_params.get("limit", DEFAULT_MEMBER_LIMIT))
    members = sandbox.membership.members(audience_id) if limit else {}
    data["members"] = {id_type: ids[:limit] for id_type, ids in members.items()}
    return _json(data)


async def audience_delete(request: Request) -> Response:
    sandbox = _sandbox(request)
    audience_id = request.path_params["audience_id"]
    found = sandbox.store.audience_get(audience_id)
    if found is None or found.deleted_at is not None:
        raise ControlError(404, f"audience {audience_id} does not exist")
    sandbox.audience_delete(
        audience_id, editor="control_api", request_id=new_request_id(sandbox.now())
    )
    return _json({"deleted": audience_id})


async def faults(request: Request) -> Response:
    """GET the fault settings; POST a partial object to merge into them."""
    sandbox = _sandbox(request)
    if request.method == "POST":
        try:
            sandbox.faults_set(sandbox.faults.updated(await _body(request)))
        except (ValueError, TypeError) as exc:
            raise ControlError(400, str(exc)) from None
    return _json(
        {
            **sandbox.faults.to_dict(),
            "qps_limit_in_force": sandbox.qps_limit,
            # Every kind `probabilities` and `script` accept, in the order they are drawn.
            "kinds": list(FAULT_KINDS),
        }
    )


async def faults_clear(request: Request) -> Response:
    sandbox = _sandbox(request)
    sandbox.faults_set(Faults())
    return _json(sandbox.faults.to_dict())


async def stats(request: Request) -> Response:
    sandbox = _sandbox(request)
    return _json(sandbox.traffic.stats(sandbox.now(), sandbox.qps_limit))


async def stats_reset(request: Request) -> Response:
    _sandbox(request).traffic.reset()
    return _json({"ok": True})


async def requests_log(request: Request) -> Response:
    sandbox = _sandbox(request)
    endpoint = request.query_params.get("endpoint")
    limit = int(request.query_params.get("limit", 100))
    entries = [e for e in reversed(sandbox.traffic.log) if endpoint in (None, e.endpoint)]
    return _json({"requests": [e.to_dict() for e in entries[:limit]]})


def _guarded(view: Callable[[Request], Awaitable[Response]]) -> Callable:
    async def guarded(request: Request) -> Response:
        try:
            return await view(request)
        except ControlError as error:
            return _json({"error": error.message}, status=error.status)
        except ValueError as error:
            return _json({"error": str(error)}, status=400)

    guarded.__name__ = view.__name__
    return guarded


def routes() -> list[Route]:
    table: list[tuple[str, Callable, list[str]]] = [
        ("/health", health, ["GET"]),
        ("/config", config, ["GET"]),
        ("/seed", seed_data, ["GET"]),
        ("/reset", reset, ["POST"]),
        ("/clock", clock, ["GET", "POST"]),
        ("/redirect_uris", redirect_uris, ["GET", "POST"]),
        ("/auth_codes", auth_codes, ["POST"]),
        ("/tokens", tokens, ["GET"]),
        ("/tokens/revoke", token_revoke, ["POST"]),
        ("/tokens/remove_advertiser", token_remove_advertiser, ["POST"]),
        ("/audiences", audiences, ["GET"]),
        ("/audiences/{audience_id}", audience, ["GET"]),
        ("/audiences/{audience_id}/members", audience_members, ["GET"]),
        ("/audiences/{audience_id}/delete", audience_delete, ["POST"]),
        ("/faults", faults, ["GET", "POST"]),
        ("/faults/clear", faults_clear, ["POST"]),
        ("/stats", stats, ["GET"]),
        ("/stats/reset", stats_reset, ["POST"]),
        ("/requests", requests_log, ["GET"]),
    ]
    return [Route(PREFIX + path, _guarded(view), methods=methods) for path, view, methods in table]
