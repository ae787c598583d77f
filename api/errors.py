"""Braze's error messages for the models' validation errors (api/schemas.py).

A model reports every problem of a body at once; Braze reports one message per bad object (or
per request): the first problem its checks meet, in a fixed order. The functions here pick that
problem and word it as the API always has (clients and tests match these messages). Labels
name the field as sent: "'user_alias.alias_name' must be a string", "'devices.os' is longer than
64 characters".

Two orders are not the models' field order:
- an attributes object is read key by key, in the object's own order, once its user is
  identified;
- a user identified by email or phone must have a valid one (a check that needs
  normalization, not a structure check) before anything after the identifier is looked at:
  `track_object_message` asks users.tracking.parse_identifier when the first structural
  problem comes after the identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic_core import ErrorDetails

from api import fields, schemas
from users.profile_fields import FieldError
from users.tracking import (
    MAX_DEVICES_PER_OBJECT,
    MAX_OBJECTS_PER_ARRAY,
    PRIMARY_IDENTIFIERS,
    PURCHASE_MAX_QUANTITY,
    parse_identifier,
)

NOT_AN_OBJECT = "Request body must be a JSON object"


def text_message(error: ErrorDetails, label: str) -> str:
    """The messages of users.profile_fields.clean_text and clean_identifier, and of the
    normalizing checks the models call (FIELD_ERROR: already worded)."""
    kind = error["type"]
    if kind == fields.FIELD_ERROR:
        return error["msg"]
    if kind in ("string_type", "missing"):
        return f"'{label}' must be a string"
    if kind == "string_too_long":
        return f"'{label}' is longer than {error['ctx']['max_length']} characters"
    if kind in ("string_too_short", "string_pattern_mismatch"):
        if "\x00" in error["input"]:
            return f"'{label}' contains a NUL character"
        return f"'{label}' must not be empty"
    # Not reachable with today's models; say something true rather than fail.
    return f"'{label}' is not valid: {error['msg']}"


def _label(loc: Iterable) -> str:
    return ".".join(part for part in loc if isinstance(part, str))


def by_item(errors: list[ErrorDetails], depth: int) -> dict[tuple, list[ErrorDetails]]:
    """Errors grouped by the first `depth` parts of their location, each with the rest of it."""
    groups: dict[tuple, list[ErrorDetails]] = {}
    for error in errors:
        key, rest = error["loc"][:depth], error["loc"][depth:]
        groups.setdefault(key, []).append({**error, "loc": rest})
    return groups


# --- /users/track --------------------------------------------------------------------------------


def track_fatal_message(error: ErrorDetails) -> str:
    """A problem with the body itself (an error whose location is at most an array's name)."""
    if error["type"] == "model_type":
        return NOT_AN_OBJECT
    if error["type"] == fields.RULE_NO_OBJECTS:
        return error["msg"]
    name = error["loc"][0]
    if error["type"] == "too_long":
        return f"Max Input Length Exceeded: at most {MAX_OBJECTS_PER_ARRAY} {name} per request"
    return f"'{name}' must be an array"


# Ranks of the checks Braze makes on an object before reading the rest of it.
_ONE_IDENTIFIER, _FLAG, _PRIMARY, _CONTACT, _MISSING, _IDENTIFIED = range(6)
_ACTIVITY_ORDER = ("app_id", "time", "properties", "name", "product_id", "currency", "price",
                   "quantity")  # fmt: skip


def _identifying_contact(obj: dict) -> str | None:
    """Which of email and phone identifies the object's user, if one does."""
    if "external_id" in obj or "user_alias" in obj or "braze_id" in obj:
        return None
    if obj.get("email") is not None:
        return "email"
    if obj.get("phone") is not None:
        return "phone"
    return None


def track_object_message(
    array: str, obj: Any, errors: list[ErrorDetails], *, default_country: str
) -> str:
    """The message for a bad attributes object, event or purchase (`errors`' locations are
    relative to the object)."""
    if not isinstance(obj, dict):
        return f"each {array} item must be an object"
    contact = _identifying_contact(obj)
    positions = {key: n for n, key in enumerate(obj)} if array == "attributes" else {}

    def rank(error: ErrorDetails) -> tuple:
        kind, loc = error["type"], error["loc"]
        if kind == fields.RULE_ONE_IDENTIFIER:
            return (_ONE_IDENTIFIER,)
        if kind == fields.RULE_MISSING_IDENTIFIER:
            return (_MISSING,)
        head = loc[0]
        if head == "_update_existing_only":
            return (_FLAG,)
        if head in PRIMARY_IDENTIFIERS:
            return (_PRIMARY,)
        # An identifying phone is checked against 255 characters, then its 64 (the field's own
        # limit) when the attributes are read: that too_long comes later, with the key.
        if head == contact and not (array == "attributes" and kind == "string_too_long"):
            return (_CONTACT,)
        if array != "attributes":
            return (_IDENTIFIED + 1, _ACTIVITY_ORDER.index(head))
        return (_IDENTIFIED + 1, positions.get(head, len(positions)), _within_key(error))

    first = min(errors, key=rank)  # the first of equal ranks: the model's own order
    if rank(first) > (_IDENTIFIED,):
        try:
            parse_identifier(obj, default_country=default_country)
        except FieldError as exc:
            return str(exc)
    if array == "attributes":
        return _attributes_message(first)
    return _activity_message(first)


def _within_key(error: ErrorDetails) -> tuple:
    """Order of the problems of one attribute: a custom attribute's name before its value; the
    devices array itself, then each device, its unknown fields (by name) before the others."""
    kind, loc = error["type"], error["loc"]
    if kind == fields.RULE_ATTRIBUTE_NAME:
        return (0,)
    if loc[0] == "devices" and len(loc) > 1:
        unknown = kind == "extra_forbidden"
        return (2, loc[1], 0 if unknown else 1, loc[-1] if unknown else "")
    return (1,)


# Messages by (label, pydantic error type), where the generic text_message is not Braze's.
_IDENTIFIER_MESSAGES = {
    ("_update_existing_only", "bool_type"): "'_update_existing_only' must be a boolean",
    ("user_alias", "model_type"): "'user_alias' must be an object with alias_name and alias_label",
}
_ATTRIBUTES_MESSAGES = {
    **_IDENTIFIER_MESSAGES,
    ("devices", "list_type"): "'devices' must be an array of device objects or null",
    ("devices", "too_long"): f"'devices' holds at most {MAX_DEVICES_PER_OBJECT} devices",
    ("devices", "model_type"): "each device must be an object",
    ("devices.ad_tracking_enabled", "bool_type"): (
        "'devices.ad_tracking_enabled' must be a boolean or null"
    ),
}


def _attributes_message(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind.startswith(fields.RULE_PREFIX):
        return error["msg"]
    if loc[0] not in schemas.ATTRIBUTE_FIELDS:
        return _custom_attribute_message(loc[0], error)
    if kind == "extra_forbidden":
        return f"unknown device field '{loc[-1][:50]}'"
    label = _label(loc)
    return _ATTRIBUTES_MESSAGES.get((label, kind)) or text_message(error, label)


def _custom_attribute_message(name: str, error: ErrorDetails) -> str:
    kind, path = error["type"], error["loc"][1:]
    if path[:1] == ("increment",):
        if kind == "int_type":
            return f"'{name}': inc takes an integer"
        return f"'{name}': inc is out of the 64-bit integer range"
    label = f"{name}.{path[1]}" if path[:1] == ("add-remove",) else name
    if kind == "union_tag_not_found":
        if not path:
            return (
                f"'{name}': objects are only accepted as "
                '{"inc": n} or {"add"/"remove": [...]}'
            )
        return f"'{label}' may only hold strings, numbers and booleans"
    if kind == "list_type":
        return f"'{label}' must be an array"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"'{label}' is out of the 64-bit integer range"
    return text_message(error, label)


_QUANTITY = f"'quantity' must be between 1 and {PURCHASE_MAX_QUANTITY}"
_ACTIVITY_MESSAGES = {
    **_IDENTIFIER_MESSAGES,
    ("time", "missing"): "'time' is required",
    ("properties", "dict_type"): "'properties' must be an object",
    ("name", "missing"): "'name' is required",
    ("product_id", "missing"): "'product_id' is required",
    ("price", "missing"): "'price' must be a number",
    ("price", "float_type"): "'price' must be a number",
    ("price", "finite_number"): "'price' must be a finite number",
    ("quantity", "int_type"): "'quantity' must be an integer",
    ("quantity", "greater_than_equal"): _QUANTITY,
    ("quantity", "less_than_equal"): _QUANTITY,
}


def _activity_message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind.startswith(fields.RULE_PREFIX):
        return error["msg"]
    label = _label(error["loc"])
    if label == "currency":
        return "'currency' must be a three-letter ISO 4217 code"
    return _ACTIVITY_MESSAGES.get((label, kind)) or text_message(error, label)


# --- /users/delete -------------------------------------------------------------------------------


def delete_fatal_message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "model_type":
        return NOT_AN_OBJECT
    if kind == fields.RULE_ONE_DELETE_KEY:
        return error["msg"]
    if kind == "too_long":
        return (
            f"The max number of ids per request was exceeded: at most {schemas.MAX_IDS_PER_REQUEST}"
        )
    return f"'{error['loc'][0]}' must be a non-empty array"


_DELETE_ITEM_FIELDS = {
    "user_aliases": "alias_name and alias_label",
    "email_addresses": "email and prioritization",
    "phone_numbers": "phone and prioritization",
}


def delete_item_message(
    key: str, errors: list[ErrorDetails], invalid_contact: Callable[[], str | None]
) -> str:
    """The message for a bad item of the `key` array. An email or phone is checked valid
    (`invalid_contact`, which normalizes) before the item's prioritization."""
    first = errors[0]
    loc = first["loc"]
    if not loc:
        if first["type"] == "model_type":
            return f"'{key}' items must be objects with {_DELETE_ITEM_FIELDS[key]}"
        return text_message(first, key)
    if loc[0] == "prioritization":
        return invalid_contact() or (
            "'prioritization' must list identified, unidentified or most_recently_updated"
        )
    return text_message(first, loc[-1])


# --- /users/export/ids ---------------------------------------------------------------------------

_EXPORT_ORDER = ("external_ids", "user_aliases", "fields_to_export", fields.RULE_TOO_MANY_IDS,
                 *schemas.EXPORT_SINGLE_KEYS, fields.RULE_NO_IDENTIFIER)  # fmt: skip


def export_message(errors: list[ErrorDetails]) -> str:
    def rank(error: ErrorDetails) -> int:
        if error["type"] == "model_type" and not error["loc"]:
            return -1
        if error["type"].startswith(fields.RULE_PREFIX):
            return _EXPORT_ORDER.index(error["type"])
        return _EXPORT_ORDER.index(error["loc"][0])

    first = min(errors, key=rank)
    kind, loc = first["type"], first["loc"]
    if rank(first) < 0:
        return NOT_AN_OBJECT
    if kind.startswith(fields.RULE_PREFIX):
        return first["msg"]
    if loc[0] == "fields_to_export":
        return _fields_to_export_message([e for e in errors if e["loc"][:1] == loc[:1]])
    if loc == ("external_ids",):
        return "'external_ids' must be an array of strings"
    if loc == ("user_aliases",):
        return "'user_aliases' must be an array of user alias objects"
    if loc[0] == "user_aliases" and len(loc) == 2:
        return "'user_aliases' items must be objects with alias_name and alias_label"
    return text_message(first, loc[-1] if len(loc) > 2 else loc[0])


def _fields_to_export_message(errors: list[ErrorDetails]) -> str:
    # Any value that is not a string words the whole field; else the first unknown name.
    if any(len(e["loc"]) == 1 or not isinstance(e["input"], str) for e in errors):
        return "'fields_to_export' must be an array of field names"
    return f"'fields_to_export' has an unknown field: '{errors[0]['input'][:50]}'"


# --- /canvas/trigger/send ------------------------------------------------------------------------


def canvas_id_message(error: ErrorDetails) -> str:
    if error["type"] == "missing" or error["input"] in (None, ""):
        return "'canvas_id' is required"
    return "'canvas_id' must be a string"


_TRIGGER_ORDER = (fields.RULE_PROPERTIES_TWICE, "canvas_entry_properties", "context", "broadcast",
                  "audience", fields.RULE_BROADCAST_WITH_RECIPIENTS,
                  fields.RULE_RECIPIENTS_REQUIRED, "recipients")  # fmt: skip


def trigger_request_problem(errors: list[ErrorDetails]) -> tuple[str, list[dict]]:
    """The message (and the bad recipients, by index) for a trigger request whose canvas_id
    was fine."""
    first = min(errors, key=lambda e: _TRIGGER_ORDER.index(_rule_or_head(e)))
    kind, loc = first["type"], first["loc"]
    if loc[:1] == ("recipients",):
        if len(loc) == 1:
            return _RECIPIENTS_MESSAGES[kind], []
        recipients = by_item([e for e in errors if len(e["loc"]) > 1], 2)
        return "Invalid recipients", [
            {"type": _recipient_message(index, items), "input_array": "recipients",
             "index": index}
            for (_, index), items in sorted(recipients.items())
        ]  # fmt: skip
    return _trigger_message("request", first), []


_RECIPIENTS_MESSAGES = {
    "list_type": "'recipients' must be an array",
    "too_short": "'recipients' must not be empty",
    "too_long": f"'recipients' has more than {schemas.MAX_RECIPIENTS} objects",
}


def _rule_or_head(error: ErrorDetails) -> str:
    """A field's errors rank by the field, a rule's (located at the object) by the rule."""
    return error["loc"][0] if error["loc"] else error["type"]


_RECIPIENT_ORDER = (fields.RULE_RECIPIENT_IDENTIFIER, "send_to_existing_only", "attributes",
                    "external_user_id", "user_alias", fields.RULE_ALIAS_EXISTING_ONLY,
                    fields.RULE_ATTRIBUTES_REQUIRED, fields.RULE_IDENTIFIER_IN_ATTRIBUTES,
                    fields.RULE_PROPERTIES_TWICE,
                    "canvas_entry_properties", "context")  # fmt: skip


def _recipient_message(index: int, errors: list[ErrorDetails]) -> str:
    where = f"recipients[{index}]"
    if errors[0]["type"] == "model_type" and not errors[0]["loc"]:
        return f"{where} must be an object"
    # A NUL character in an identifier (refused: PostgreSQL cannot look it up) is reported only
    # when nothing else is wrong with the recipient, so every older message stays as it was.
    return _trigger_message(
        where,
        min(errors, key=lambda e: (_holds_nul(e), _RECIPIENT_ORDER.index(_rule_or_head(e)))),
    )


def _holds_nul(error: ErrorDetails) -> bool:
    return error["type"] == "string_pattern_mismatch" and "\x00" in error["input"]


def _trigger_message(where: str, error: ErrorDetails) -> str:
    """Messages of the request's and of a recipient's fields, `where` naming which."""
    kind = error["type"]
    head = _rule_or_head(error)
    if head in ("canvas_entry_properties", "context"):
        if kind == "properties_size":
            return f"{where}: '{head}' is larger than 50 KB"
        if kind == "properties_depth":
            return f"{where}: '{head}' is nested too deeply"
        if kind == "properties_nul":
            return f"{where}: '{head}' must not contain NUL characters"
        return f"{where}: '{head}' must be an object"
    if head in ("external_user_id", "user_alias") and _holds_nul(error):
        return f"{where}: '{head}' must not contain NUL characters"
    return {
        fields.RULE_PROPERTIES_TWICE: (
            f"{where}: use 'context' or 'canvas_entry_properties', not both"
        ),
        "broadcast": "'broadcast' must be true or false",
        "audience": (
            "'audience' (connected audience) is not supported: the Canvas's Target Audience "
            "applies to every trigger"
        ),
        fields.RULE_BROADCAST_WITH_RECIPIENTS: "'broadcast' cannot be combined with 'recipients'",
        fields.RULE_RECIPIENTS_REQUIRED: "'recipients' is required unless 'broadcast' is true",
        fields.RULE_RECIPIENT_IDENTIFIER: (
            f"{where} needs exactly one of 'external_user_id' or 'user_alias'"
        ),
        "send_to_existing_only": f"{where}: 'send_to_existing_only' must be true or false",
        "attributes": f"{where}: 'attributes' must be an object",
        "external_user_id": f"{where}: 'external_user_id' must be a non-empty string",
        "user_alias": f"{where}: 'user_alias' needs alias_name and alias_label",
        fields.RULE_ALIAS_EXISTING_ONLY: (
            f"{where}: 'send_to_existing_only' false needs an 'external_user_id'"
        ),
        fields.RULE_ATTRIBUTES_REQUIRED: (
            f"{where}: 'send_to_existing_only' false needs 'attributes'"
        ),
        fields.RULE_IDENTIFIER_IN_ATTRIBUTES: (
            f"{where}: 'attributes' may not hold external_id, user_alias or braze_id: the "
            "recipient's external_user_id or user_alias names the user"
        ),
    }[head]
