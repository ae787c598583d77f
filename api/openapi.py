"""The OpenAPI 3 document served at /api/openapi.json, written by hand to match the views.

Keep it exact: schemathesis fuzzes the API against it.
"""

from __future__ import annotations

import copy

from users.profile_fields import (
    ARRAY_MAX_ITEMS,
    COUNTRY_CODES,
    EXTERNAL_ID_MAX_LENGTH,
    LANGUAGE_CODES,
    TEXT_MAX_LENGTH,
    time_zones,
)
from users.selectors.profiles import EXPORT_FIELDS
from users.tracking import MAX_DEVICES_PER_OBJECT, MAX_OBJECTS_PER_ARRAY, PURCHASE_MAX_QUANTITY

# Strings we store: no NUL character (databases refuse it).
NO_NUL = "^[^\\u0000]*$"
# Identifiers: no NUL, and not only whitespace.
IDENTIFIER = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _text(max_length: int = TEXT_MAX_LENGTH, **extra) -> dict:
    return {"type": "string", "maxLength": max_length, "pattern": NO_NUL, **extra}


def _identifier(max_length: int = TEXT_MAX_LENGTH, **extra) -> dict:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": IDENTIFIER,
        **extra,
    }


def _any_case(codes) -> str:
    """A pattern matching exactly these codes, in either case."""
    alternatives = "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" for c in code) for code in sorted(codes)
    )
    return f"^(?:{alternatives})$"


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
    for name, description in (
        ("X-RateLimit-Limit", "Requests allowed in the current window for this key and endpoint."),
        ("X-RateLimit-Remaining", "Requests left in the current window."),
        ("X-RateLimit-Reset", "UTC epoch seconds at which the window ends."),
    )
}

_SCALAR = {
    "anyOf": [
        _text(),
        {"type": "number"},
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        {"type": "boolean"},
    ]
}
_SCALAR_ARRAY = {"type": "array", "items": _SCALAR}

# Events and purchases name their user like attribute objects do: one identifier of these.
_ONE_IDENTIFIER = [
    {"required": ["external_id"]},
    {"required": ["user_alias"]},
    {"required": ["braze_id"]},
    {"required": ["email"]},
    {"required": ["phone"]},
]
_IDENTIFIER_PROPERTIES = {
    "external_id": _identifier(EXTERNAL_ID_MAX_LENGTH),
    "user_alias": {"$ref": "#/components/schemas/UserAlias"},
    "braze_id": _identifier(64),
    "email": _text(),
    "phone": _text(64),
    "app_id": _nullable(_text()),
}


