"""/api/openapi.json describes what the endpoints really answer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

OPERATIONS = {"/users/track": "users.track", "/users/delete": "users.delete",
              "/users/export/ids": "users.export.ids"}  # fmt: skip


def resolve(document: dict, ref: str) -> dict:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


@pytest.fixture
def document(api):
    response = api.request("GET", "/openapi.json", key=None)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def test_document_is_openapi_3_with_every_endpoint_and_status(document, live_server):
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": f"{live_server.url}/api"}]
    assert set(OPERATIONS) <= set(document["paths"])
    for path, permission in OPERATIONS.items():
        operation = document["paths"][path]["post"]
        assert permission in operation["description"]
        assert set(operation["responses"]) == {"201", "400", "401", "403", "405", "413", "429"}
        assert operation["security"] == [{"bearerAuth": []}]


def test_every_reference_resolves(document):
    for ref in all_refs(document):
        assert resolve(document, ref), ref


def check(document: dict, schema: dict, value) -> None:
    """A small structural check: required keys present, declared top-level types right."""
    if "$ref" in schema:
        schema = resolve(document, schema["$ref"])
    if schema.get("type") == "object":
        assert isinstance(value, dict)
        for name in schema.get("required", []):
            assert name in value, name
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check(document, sub, value[name])
    elif schema.get("type") == "array":
        assert isinstance(value, list)
        for item in value:
            check(document, schema.get("items", {}), item)
    elif schema.get("type") == "integer":
        assert isinstance(value, int)
    elif schema.get("type") == "string":
        assert isinstance(value, str)
        if "enum" in schema:
            assert value in schema["enum"]


def response_schema(document: dict, path: str, status: str) -> dict:
    response = document["paths"][path]["post"]["responses"][status]
    if "$ref" in response:
        response = resolve(document, response["$ref"])
    return response["content"]["application/json"]["schema"]


def test_real_answers_match_their_documented_schemas(api, document):
    answers = [
        ("/users/track", {"attributes": [{"external_id": "u1"}, {}]}, "201"),
        ("/users/track", {"attributes": []}, "400"),
        ("/users/delete", {"external_ids": ["u1"]}, "201"),
        ("/users/export/ids", {"external_ids": ["u1", "nobody"]}, "201"),
        ("/users/export/ids", {}, "400"),
    ]
    for path, body, status in answers:
        response = api.post(path, json=body)
        assert str(response.status_code) == status, (path, response.text)
        check(document, response_schema(document, path, status), response.json())
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert response.headers[header].isdigit()
    unauthorized = api.post("/users/track", json={}, key="wrong")
    check(document, response_schema(document, "/users/track", "401"), unauthorized.json())


def test_the_document_needs_no_key_and_no_sign_in(api):
    assert api.request("GET", "/openapi.json", key=None).status_code == 200
    assert api.post("/openapi.json", key=None).status_code == 405
