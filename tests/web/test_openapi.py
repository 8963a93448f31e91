"""The API fuzzed against its own OpenAPI document (schemathesis, positive and negative data):
no 5xx, no status, header, content type or body outside the document."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

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
        "/api/v1/operations/{operation_id}",
        "/api/v1/transfers",
        "/api/v1/transfers/{transfer_id}",
        "/api/v1/wallets/{wallet_id}/holds",
        "/api/v1/holds/{hold_id}",
        "/api/v1/holds/{hold_id}/capture",
        "/api/v1/holds/{hold_id}/void",
        "/healthz",
    }


def test_every_operation_has_a_summary_and_every_header_a_description() -> None:
    from web.wallets.openapi import OPENAPI

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