SCHEMAS: dict = {
    "ObjectError": {
        "type": "object",
        "description": "A skipped object: why, in which array, at which index.",
        "required": ["type", "input_array", "index"],
        "properties": {
            "type": {"type": "string"},
            "input_array": {"type": "string"},
            "index": {"type": "integer", "minimum": 0},
        },
    },
    "Error": {
        "type": "object",
        "description": "Braze's fatal-error envelope: nothing was written.",
        "required": ["message", "errors"],
        "properties": {
            "message": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ObjectError"}},
        },
    },
    "UserAlias": {
        "type": "object",
        "required": ["alias_name", "alias_label"],
        "properties": {"alias_name": _identifier(), "alias_label": _identifier()},
    },
    "CustomAttributeValue": {
        "description": (
            "A custom attribute: string, number, boolean, array of those (a set, truncated to "
            f'{ARRAY_MAX_ITEMS} items), null to remove it, {{"inc": n}}, or '
            '{"add": [...], "remove": [...]}. Nested objects are not supported.'
        ),
        "anyOf": [
            _SCALAR,
            {"type": "null"},
            _SCALAR_ARRAY,
            {
                "type": "object",
                "required": ["inc"],
                "additionalProperties": False,
                "properties": {
                    "inc": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
                },
            },
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {"add": _SCALAR_ARRAY, "remove": _SCALAR_ARRAY},
            },
        ],
    },
    "Device": {
        "type": "object",
        "description": (
            "braze_sync extension (not Braze): a device upserted by device_id. Braze fills "
            "devices from its SDKs; here they come through /users/track."
        ),
        "required": ["device_id"],
        "additionalProperties": False,
        "properties": {
            "device_id": _identifier(),
            "os": _nullable(_text(64)),
            "model": _nullable(_text(128)),
            "idfa": _nullable(_text(64, description="iOS IDFA (UUID) or its SHA-256.")),
            "google_ad_id": _nullable(_text(64, description="Android GAID (UUID) or its SHA-256.")),
            "ad_tracking_enabled": {"type": ["boolean", "null"]},
        },
    },
    "UserAttributes": {
        "type": "object",
        "description": (
            "Braze user attributes object. Identified by external_id, user_alias or braze_id (at "
            "most one), else by email (which must then be valid), else phone (must be valid). "
            "Other keys are custom attributes."
        ),
        "anyOf": [
            {"required": ["external_id"]},
            {"required": ["user_alias"]},
            {"required": ["braze_id"]},
            {"required": ["email"]},
            {"required": ["phone"]},
        ],
        "properties": {
            "external_id": _identifier(EXTERNAL_ID_MAX_LENGTH),
            "user_alias": {"$ref": "#/components/schemas/UserAlias"},
            "braze_id": _identifier(64),
            "_update_existing_only": {"type": "boolean"},
            "push_token_import": {},
            "email": _nullable(_text(description="Kept as given; hashed when it is an email.")),
            "phone": _nullable(_text(64, description="E.164 recommended.")),
            "first_name": _nullable(_text()),
            "last_name": _nullable(_text()),
            "home_city": _nullable(_text()),
            "country": _nullable(
                {
                    "type": "string",
                    "pattern": _any_case(COUNTRY_CODES),
                    "description": "ISO 3166-1 alpha-2, either case",
                }
            ),
            "language": _nullable(
                {
                    "type": "string",
                    "pattern": _any_case(LANGUAGE_CODES),
                    "description": "ISO 639-1, either case",
                }
            ),
            "dob": _nullable({"type": "string", "format": "date"}),
            "gender": _nullable({"type": "string", "pattern": "^[MFONPmfonp]$"}),
            "time_zone": _nullable({"type": "string", "enum": sorted(time_zones())}),
            "email_subscribe": _nullable(
                {"type": "string", "enum": ["opted_in", "subscribed", "unsubscribed"]}
            ),
            "push_subscribe": _nullable(
                {"type": "string", "enum": ["opted_in", "subscribed", "unsubscribed"]}
            ),
            "devices": _nullable(
                {
                    "type": "array",
                    "maxItems": MAX_DEVICES_PER_OBJECT,
                    "items": {"$ref": "#/components/schemas/Device"},
                    "description": "braze_sync extension; null removes every device.",
                }
            ),
        },
        "additionalProperties": {"$ref": "#/components/schemas/CustomAttributeValue"},
    },
    "Event": {
        "type": "object",
        "required": ["name", "time"],
        "anyOf": _ONE_IDENTIFIER,
        "properties": {
            **_IDENTIFIER_PROPERTIES,
            "name": _identifier(),
            "time": {"type": "string", "format": "date-time"},
            "properties": {"type": ["object", "null"]},
            "_update_existing_only": {"type": "boolean"},
        },
    },
    "Purchase": {
        "type": "object",
        "required": ["product_id", "currency", "price", "time"],
        "anyOf": _ONE_IDENTIFIER,
        "properties": {
            **_IDENTIFIER_PROPERTIES,
            "product_id": _identifier(),
            "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
            "price": {"type": "number"},
            "quantity": {"type": "integer", "minimum": 1, "maximum": PURCHASE_MAX_QUANTITY},
            "time": {"type": "string", "format": "date-time"},
            "properties": {"type": ["object", "null"]},
            "_update_existing_only": {"type": "boolean"},
        },
    },
    "TrackRequest": {
        "type": "object",
        "properties": {
            name: {
                "type": ["array", "null"],
                "maxItems": MAX_OBJECTS_PER_ARRAY,
                "items": {"$ref": f"#/components/schemas/{item}"},
            }
            for name, item in (
                ("attributes", "UserAttributes"),
                ("events", "Event"),
                ("purchases", "Purchase"),
            )
        },
        "anyOf": [
            {"required": [name], "properties": {name: {"type": "array", "minItems": 1}}}
            for name in ("attributes", "events", "purchases")
        ],
    },
    "TrackResponse": {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string", "enum": ["success"]},
            "attributes_processed": {"type": "integer", "minimum": 0},
            "events_processed": {"type": "integer", "minimum": 0},
            "purchases_processed": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ObjectError"}},
        },
    },
    "Prioritization": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "string",
            "enum": ["identified", "unidentified", "most_recently_updated"],
        },
    },
    "DeleteRequest": {
        "type": "object",
        "description": "Exactly one of the arrays, 1 to 50 items.",
        "oneOf": [
            {
                "required": [key],
                "properties": {
                    key: {"type": "array", "minItems": 1, "maxItems": 50, "items": item}
                },
            }
            for key, item in (
                ("external_ids", _identifier(EXTERNAL_ID_MAX_LENGTH)),
                ("braze_ids", _identifier(64)),
                ("user_aliases", {"$ref": "#/components/schemas/UserAlias"}),
                (
                    "email_addresses",
                    {
                        "type": "object",
                        "required": ["email", "prioritization"],
                        "properties": {
                            "email": {"type": "string", "format": "email"},
                            "prioritization": {"$ref": "#/components/schemas/Prioritization"},
                        },
                    },
                ),
                (
                    "phone_numbers",
                    {
                        "type": "object",
                        "required": ["phone", "prioritization"],
                        "properties": {
                            "phone": {"type": "string"},
                            "prioritization": {"$ref": "#/components/schemas/Prioritization"},
                        },
                    },
                ),
            )
        ],
    },
    "DeleteResponse": {
        "type": "object",
        "required": ["message", "deleted"],
        "properties": {
            "message": {"type": "string", "enum": ["success"]},
            "deleted": {"type": "integer", "minimum": 0},
        },
    },
    "ExportRequest": {
        "type": "object",
        "description": "At least one identifier; external_ids and user_aliases hold 50 at most.",
        "properties": {
            "external_ids": {
                "type": ["array", "null"],
                "maxItems": 50,
                "items": _identifier(EXTERNAL_ID_MAX_LENGTH),
            },
            "user_aliases": {
                "type": ["array", "null"],
                "maxItems": 50,
                "items": {"$ref": "#/components/schemas/UserAlias"},
            },
            "braze_id": _nullable(_identifier()),
            "device_id": _nullable(_identifier()),
            "email_address": _nullable(_identifier()),
            "phone": _nullable(_identifier()),
            "fields_to_export": {
                "type": ["array", "null"],
                "items": {"type": "string", "enum": sorted(EXPORT_FIELDS)},
            },
        },
        "anyOf": [
            {"required": ["external_ids"], "properties": {"external_ids": {"minItems": 1}}},
            {"required": ["user_aliases"], "properties": {"user_aliases": {"minItems": 1}}},
            {"required": ["braze_id"], "properties": {"braze_id": {"type": "string"}}},
            {"required": ["device_id"], "properties": {"device_id": {"type": "string"}}},
            {"required": ["email_address"], "properties": {"email_address": {"type": "string"}}},
            {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
        ],
    },
    "ExportedActivity": {
        "type": "object",
        "required": ["name", "first", "last", "count"],
        "properties": {
            "name": {"type": "string"},
            "first": {"type": "string", "format": "date-time"},
            "last": {"type": "string", "format": "date-time"},
            "count": {"type": "integer"},
        },
    },
    "ExportedDevice": {
        "type": "object",
        "required": ["device_id"],
        "properties": {
            "device_id": {"type": "string"},
            "model": {"type": "string"},
            "os": {"type": "string"},
            "idfa": {"type": "string"},
            "google_ad_id": {"type": "string"},
            "ad_tracking_enabled": {"type": "boolean"},
        },
    },
    "ExportedUser": {
        "type": "object",
        "description": "Braze's user export object; empty fields are left out.",
        "properties": {
            "external_id": {"type": "string"},
            "braze_id": {"type": "string"},
            "user_aliases": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/UserAlias"},
            },
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "email": {"type": "string"},
            "phone": {"type": "string"},
            "dob": {"type": "string", "format": "date"},
            "home_city": {"type": "string"},
            "country": {"type": "string"},
            "language": {"type": "string"},
            "time_zone": {"type": "string"},
            "gender": {"type": "string"},
            "push_subscribe": {"type": "string"},
            "email_subscribe": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "custom_attributes": {"type": "object"},
            "custom_events": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ExportedActivity"},
            },
            "purchases": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ExportedActivity"},
            },
            "devices": {"type": "array", "items": {"$ref": "#/components/schemas/ExportedDevice"}},
        },
    },
    "ExportResponse": {
        "type": "object",
        "required": ["message", "users"],
        "properties": {
            "message": {"type": "string", "enum": ["success"]},
            "users": {"type": "array", "items": {"$ref": "#/components/schemas/ExportedUser"}},
            "invalid_user_ids": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def _error_response(description: str, *, rate_limited: bool = True) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if rate_limited:
        response["headers"] = RATE_LIMIT_HEADERS
    return response


RESPONSES: dict = {
    "BadRequest": _error_response(
        "Fatal error, nothing written: bad JSON, wrong shape, too many objects, or no valid object."
    ),
    "Unauthorized": _error_response("Missing, unknown or revoked API key.", rate_limited=False),
    "Forbidden": _error_response(
        "Access Denied: the key lacks this endpoint's permission.", rate_limited=False
    ),
    "MethodNotAllowed": _error_response("Only POST is accepted.", rate_limited=False),
    "PayloadTooLarge": _error_response("The body is larger than 4 MB."),
    "RateLimited": _error_response("Rate limit for this key and endpoint exceeded."),
}


def _operation(
    *,
    operation_id: str,
    summary: str,
    description: str,
    permission: str,
    request: str,
    response: str,
) -> dict:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": f"{description}\n\nPermission: `{permission}`.",
        "security": [{"bearerAuth": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}
            },
        },
        "responses": {
            "201": {
                "description": "Accepted.",
                "headers": RATE_LIMIT_HEADERS,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}
                },
            },
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": {"$ref": "#/components/responses/Forbidden"},
            "405": {"$ref": "#/components/responses/MethodNotAllowed"},
            "413": {"$ref": "#/components/responses/PayloadTooLarge"},
            "429": {"$ref": "#/components/responses/RateLimited"},
        },
    }


