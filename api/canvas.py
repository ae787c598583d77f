"""POST /api/canvas/trigger/send: API-triggered Canvas entry, in Braze's shapes
(docs/ARCHITECTURE.md B7)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pydantic import ValidationError

from api.errors import NOT_AN_OBJECT, canvas_id_message, trigger_request_problem
from api.rest import RestError, read_json_body, rest_endpoint, rest_response
from api.schemas import CanvasTriggerRequest
from api.track import parse_track
from appgroups.models import ApiPermission, AppGroup
from canvas.models import Canvas, CanvasState, EntryType
from core.ids import parse_id
from journeys.entries import canvas_audience, canvas_entries_create, canvas_entries_create_for
from users.models import Profile
from users.services.profiles import profiles_track
from users.tracking import TrackFatal

logger = logging.getLogger(__name__)

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
    body = read_json_body(request)
    try:
        CanvasTriggerRequest.model_validate(body)
        problems = []
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
    # Braze looks the Canvas up before reading the rest of the request: a bad request for a
    # Canvas that does not exist is a 404.
    if any(not error["loc"] and error["type"] == "model_type" for error in problems):
        raise RestError(400, NOT_AN_OBJECT)
    for error in problems:
        if error["loc"][:1] == ("canvas_id",):
            raise RestError(400, canvas_id_message(error))
    canvas = _canvas(app_group, body["canvas_id"])
    if problems:
        message, errors = trigger_request_problem(problems)
        raise RestError(400, message, errors)
    properties = _properties(body)
    broadcast = body.get("broadcast", False)
    parsed = [] if broadcast else [_recipient(r, properties) for r in body["recipients"]]

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


def _canvas(app_group: AppGroup, canvas_id: str | int) -> Canvas:
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


def _properties(obj: dict) -> dict | None:
    """canvas_entry_properties, or `context` (its newer name; the model refuses both)."""
    for key in ("canvas_entry_properties", "context"):
        if key in obj:
            return obj[key]
    return None


def _recipient(recipient: dict, top_level: dict | None) -> dict:
    """A recipient the model accepted, as _resolve uses it."""
    identifier: dict
    if recipient.get("external_user_id") is not None:
        identifier = {"external_id": recipient["external_user_id"]}
    else:
        alias = recipient["user_alias"]
        identifier = {"user_alias": {"alias_name": alias["alias_name"],
                                     "alias_label": alias["alias_label"]}}  # fmt: skip
    own = _properties(recipient)
    # Recipient-level properties override the top-level ones.
    properties = {**(top_level or {}), **(own or {})} if (top_level or own) else None
    return {
        "identifier": identifier,
        "existing_only": recipient.get("send_to_existing_only", True),
        "attributes": recipient.get("attributes"),
        "properties": properties,
    }


def _resolve(app_group: AppGroup, recipients: list[dict], now) -> list[tuple[int, dict | None]]:
    """Apply `attributes` (creating users when send_to_existing_only is false) and find each
    recipient's profile. Unknown users are skipped, as Braze does."""
    updates = [
        # The recipient's identifier last: it names the user, whatever the attributes hold (the
        # model refuses identifiers in them already).
        {**r["attributes"], **r["identifier"], "_update_existing_only": r["existing_only"]}
        for r in recipients
        if r["attributes"]
    ]
    if updates:
        try:
            batch = parse_track(
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
