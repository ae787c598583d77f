"""Plumbing of the Braze-compatible REST API under /api/, shared by every endpoint.

An endpoint is a plain function decorated with `rest_endpoint(permission=...)`:

    @rest_endpoint(permission=ApiPermission.CANVAS_TRIGGER_SEND)
    def canvas_trigger_send(request):
        body = read_json_body(request)            # 413 / 400 as RestError
        app_group = request.rest.app_group        # the key's app group: scope every query to it
        ...                                       # validate with a model (api/schemas.py)
        raise RestError(400, "canvas_id is required")          # Braze fatal error
        return rest_response({"message": "success", ...}, status=201)

The decorator answers, in this order: 405 for another method, 401 for a missing, unknown or
revoked key (`Authorization: Bearer <key>`), 403 when the key lacks `permission`, 429 when the
key's per-endpoint window is used up. Every response after authentication carries Braze's
`X-RateLimit-Limit/Remaining/Reset` headers. Errors use Braze's envelope
`{"message": ..., "errors": [...]}`, and an unexpected exception becomes a JSON 500 (logged
without the request body). Views are CSRF-exempt (token auth) and need no dashboard sign-in.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from appgroups.models import ApiPermission, AppGroup, RestApiKey
from core import rawsql
from core.ratelimit import RateLimitResult, rate_limit_hit

logger = logging.getLogger(__name__)

# Appboy's documented payload limit: "Attempts to post more data than 4MB will fail with 413".
MAX_BODY_BYTES = 4 * 1024 * 1024
# Braze's published limits per endpoint: (requests, window in seconds). Override with
# settings.REST_API_RATE_LIMITS = {"users.track": (limit, seconds), ...}.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    ApiPermission.USERS_TRACK: (50_000, 60),
    ApiPermission.USERS_DELETE: (20_000, 60),
    ApiPermission.USERS_EXPORT_IDS: (2_500, 60),
    ApiPermission.CANVAS_TRIGGER_SEND: (250_000, 3600),
}
# Writing last_used_at on every request would make one row hot; a minute is precise enough.
LAST_USED_PRECISION = timedelta(seconds=60)


class RestError(Exception):
    """Answer the request with Braze's error envelope and `status`."""

    def __init__(self, status: int, message: str, errors: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True)
class RestContext:
    api_key: RestApiKey
    app_group: AppGroup
    rate_limit: RateLimitResult


def rest_response(data: dict, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(data), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def rest_error(status: int, message: str, errors: list | None = None) -> HttpResponse:
    return rest_response({"message": message, "errors": errors or []}, status=status)


def authenticate(request: HttpRequest) -> RestApiKey | None:
    """The active key named by `Authorization: Bearer <key>`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    digest = RestApiKey.hash_key(token)
    key = _active_key(digest)
    # The lookup is by digest, so timing reveals nothing about the key; compare anyway.
    if key is None or not hmac.compare_digest(key.key_sha256, digest):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        RestApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


_KEY_COLUMNS = ("id", "name", "prefix", "key_sha256", "permissions", "last_used_at")
_GROUP_COLUMNS = ("id", "name", "default_country")


def _active_key(digest: str) -> RestApiKey | None:
    """One indexed, prepared query instead of the ORM's: every API request runs it."""
    keys, groups = RestApiKey._meta.db_table, AppGroup._meta.db_table
    sql = (
        "SELECT "
        + ", ".join([f"k.{c}" for c in _KEY_COLUMNS] + [f"g.{c}" for c in _GROUP_COLUMNS])
        + f" FROM {keys} k JOIN {groups} g ON g.id = k.app_group_id"
        " WHERE k.key_sha256 = %s AND k.revoked_at IS NULL"
    )
    cursor = rawsql.server_cursor() if rawsql.is_postgres() else connection.cursor()
    with cursor:
        cursor.execute(sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    key_values = dict(zip(_KEY_COLUMNS, row[: len(_KEY_COLUMNS)], strict=True))
    group_values = dict(zip(_GROUP_COLUMNS, row[len(_KEY_COLUMNS) :], strict=True))
    if isinstance(key_values["permissions"], (str, bytes)):
        key_values["permissions"] = orjson.loads(key_values["permissions"])
    key_values["last_used_at"] = rawsql.aware(key_values["last_used_at"])
    key = RestApiKey(**key_values)
    key.app_group = AppGroup(**group_values)
    return key


def rate_limit_for(permission: str) -> tuple[int, int]:
    overrides = getattr(settings, "REST_API_RATE_LIMITS", {}) or {}
    return overrides.get(permission, DEFAULT_RATE_LIMITS[permission])


def rest_endpoint(*, permission: str, methods: tuple[str, ...] = ("POST",)):
    def decorator(view):
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            try:
                return handle(request, *args, **kwargs)
            except Exception:
                # Never the body in logs: it carries emails and phone numbers.
                logger.exception("REST %s failed", request.path)
                return rest_error(500, "Internal server error")

        def handle(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = rest_error(405, f"Method Not Allowed: use {', '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            api_key = authenticate(request)
            if api_key is None:
                return rest_error(401, "Invalid API key: missing, unknown or revoked")
            if not api_key.has_permission(permission):
                return rest_error(
                    403, f"Access Denied: this API key lacks the '{permission}' permission"
                )
            limit, window = rate_limit_for(permission)
            # Named by the key's digest, not its id: ids come back after a database is rebuilt,
            # while Redis still holds the old counters.
            result = rate_limit_hit(
                key=f"rest:{api_key.key_sha256[:16]}:{permission}",
                limit=limit,
                window_seconds=window,
            )
            if not result.allowed:
                return rest_response(
                    {"message": "API rate limit exceeded", "errors": []},
                    status=429,
                    headers=result.headers() | {"Retry-After": str(window)},
                )
            request.rest = RestContext(api_key, api_key.app_group, result)
            try:
                response = view(request, *args, **kwargs)
            except RestError as exc:
                # An unread body (413) is drained or the connection closed by the WSGI server.
                response = rest_error(exc.status, exc.message, exc.errors)
            for name, value in result.headers().items():
                response[name] = value
            return response

        wrapper.rest_permission = permission
        return wrapper

    return decorator


def read_json_body(request: HttpRequest) -> Any:
    """The request body parsed as JSON; RestError 413 when too large, 400 when not JSON."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise RestError(413, f"Request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
    # request.read, not request.body: the body limit is ours, not DATA_UPLOAD_MAX_MEMORY_SIZE.
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise RestError(413, f"Request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
    if not raw.strip():
        raise RestError(400, "Request body is empty: send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RestError(400, "Invalid JSON in request body") from exc
