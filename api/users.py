"""Braze REST endpoints for users: /users/track, /users/delete, /users/export/ids."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone
from pydantic import ValidationError

from api.errors import by_item, delete_fatal_message, delete_item_message, export_message
from api.rest import RestError, read_json_body, rest_endpoint, rest_response
from api.schemas import EXPORT_SINGLE_KEYS, DeleteRequest, ExportRequest
from api.track import parse_track
from appgroups.models import ApiPermission, AppGroup
from users import identifiers
from users.models import Profile
from users.selectors.profiles import profiles_export
from users.services.profiles import profiles_delete, profiles_track
from users.tracking import TrackFatal

logger = logging.getLogger(__name__)


@rest_endpoint(permission=ApiPermission.USERS_TRACK)
def users_track(request):
    app_group = request.rest.app_group
    now = timezone.now()
    try:
        batch = parse_track(
            read_json_body(request), default_country=app_group.default_country, now=now
        )
    except TrackFatal as exc:
        raise RestError(400, exc.message) from exc
    outcome = profiles_track(app_group=app_group, batch=batch, now=now)
    processed = {
        "attributes": outcome.attributes_processed,
        "events": outcome.events_processed,
        "purchases": outcome.purchases_processed,
    }
    logger.info(
        "users/track key=%s created=%s updated=%s errors=%s",
        request.rest.api_key.pk,
        outcome.profiles_created,
        outcome.profiles_updated,
        len(outcome.errors),
    )
    if outcome.errors and not any(processed.values()):
        # Nothing could be used: a fatal error, and nothing was written.
        raise RestError(400, "No valid attributes, events, or purchases", outcome.errors)
    data: dict[str, Any] = {"message": "success"}
    for name in batch.sizes:
        data[f"{name}_processed"] = processed[name]
    if outcome.errors:
        data["errors"] = outcome.errors
    return rest_response(data, status=201)


@rest_endpoint(permission=ApiPermission.USERS_DELETE)
def users_delete(request):
    app_group = request.rest.app_group
    body = read_json_body(request)
    bad: dict[tuple, list] = {}  # the items' problems, by (array, index)
    try:
        key = DeleteRequest.model_validate(body).given()
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        fatal = [error for error in errors if len(error["loc"]) < 2]
        if fatal:
            raise RestError(400, delete_fatal_message(fatal[0])) from None
        bad = by_item(errors, 2)
        key = errors[0]["loc"][0]
    items = body[key]  # the JSON as sent: the model's instances are not used
    country = app_group.default_country
    problems = []
    for index, item in enumerate(items):
        if (key, index) in bad:
            message = delete_item_message(
                key, bad[key, index], lambda item=item: _invalid_contact(key, item, country)
            )
        else:
            message = _invalid_contact(key, item, country)
        if message:
            problems.append({"type": message, "input_array": key, "index": index})
    if problems:
        # Deleting cannot be undone: one bad item refuses the whole request.
        raise RestError(400, f"Invalid '{key}': nothing was deleted", problems)
    ids: set[int] = set()
    for item in items:
        ids.update(_profiles_to_delete(app_group, key, item))
    deleted = profiles_delete(app_group=app_group, profile_ids=sorted(ids))
    logger.info("users/delete key=%s deleted=%s", request.rest.api_key.pk, deleted)
    return rest_response({"message": "success", "deleted": deleted}, status=201)


def _contact(key: str, item: Any, default_country: str) -> identifiers.Normalized | None:
    """The normalized email or phone of an email_addresses or phone_numbers item."""
    if key == "email_addresses":
        return identifiers.normalize_email(item["email"])
    if key == "phone_numbers":
        return identifiers.normalize_phone(item["phone"], default_country=default_country)
    return None


def _invalid_contact(key: str, item: Any, default_country: str) -> str | None:
    """Why an item's email or phone (well-formed: the model checked it) cannot be used."""
    contact = _contact(key, item, default_country)
    if contact is None or contact.is_valid:
        return None
    return f"'{'email' if key == 'email_addresses' else 'phone'}' is not valid"


def _profiles_to_delete(app_group: AppGroup, key: str, item: Any) -> list[int]:
    profiles = Profile.objects.filter(app_group=app_group)
    if key == "external_ids":
        return list(profiles.filter(external_id=item).values_list("id", flat=True))
    if key == "braze_ids":
        return list(profiles.filter(braze_id=item).values_list("id", flat=True))
    if key == "user_aliases":
        return list(
            profiles.filter(
                alias_name=item["alias_name"], alias_label=item["alias_label"]
            ).values_list("id", flat=True)
        )
    # email_addresses / phone_numbers: {"email"|"phone": ..., "prioritization": [...]}
    column = "email_sha256" if key == "email_addresses" else "phone_sha256"
    contact = _contact(key, item, app_group.default_country)
    candidates = list(
        profiles.filter(Q(**{column: contact.sha256}))
        .order_by("-updated_at", "-id")
        .values_list("id", "external_id")
    )
    # The first of identified/unidentified that matches someone picks the group; the most
    # recently updated profile of that group is deleted (one profile per entry).
    prioritization = item["prioritization"]
    for preference in prioritization:
        if preference == "identified":
            group = [pk for pk, external_id in candidates if external_id is not None]
        elif preference == "unidentified":
            group = [pk for pk, external_id in candidates if external_id is None]
        else:
            continue
        if group:
            return group[:1]
    if any(p in ("identified", "unidentified") for p in prioritization):
        return []
    return [pk for pk, _ in candidates[:1]]


@rest_endpoint(permission=ApiPermission.USERS_EXPORT_IDS)
def users_export_ids(request):
    app_group = request.rest.app_group
    body = read_json_body(request)
    try:
        query = ExportRequest.model_validate(body)
    except ValidationError as exc:
        raise RestError(400, export_message(exc.errors(include_url=False))) from None
    fields = query.fields_to_export
    users, invalid = profiles_export(
        app_group=app_group,
        external_ids=query.external_ids or [],
        aliases=[(a.alias_name, a.alias_label) for a in query.user_aliases or ()],
        fields=None if fields is None else frozenset(fields),
        **{key: getattr(query, key) for key in EXPORT_SINGLE_KEYS},
    )
    data: dict[str, Any] = {"message": "success", "users": users}
    if invalid:
        data["invalid_user_ids"] = invalid
    return rest_response(data, status=201)
