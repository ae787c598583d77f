"""POST /api/canvas/trigger/send: API-triggered Canvas entry, in Braze's shapes
(BRAZE_PRODUCT.md §6.3)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import orjson
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.rest import RestError, read_json_body, require_object, rest_endpoint, rest_response
from appgroups.models import ApiPermission, AppGroup
from canvas.models import Canvas, CanvasState, EntryType
from core.ids import parse_id
from journeys.entries import canvas_audience, canvas_entries_create, canvas_entries_create_for
from users.models import Profile
from users.services.profiles import profiles_track
from users.tracking import TrackFatal, parse_track_body

logger = logging.getLogger(__name__)

# Braze: "up to 50 recipients per request"; entry properties at most 50 KB.
MAX_RECIPIENTS = 50
MAX_PROPERTIES_BYTES = 50 * 1024
NOTICES = {
    CanvasState.STOPPED: (
        "The Canvas is paused. Resume the Canvas to ensure trigger requests will take effect."
    ),
    CanvasState.ARCHIVED: (
        "The Canvas is archived. Unarchive the Canvas to ensure trigger requests will take effect."
    ),
}


@rest_endpoint(permission=ApiPermission.CANVAS_TRIGGER_SEND)
def canvas_trigger_send(request):
    app_group: AppGroup = request.rest.app_group
    body = require_object(read_json_body(request))
    canvas = _canvas(app_group, body.get("canvas_id"))
    properties = _properties(body, where="request")
    broadcast = body.get("broadcast", False)
    if not isinstance(broadcast, bool):
        raise RestError(400, "'broadcast' must be true or false")
    if "audience" in body:
        raise RestError(
            400,
            "'audience' (connected audience) is not supported: the Canvas's Target Audience "
            "applies to every trigger",
        )
    recipients = body.get("recipients")
    if broadcast and recipients is not None:
        raise RestError(400, "'broadcast' cannot be combined with 'recipients'")
    if not broadcast and recipients is None:
        raise RestError(400, "'recipients' is required unless 'broadcast' is true")
    parsed = [] if broadcast else _recipients(recipients, properties)

    dispatch_id = secrets.token_hex(16)
    response: dict[str, Any] = {"dispatch_id": dispatch_id, "message": "success"}
    if canvas.state in NOTICES:
        # Braze accepts the request and says why nobody will enter.
        response["notice"] = NOTICES[canvas.state]
        return rest_response(response, status=201)

    now = timezone.now()
    with transaction.atomic():
        if broadcast:
            entered = canvas_entries_create(
                canvas=canvas, profiles=canvas_audience(canvas), properties=properties,
                dispatch_id=dispatch_id, now=now,
            )  # fmt: skip
        else:
            profile_ids = _resolve(app_group, parsed, now)
            entered = len(
                canvas_entries_create_for(
                    canvas=canvas, recipients=profile_ids, dispatch_id=dispatch_id, now=now
                )
            )
        if entered:
            transaction.on_commit(_wake_the_engine)
    logger.info(
        "canvas/trigger/send canvas=%s key=%s entered=%d", canvas.pk, request.rest.api_key.pk,
        entered,
    )  # fmt: skip
    return rest_response(response, status=201)


def _wake_the_engine() -> None:
    # The entries are durable already; this only saves waiting for beat's next tick.
    from journeys.tasks import journeys_advance

    journeys_advance.delay()


def _canvas(app_group: AppGroup, canvas_id: Any) -> Canvas:
    if canvas_id is None or canvas_id == "":
        raise RestError(400, "'canvas_id' is required")
    if isinstance(canvas_id, bool) or not isinstance(canvas_id, str | int):
        raise RestError(400, "'canvas_id' must be a string")
    pk = parse_id(canvas_id)
    # Scoped to the key's app group: another group's Canvas does not exist for this key.
    canvas = Canvas.objects.filter(app_group=app_group, pk=pk).first() if pk else None
    if canvas is None:
        raise RestError(404, f"No Canvas with canvas_id {str(canvas_id)[:40]!r}")
    if canvas.state == CanvasState.DRAFT:
        raise RestError(400, "The Canvas is a draft: launch it before triggering it")
    if canvas.entry_type != EntryType.API_TRIGGERED:
        raise RestError(400, "The Canvas is not API-triggered (see its Entry Schedule)")
    return canvas


def _properties(obj: dict, *, where: str) -> dict | None:
    """canvas_entry_properties, or `context` (its newer name); never both."""
    given = [key for key in ("canvas_entry_properties", "context") if key in obj]
    if len(given) == 2:
        raise RestError(400, f"{where}: use 'context' or 'canvas_entry_properties', not both")
    if not given:
        return None
    value = obj[given[0]]
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RestError(400, f"{where}: '{given[0]}' must be an object")
    if len(orjson.dumps(value)) > MAX_PROPERTIES_BYTES:
        raise RestError(400, f"{where}: '{given[0]}' is larger than 50 KB")
    if _holds_nul(value):
        # PostgreSQL's jsonb refuses \u0000 (a 500 otherwise); SQLite would store it.
        raise RestError(400, f"{where}: '{given[0]}' must not contain NUL characters")
    return value


def _holds_nul(value: Any) -> bool:
    """A NUL character in any key or string, at any depth (a 50 KB value: no deep recursion
    worth fearing, but walk it without recursion anyway)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _recipients(recipients: Any, top_level: dict | None) -> list[dict]:
    if not isinstance(recipients, list):
        raise RestError(400, "'recipients' must be an array")
    if not recipients:
        raise RestError(400, "'recipients' must not be empty")
    if len(recipients) > MAX_RECIPIENTS:
        raise RestError(400, f"'recipients' has more than {MAX_RECIPIENTS} objects")
    errors = []
    parsed = []
    for index, recipient in enumerate(recipients):
        try:
            parsed.append(_recipient(recipient, index, top_level))
        except RestError as exc:
            errors.append({"type": exc.message, "input_array": "recipients", "index": index})
    if errors:
        # Nothing enters when a recipient is malformed: a fatal error writes nothing.
        raise RestError(400, "Invalid recipients", errors)
    return parsed


