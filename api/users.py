"""Braze REST endpoints for users: /users/track, /users/delete, /users/export/ids."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q
from django.utils import timezone

from api.rest import RestError, read_json_body, require_object, rest_endpoint, rest_response
from appgroups.models import ApiPermission, AppGroup
from users import identifiers
from users.models import Profile
from users.profile_fields import EXTERNAL_ID_MAX_LENGTH, FieldError, clean_identifier
from users.selectors.profiles import EXPORT_FIELDS, profiles_export
from users.services.profiles import profiles_delete, profiles_track
from users.tracking import TrackFatal, parse_track_body

logger = logging.getLogger(__name__)

# Braze: "Up to 50 external_ids, user_aliases, or braze_ids can be included in a single request."
MAX_IDS_PER_REQUEST = 50
DELETE_KEYS = ("external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers")
PRIORITIZATIONS = frozenset({"identified", "unidentified", "most_recently_updated"})


@rest_endpoint(permission=ApiPermission.USERS_TRACK)
def users_track(request):
    app_group = request.rest.app_group
    now = timezone.now()
    try:
        batch = parse_track_body(
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
    body = require_object(read_json_body(request))
    given = [key for key in DELETE_KEYS if body.get(key) is not None]
    if len(given) != 1:
        raise RestError(400, f"Provide exactly one of: {', '.join(DELETE_KEYS)}")
    key = given[0]
    items = body[key]
    if not isinstance(items, list) or not items:
        raise RestError(400, f"'{key}' must be a non-empty array")
    if len(items) > MAX_IDS_PER_REQUEST:
        raise RestError(
            400, f"The max number of ids per request was exceeded: at most {MAX_IDS_PER_REQUEST}"
        )
    errors: list[dict] = []
    ids: set[int] = set()
    for index, item in enumerate(items):
        try:
            ids.update(_profiles_to_delete(app_group, key, item))
        except FieldError as exc:
            errors.append({"type": str(exc), "input_array": key, "index": index})
    if errors:
        # Deleting cannot be undone: one bad item refuses the whole request.
        raise RestError(400, f"Invalid '{key}': nothing was deleted", errors)
    deleted = profiles_delete(app_group=app_group, profile_ids=sorted(ids))
    logger.info("users/delete key=%s deleted=%s", request.rest.api_key.pk, deleted)
    return rest_response({"message": "success", "deleted": deleted}, status=201)


def _alias(item: Any, field: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise FieldError(f"'{field}' items must be objects with alias_name and alias_label")
    return (
        clean_identifier(item.get("alias_name"), field="alias_name"),
        clean_identifier(item.get("alias_label"), field="alias_label"),
    )


def _profiles_to_delete(app_group: AppGroup, key: str, item: Any) -> list[int]:
    profiles = Profile.objects.filter(app_group=app_group)
    if key == "external_ids":
        value = clean_identifier(item, field="external_ids", max_length=EXTERNAL_ID_MAX_LENGTH)
        return list(profiles.filter(external_id=value).values_list("id", flat=True))
    if key == "braze_ids":
        value = clean_identifier(item, field="braze_ids", max_length=64)
        return list(profiles.filter(braze_id=value).values_list("id", flat=True))
    if key == "user_aliases":
        name, label = _alias(item, "user_aliases")
        return list(
            profiles.filter(alias_name=name, alias_label=label).values_list("id", flat=True)
        )
    # email_addresses / phone_numbers: {"email"|"phone": ..., "prioritization": [...]}
    field = "email" if key == "email_addresses" else "phone"
    if not isinstance(item, dict):
        raise FieldError(f"'{key}' items must be objects with {field} and prioritization")
    raw = clean_identifier(item.get(field), field=field)
    if field == "email":
        normalized = identifiers.normalize_email(raw)
    else:
        normalized = identifiers.normalize_phone(raw, default_country=app_group.default_country)
    if not normalized.is_valid:
        raise FieldError(f"'{field}' is not valid")
    prioritization = item.get("prioritization")
    if (
        not isinstance(prioritization, list)
        or not prioritization
        or not all(isinstance(p, str) and p in PRIORITIZATIONS for p in prioritization)
    ):
        raise FieldError(
            "'prioritization' must list identified, unidentified or most_recently_updated"
        )
    column = f"{field}_sha256"
    candidates = list(
        profiles.filter(Q(**{column: normalized.sha256}))
        .order_by("-updated_at", "-id")
        .values_list("id", "external_id")
    )
    # The first of identified/unidentified that matches someone picks the group; the most
    # recently updated profile of that group is deleted (one profile per entry).
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


def _optional_string(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return clean_identifier(value, field=key)
    except FieldError as exc:
        raise RestError(400, str(exc)) from exc


@rest_endpoint(permission=ApiPermission.USERS_EXPORT_IDS)
def users_export_ids(request):
    app_group = request.rest.app_group
    body = require_object(read_json_body(request))
    try:
        # Absent or null is "none"; any other non-array ({}, "", 0, false) is an error.
        external_ids = body.get("external_ids")
        external_ids = [] if external_ids is None else external_ids
        if not isinstance(external_ids, list):
            raise FieldError("'external_ids' must be an array of strings")
        external_ids = [
            clean_identifier(e, field="external_ids", max_length=EXTERNAL_ID_MAX_LENGTH)
            for e in external_ids
        ]
        aliases = body.get("user_aliases")
        aliases = [] if aliases is None else aliases
        if not isinstance(aliases, list):
            raise FieldError("'user_aliases' must be an array of user alias objects")
        aliases = [_alias(a, "user_aliases") for a in aliases]
        fields = body.get("fields_to_export")
        if fields is not None:
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise FieldError("'fields_to_export' must be an array of field names")
            unknown = [f for f in fields if f not in EXPORT_FIELDS]
            if unknown:
                raise FieldError(f"'fields_to_export' has an unknown field: '{unknown[0][:50]}'")
            fields = frozenset(fields)
    except FieldError as exc:
        raise RestError(400, str(exc)) from exc
    if len(external_ids) + len(aliases) > MAX_IDS_PER_REQUEST:
        raise RestError(
            400,
            "The max number of external_ids and aliases per request was exceeded: "
            f"at most {MAX_IDS_PER_REQUEST}",
        )
    singles = {
        key: _optional_string(body, key)
        for key in ("braze_id", "device_id", "email_address", "phone")
    }
    if not external_ids and not aliases and not any(singles.values()):
        raise RestError(
            400,
            "Provide at least one of: external_ids, user_aliases, braze_id, device_id, "
            "email_address, phone",
        )
    users, invalid = profiles_export(
        app_group=app_group, external_ids=external_ids, aliases=aliases, fields=fields, **singles
    )
    data: dict[str, Any] = {"message": "success", "users": users}
    if invalid:
        data["invalid_user_ids"] = invalid
    return rest_response(data, status=201)
