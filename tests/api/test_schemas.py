"""The models (api/schemas.py) are both the API's validation and its OpenAPI document."""

from __future__ import annotations

import dataclasses

import pytest
from django.urls import get_resolver
from pydantic import ValidationError

from api import fields, openapi, schemas
from api.errors import text_message
from api.openapi import REF_TEMPLATE, DocumentSchema, openapi_document
from users.tracking import FLAGS, IGNORED_FIELDS


@pytest.fixture
def fresh_document():
    """The document is generated once per process: rebuild it around a test that changes what
    it is generated from."""
    openapi._document.cache_clear()
    yield
    openapi._document.cache_clear()


def model_schema(model) -> dict:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=DocumentSchema)
    schema.pop("$defs", None)
    return schema


def test_every_component_is_its_models_json_schema():
    components = openapi_document(base_url="http://testserver/api")["components"]["schemas"]

    models = {
        name: getattr(schemas, name)
        for name in components
        if isinstance(getattr(schemas, name, None), type)
    }
    # Not models: the named types (TypeAliasType) the models use.
    assert set(components) - set(models) == {"CustomAttributeValue", "Prioritization", "Scalar"}
    for name, model in models.items():
        assert components[name] == model_schema(model), name


def test_a_field_added_to_a_model_appears_in_the_document(monkeypatch, fresh_document):
    class TrackRequest(schemas.TrackRequest):
        dry_run: bool = False

    operations = tuple(
        dataclasses.replace(op, request=TrackRequest) if op.path == "/users/track" else op
        for op in openapi.OPERATIONS
    )
    monkeypatch.setattr(openapi, "OPERATIONS", operations)

    document = openapi_document(base_url="http://testserver/api")

    track = document["components"]["schemas"]["TrackRequest"]
    assert track["properties"]["dry_run"] == {"type": "boolean", "default": False}
    assert (
        track["properties"]["attributes"]
        == model_schema(schemas.TrackRequest)["properties"]["attributes"]
    )


def test_every_rest_endpoint_is_documented_with_its_permission():
    document = openapi_document(base_url="http://testserver/api")
    documented = {op.view: op.path for op in openapi.OPERATIONS}

    api_urls = next(r for r in get_resolver().url_patterns if getattr(r, "app_name", "") == "api")
    endpoints = [
        pattern.callback
        for pattern in api_urls.url_patterns
        if hasattr(pattern.callback, "rest_permission")
    ]

    assert len(endpoints) == 4
    for view in endpoints:
        operation = document["paths"][documented[view]]["post"]
        assert f"Permission: `{view.rest_permission}`." in operation["description"]


def test_the_trigger_documents_its_404():
    operation = openapi_document(base_url="http://x/api")["paths"]["/canvas/trigger/send"]["post"]

    assert set(operation["responses"]) == {"201", "400", "401", "403", "404", "405", "413", "429"}


def test_brazes_ignored_profile_fields_are_accepted_not_custom_attributes():
    fields = {field.alias or name for name, field in schemas.UserAttributes.model_fields.items()}

    assert IGNORED_FIELDS | FLAGS <= fields
    attributes = schemas.UserAttributes.model_validate(
        {"external_id": "u1", "push_tokens": [{"app_id": "a", "token": "t"}], "facebook": {}}
    )
    assert attributes.__pydantic_extra__ == {}


def rule_types(model, data) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return [error["type"] for error in raised.value.errors()]


def test_rules_are_reported_with_the_fields_problems():
    assert rule_types(
        schemas.UserAttributes, {"external_id": "u", "braze_id": "b", "first_name": 5, "": 1}
    ) == ["string_type", fields.RULE_ONE_IDENTIFIER, fields.RULE_ATTRIBUTE_NAME]
    assert rule_types(schemas.UserAttributes, {"first_name": "A"}) == [
        fields.RULE_MISSING_IDENTIFIER
    ]
    assert rule_types(schemas.Event, {"name": "e", "time": "2024-01-01"}) == [
        fields.RULE_MISSING_IDENTIFIER
    ]
    assert rule_types(schemas.ExportRequest, {"external_ids": []}) == [fields.RULE_NO_IDENTIFIER]
    trigger = {"canvas_id": "1", "broadcast": True, "recipients": [], "context": {},
               "canvas_entry_properties": {}}  # fmt: skip
    assert rule_types(schemas.CanvasTriggerRequest, trigger) == [
        "too_short",
        fields.RULE_PROPERTIES_TWICE,
        fields.RULE_BROADCAST_WITH_RECIPIENTS,
    ]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("x", None),
        (True, None),
        (2**63 - 1, None),
        (1.5, None),
        (None, None),
        (["a", 1, 2.5, False], None),
        ({"inc": -3}, None),
        ({"add": ["a"]}, None),
        ({"remove": [1]}, None),
        ("x" * 256, "string_too_long"),
        (2**63, "less_than_equal"),
        ([None], "union_tag_not_found"),
        ({}, "union_tag_not_found"),
        ({"inc": 1, "add": []}, "union_tag_not_found"),
        ({"inc": True}, "int_type"),
        ({"add": "a"}, "list_type"),
    ],
)
def test_custom_attribute_values(value, kind):
    data = {"external_id": "u1", "custom": value}

    if kind is None:
        assert list(schemas.UserAttributes.model_validate(data).__pydantic_extra__) == ["custom"]
    else:
        assert rule_types(schemas.UserAttributes, data) == [kind]


def test_models_are_strict():
    for data in ({"external_id": 1}, {"external_id": "u", "_update_existing_only": 1}):
        with pytest.raises(ValidationError):
            schemas.UserAttributes.model_validate(data)
    assert rule_types(
        schemas.Purchase,
        {"external_id": "u", "time": "2024-01-01", "product_id": "p", "currency": "USD",
         "price": "1", "quantity": 1.0},
    ) == ["float_type", "int_type"]  # fmt: skip


def test_an_error_no_message_was_written_for_still_reads_as_braze_errors_do():
    error = {"type": "uuid_type", "loc": ("x",), "msg": "UUID input should be a string", "input": 1}

    assert text_message(error, "x") == "'x' is not valid: UUID input should be a string"