def _recipient(recipient: Any, index: int, top_level: dict | None) -> dict:
    where = f"recipients[{index}]"
    if not isinstance(recipient, dict):
        raise RestError(400, f"{where} must be an object")
    identifiers = [k for k in ("external_user_id", "user_alias") if recipient.get(k) is not None]
    if len(identifiers) != 1:
        raise RestError(400, f"{where} needs exactly one of 'external_user_id' or 'user_alias'")
    existing_only = recipient.get("send_to_existing_only", True)
    if not isinstance(existing_only, bool):
        raise RestError(400, f"{where}: 'send_to_existing_only' must be true or false")
    attributes = recipient.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise RestError(400, f"{where}: 'attributes' must be an object")
    identifier: dict
    if identifiers[0] == "external_user_id":
        external_id = recipient["external_user_id"]
        if not isinstance(external_id, str) or not external_id.strip():
            raise RestError(400, f"{where}: 'external_user_id' must be a non-empty string")
        identifier = {"external_id": external_id}
    else:
        alias = recipient["user_alias"]
        if not (
            isinstance(alias, dict)
            and isinstance(alias.get("alias_name"), str)
            and isinstance(alias.get("alias_label"), str)
        ):
            raise RestError(400, f"{where}: 'user_alias' needs alias_name and alias_label")
        if not existing_only:
            raise RestError(
                400, f"{where}: 'send_to_existing_only' false needs an 'external_user_id'"
            )
        identifier = {"user_alias": {"alias_name": alias["alias_name"],
                                     "alias_label": alias["alias_label"]}}  # fmt: skip
    if not existing_only and not attributes:
        raise RestError(400, f"{where}: 'send_to_existing_only' false needs 'attributes'")
    own = _properties(recipient, where=where)
    # Recipient-level properties override the top-level ones.
    properties = {**(top_level or {}), **(own or {})} if (top_level or own) else None
    return {
        "identifier": identifier,
        "existing_only": existing_only,
        "attributes": attributes,
        "properties": properties,
    }


def _resolve(app_group: AppGroup, recipients: list[dict], now) -> list[tuple[int, dict | None]]:
    """Apply `attributes` (creating users when send_to_existing_only is false) and find each
    recipient's profile. Unknown users are skipped, as Braze does."""
    updates = [
        {**r["identifier"], **r["attributes"], "_update_existing_only": r["existing_only"]}
        for r in recipients
        if r["attributes"]
    ]
    if updates:
        try:
            batch = parse_track_body(
                {"attributes": updates}, default_country=app_group.default_country, now=now
            )
        except TrackFatal as exc:
            raise RestError(400, exc.message) from exc
        outcome = profiles_track(app_group=app_group, batch=batch, now=now)
        if outcome.errors:
            raise RestError(400, "Invalid recipient attributes", outcome.errors)
    # Two queries for up to 50 recipients: one by external id, one by alias.
    profiles = Profile.objects.filter(app_group=app_group)
    by_external = dict(
        profiles.filter(
            external_id__in=[
                r["identifier"]["external_id"]
                for r in recipients
                if "external_id" in r["identifier"]
            ]
        ).values_list("external_id", "pk")
    )
    aliases = [r["identifier"]["user_alias"] for r in recipients if "user_alias" in r["identifier"]]
    by_alias = {}
    if aliases:
        alias_q = Q()
        for alias in aliases:
            alias_q |= Q(alias_name=alias["alias_name"], alias_label=alias["alias_label"])
        by_alias = {
            (name, label): pk
            for name, label, pk in profiles.filter(alias_q).values_list(
                "alias_name", "alias_label", "pk"
            )
        }
    resolved = []
    for recipient in recipients:
        identifier = recipient["identifier"]
        if "external_id" in identifier:
            profile_id = by_external.get(identifier["external_id"])
        else:
            alias = identifier["user_alias"]
            profile_id = by_alias.get((alias["alias_name"], alias["alias_label"]))
        if profile_id is not None:
            resolved.append((profile_id, recipient["properties"]))
    return resolved
