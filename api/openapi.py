"""/api/openapi.json: the OpenAPI 3.1 document, its schemas generated from the models that
validate the requests (api/schemas.py), so the two cannot drift apart.

Components are pydantic's JSON Schema (draft 2020-12, which OpenAPI 3.1 takes as is); what a
model cannot know (paths, permissions, statuses, headers) is the OPERATIONS table below.
schemathesis fuzzes the API from this document (tests/hostile/test_api_fuzz.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema

from api import canvas, schemas, users

REF_TEMPLATE = "#/components/schemas/{model}"


class DocumentSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, trimmed for the document."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # "title": "External Id" says nothing the property's name does not

    def model_schema(self, schema: core_schema.ModelSchema) -> dict:
        json_schema = super().model_schema(schema)
        json_schema.pop("title", None)  # the component's name is the title
        if "description" in json_schema:  # a docstring: one paragraph, not its line breaks
            json_schema["description"] = " ".join(json_schema["description"].split())
        return json_schema

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict:
        json_schema = super().default_schema(schema)
        # A None default only makes a field optional (absent); it is no value to advertise.
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema

    def tagged_union_schema(self, schema: core_schema.TaggedUnionSchema) -> dict:
        json_schema = super().tagged_union_schema(schema)
        # Our unions pick their member by JSON type, and types overlap (an integer is a
        # number): anyOf, not the oneOf pydantic writes for tagged unions.
        json_schema["anyOf"] = json_schema.pop("oneOf")
        return json_schema


RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
    for name, description in (
        ("X-RateLimit-Limit", "Requests allowed in the current window for this key and endpoint."),
        ("X-RateLimit-Remaining", "Requests left in the current window."),
        ("X-RateLimit-Reset", "UTC epoch seconds at which the window ends."),
    )
}


def _error_response(description: str, *, rate_limited: bool = True) -> dict:
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}},
    }
    if rate_limited:
        response["headers"] = RATE_LIMIT_HEADERS
    return response


# Shared error answers, by status. 401, 403 and 405 come before the rate limit is counted: no
# X-RateLimit-* headers.
RESPONSES: dict[str, tuple[str, dict]] = {
    "400": ("BadRequest", _error_response(
        "Fatal error, nothing written: bad JSON, wrong shape, too many objects, or no valid "
        "object."
    )),
    "401": ("Unauthorized", _error_response(
        "Missing, unknown or revoked API key.", rate_limited=False
    )),
    "403": ("Forbidden", _error_response(
        "Access Denied: the key lacks this endpoint's permission.", rate_limited=False
    )),
    "405": ("MethodNotAllowed", _error_response("Only POST is accepted.", rate_limited=False)),
    "413": ("PayloadTooLarge", _error_response("The body is larger than 4 MB.")),
    "429": ("RateLimited", _error_response("Rate limit for this key and endpoint exceeded.")),
}  # fmt: skip


@dataclass(frozen=True)
class Operation:
    path: str
    operation_id: str
    summary: str
    description: str
    view: Callable  # a rest_endpoint: its permission goes into the description
    request: type[BaseModel]
    response: type[BaseModel]
    # Statuses of this operation only: {status: response object}.
    more_responses: dict[str, dict] = field(default_factory=dict)


OPERATIONS = (
    Operation(
        path="/users/track",
        operation_id="usersTrack",
        summary="Record attributes, custom events and purchases",
        description=(
            "Up to 75 attributes, 75 events and 75 purchases. Invalid objects are listed in "
            "`errors` by array and index while the others are processed; when none is valid "
            "the answer is 400 and nothing is written."
        ),
        view=users.users_track,
        request=schemas.TrackRequest,
        response=schemas.TrackResponse,
    ),
    Operation(
        path="/users/delete",
        operation_id="usersDelete",
        summary="Delete user profiles",
        description="One kind of identifier per request, 50 at most. Cannot be undone.",
        view=users.users_delete,
        request=schemas.DeleteRequest,
        response=schemas.DeleteResponse,
    ),
    Operation(
        path="/users/export/ids",
        operation_id="usersExportIds",
        summary="Export user profiles by identifier",
        description="Profiles with their devices (idfa, google_ad_id, ad_tracking_enabled).",
        view=users.users_export_ids,
        request=schemas.ExportRequest,
        response=schemas.ExportResponse,
    ),
    Operation(
        path="/canvas/trigger/send",
        operation_id="canvasTriggerSend",
        summary="Trigger an API-triggered Canvas",
        description=(
            "Enter up to 50 recipients (or, with `broadcast`, the Canvas's whole Target "
            "Audience). Recipients must also match the Target Audience; unknown users "
            "are skipped unless `send_to_existing_only` is false. A stopped or archived "
            "Canvas answers 201 with a `notice` and nobody enters."
        ),
        view=canvas.canvas_trigger_send,
        request=schemas.CanvasTriggerRequest,
        response=schemas.CanvasTriggerResponse,
        more_responses={
            "404": {
                "description": "No Canvas with this canvas_id in the key's app group.",
                "content": {
                    "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}
                },
            }
        },
    ),
)


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _operation(operation: Operation) -> dict:
    permission = operation.view.rest_permission
    return {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": f"{operation.description}\n\nPermission: `{permission}`.",
        "security": [{"bearerAuth": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref(operation.request)}},
        },
        "responses": {
            "201": {
                "description": "Accepted.",
                "headers": RATE_LIMIT_HEADERS,
                "content": {"application/json": {"schema": _ref(operation.response)}},
            },
            **{
                status: {"$ref": f"#/components/responses/{name}"}
                for status, (name, _) in RESPONSES.items()
            },
            **operation.more_responses,
        },
    }


def component_schemas() -> dict[str, dict]:
    """Every model an operation names, and those they refer to, by name."""
    models = [schemas.Error]
    for operation in OPERATIONS:
        models += [operation.request, operation.response]
    _, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template=REF_TEMPLATE,
        schema_generator=DocumentSchema,
    )
    return top["$defs"]


@cache
def _document() -> dict:
    return {
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
        "paths": {operation.path: {"post": _operation(operation)} for operation in OPERATIONS},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": component_schemas(),
            "responses": {name: response for name, response in RESPONSES.values()},
        },
    }


def openapi_document(*, base_url: str) -> dict:
    # Generated once per process; each answer gets its own copy, with its server.
    document = copy.deepcopy(_document())
    return {
        "openapi": document.pop("openapi"),
        "info": document.pop("info"),
        "servers": [{"url": base_url}],
        **document,
    }
