"""The API fuzzed against its own OpenAPI document (schemathesis, positive and negative data):
no 5xx, no status, header, content type or body outside the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.annotations import ANNOTATION_FIELDS
from shared.wallet_controls import CHANGE_FIELDS
from web.wallets.api import parsing
from web.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_matches_its_document(case: schemathesis.Case, api_secret: str) -> None:  # type: ignore[type-arg]
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Bearer {api_secret}"})


def test_the_document_is_served(api: object) -> None:
    from django.test import Client

    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.0")
    assert set(document["paths"]) == {
        "/api/v1/wallets",
        "/api/v1/wallets/{wallet_id}",
        "/api/v1/wallets/{wallet_id}/operation",
        "/api/v1/wallets/{wallet_id}/operations",
        "/api/v1/wallets/{wallet_id}/statement",
        "/api/v1/operations",
        "/api/v1/operations/bulk",
        "/api/v1/operations/{operation_id}",
        "/api/v1/operations/{operation_id}/reversal",
        "/api/v1/transfers",
        "/api/v1/transfers/{transfer_id}",
        "/api/v1/transfers/{transfer_id}/reversal",
        "/api/v1/wallets/{wallet_id}/holds",
        "/api/v1/holds/{hold_id}",
        "/api/v1/holds/{hold_id}/capture",
        "/api/v1/holds/{hold_id}/void",
        "/api/v1/events",
        "/api/v1/webhook-endpoints",
        "/api/v1/webhook-endpoints/{endpoint_id}",
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "/api/v1/webhook-endpoints/{endpoint_id}/deliveries",
        "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{event_id}/retry",
        "/healthz",
        "/readyz",
    }


def test_every_operation_has_a_summary_and_every_header_a_description() -> None:
    from web.wallets.api.openapi import OPENAPI

    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["summary"], (method, path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header":
                    assert parameter["description"], (method, path, parameter["name"])
            for status, response in operation["responses"].items():
                for name, header in response.get("headers", {}).items():
                    assert header["description"], (method, path, status, name)


def _examples(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example of a request or response body."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            bodies = [("request", operation["requestBody"])] if "requestBody" in operation else []
            bodies += list(operation["responses"].items())
            for status, body in bodies:
                for media in body.get("content", {}).values():
                    where = f"{method.upper()} {path} {status}"
                    assert "example" in media or media.get("examples"), f"{where} has no example"
                    if "example" in media:
                        yield where, media["schema"], media["example"]
                    for name, example in media.get("examples", {}).items():
                        yield f"{where} {name}", media["schema"], example["value"]


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schemas as JSON Schema: ``nullable`` becomes a null type, refs point into
    the document's components."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _openapi_to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    if node.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum")
    return out


def test_every_body_has_examples_that_match_its_schema() -> None:
    from web.wallets.api.openapi import OPENAPI

    components = _openapi_to_json_schema(OPENAPI["components"])
    count = 0
    for where, schema, example in _examples(OPENAPI):
        validator = jsonschema_rs.Draft7Validator({**_openapi_to_json_schema(schema), "components": components})
        errors = [error.message for error in validator.iter_errors(example)]
        assert not errors, (where, errors)
        count += 1
    assert count > 100


def test_every_error_example_carries_its_messages_code() -> None:
    from web.wallets.api.openapi import OPENAPI
    from web.wallets.error_codes import BY_MESSAGE, CODES

    seen = set()
    for where, _, example in _examples(OPENAPI):
        if isinstance(example, dict) and "code" in example and example.get("error"):
            assert example["code"] in CODES, where
            if example["error"] in BY_MESSAGE:
                assert example["code"] == BY_MESSAGE[example["error"]], where
            seen.add(example["code"])
    assert {"insufficient_funds", "hold_captured", "api_key_read_only", "rate_limited"} <= seen


def test_every_get_has_a_head_and_every_operation_documents_405(api: object) -> None:
    from django.test import Client

    document = Client().get("/api/v1/openapi.json").json()
    for path, item in document["paths"].items():
        assert ("get" in item) == ("head" in item), path
        if "head" in item:
            head = item["head"]["responses"]
            assert set(head) == set(item["get"]["responses"]), path
            assert all("content" not in response for response in head.values()), path
        for method, operation in item.items():
            if method != "parameters":
                assert "Allow" in operation["responses"]["405"]["headers"], (method, path)


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("WalletRequest", parsing.WALLET_FIELDS),
        ("WalletChange", CHANGE_FIELDS),
        ("OperationRequest", parsing.OPERATION_FIELDS),
        ("BulkRequest", parsing.BULK_FIELDS),
        ("BulkOperation", parsing.BULK_ITEM_FIELDS),
        ("TransferRequest", parsing.TRANSFER_FIELDS),
        ("HoldRequest", parsing.HOLD_FIELDS),
        ("CaptureRequest", parsing.PARTIAL_FIELDS),
        ("ReversalRequest", parsing.PARTIAL_FIELDS),
        ("VoidRequest", ANNOTATION_FIELDS),
        ("WebhookEndpointRequest", parsing.ENDPOINT_FIELDS),
    ],
)
def test_each_request_body_documents_exactly_the_fields_the_api_takes(name: str, fields: tuple[str, ...]) -> None:
    from web.wallets.api.openapi import OPENAPI

    body = OPENAPI["components"]["schemas"][name]
    assert (set(body["properties"]), body["additionalProperties"]) == (set(fields), False)
