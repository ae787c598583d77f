"""Endpoints this app adds under /api/ (included by appgroups.api.urls), and their OpenAPI."""

from django.urls import re_path

from appgroups.api.openapi import _operation
from journeys import api

urlpatterns = [
    re_path(r"^canvas/trigger/send/?$", api.canvas_trigger_send, name="canvas-trigger-send"),
]

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

OPENAPI = {
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