PATHS: dict = {
    "/users/track": {
        "post": _operation(
            operation_id="usersTrack",
            summary="Record attributes, custom events and purchases",
            description=(
                "Up to 75 attributes, 75 events and 75 purchases. Invalid objects are listed in "
                "`errors` by array and index while the others are processed; when none is valid "
                "the answer is 400 and nothing is written."
            ),
            permission="users.track",
            request="TrackRequest",
            response="TrackResponse",
        )
    },
    "/users/delete": {
        "post": _operation(
            operation_id="usersDelete",
            summary="Delete user profiles",
            description="One kind of identifier per request, 50 at most. Cannot be undone.",
            permission="users.delete",
            request="DeleteRequest",
            response="DeleteResponse",
        )
    },
    "/users/export/ids": {
        "post": _operation(
            operation_id="usersExportIds",
            summary="Export user profiles by identifier",
            description="Profiles with their devices (idfa, google_ad_id, ad_tracking_enabled).",
            permission="users.export.ids",
            request="ExportRequest",
            response="ExportResponse",
        )
    },
}


def openapi_document(*, base_url: str) -> dict:
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "braze_sync REST API",
            "version": "1.0.0",
            "description": (
                "Braze-compatible endpoints: the REST base URL is this server's /api. "
                "Authenticate with `Authorization: Bearer <REST API key>` (Settings > APIs and "
                "Identifiers). Every authenticated response carries X-RateLimit-* headers."
            ),
        },
        "servers": [{"url": base_url}],
        "paths": copy.deepcopy(PATHS),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": copy.deepcopy(SCHEMAS),
            "responses": copy.deepcopy(RESPONSES),
        },
    }
    document["paths"].update(copy.deepcopy(TRIGGER_OPENAPI["paths"]))
    document["components"]["schemas"].update(copy.deepcopy(TRIGGER_OPENAPI["schemas"]))
    return document


# /canvas/trigger/send

_PROPERTIES = {
    "type": ["object", "null"],
    "description": "Entry properties (at most 50 KB), readable by the Canvas's steps.",
    "additionalProperties": True,
}

_TRIGGER = _operation(
    operation_id="canvasTriggerSend",
    summary="Trigger an API-triggered Canvas",
    description=(
        "Enter up to 50 recipients (or, with `broadcast`, the Canvas's whole Target "
        "Audience). Recipients must also match the Target Audience; unknown users "
        "are skipped unless `send_to_existing_only` is false. A stopped or archived "
        "Canvas answers 201 with a `notice` and nobody enters."
    ),
    permission="canvas.trigger.send",
    request="CanvasTriggerRequest",
    response="CanvasTriggerResponse",
)
_TRIGGER["responses"]["404"] = {
    "description": "No Canvas with this canvas_id in the key's app group.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

TRIGGER_OPENAPI = {
    "paths": {"/canvas/trigger/send": {"post": _TRIGGER}},
    "schemas": {
        "CanvasTriggerRecipient": {
            "type": "object",
            "properties": {
                "external_user_id": {"type": "string", "minLength": 1},
                "user_alias": {"$ref": "#/components/schemas/UserAlias"},
                "send_to_existing_only": {"type": "boolean", "default": True},
                "attributes": {"type": "object", "additionalProperties": True},
                "canvas_entry_properties": _PROPERTIES,
                "context": _PROPERTIES,
            },
        },
        "CanvasTriggerRequest": {
            "type": "object",
            "required": ["canvas_id"],
            "properties": {
                "canvas_id": {"type": "string", "description": "The Canvas id (Entry Schedule)."},
                "canvas_entry_properties": _PROPERTIES,
                "context": _PROPERTIES,
                "broadcast": {"type": "boolean", "default": False},
                "recipients": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {"$ref": "#/components/schemas/CanvasTriggerRecipient"},
                },
            },
        },
        "CanvasTriggerResponse": {
            "type": "object",
            "required": ["dispatch_id", "message"],
            "properties": {
                "dispatch_id": {"type": "string"},
                "message": {"type": "string", "const": "success"},
                "notice": {"type": "string"},
            },
        },
    },
}
