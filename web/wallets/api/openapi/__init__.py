"""The API's OpenAPI 3.0 document, served at ``/api/v1/openapi.json``.

Written out by hand, in parts: ``components`` (building blocks and shared schemas), ``schemas``
(the resources), ``responses`` (shared answers and parameters), ``paths`` (every operation),
``examples``. It is the contract, and ``tests/web/test_openapi.py`` fuzzes the running service
against it (schemathesis), so it cannot drift.
"""

from __future__ import annotations

from typing import Any

from web.wallets.api.openapi import webhooks
from web.wallets.api.openapi.components import COMMON_SCHEMAS, SERVICE_SCHEMAS
from web.wallets.api.openapi.paths import PATHS, SUMMARIES, TAGS
from web.wallets.api.openapi.responses import (
    IDEMPOTENCY_KEY,
    METHOD_NOT_ALLOWED,
    REPLAYABLE,
    REPLAYED_DOC,
    REQUEST_ID_DOC,
)
from web.wallets.api.openapi.schemas import RESOURCE_SCHEMAS
from web.wallets.api.request_ids import REQUEST_ID_HEADER
from web.wallets.api.responses import REPLAYED

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Wallet service",
        "version": "1",
        "description": "Wallets whose operations are applied exactly once, in order, by one writer per shard.",
    },
    "paths": {**PATHS, **webhooks.PATHS},
    "security": [{"apiKey": []}],
    "components": {
        "schemas": {**COMMON_SCHEMAS, **RESOURCE_SCHEMAS, **webhooks.SCHEMAS, **SERVICE_SCHEMAS},
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key from `make apikey TENANT=...`: `Authorization: Bearer wk_...`",
            }
        },
    },
}


def _head(get: dict[str, Any]) -> dict[str, Any]:
    """A ``HEAD`` like ``get``: the same statuses and headers, no body."""
    return {
        "operationId": f"{get['operationId']}_head",
        "summary": f"{get['summary']}: headers only",
        "tags": get["tags"],
        **({"security": get["security"]} if "security" in get else {}),
        "responses": {
            status: {"description": response["description"], **{k: v for k, v in response.items() if k == "headers"}}
            for status, response in get["responses"].items()
        },
    }


_TAG_OF = {operation_id: tag for tag, (_, operations) in TAGS.items() for operation_id in operations}


def _complete(document: dict[str, Any]) -> None:
    """What every operation has: its one-line summary (a missing one fails at import), the
    405 that any other method on its path gets, ``X-Request-Id`` on every answer (and
    ``Idempotent-Replayed`` where an Idempotency-Key is taken), and a ``HEAD`` wherever there
    is a ``GET``."""
    for item in document["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                operation["summary"] = {**SUMMARIES, **webhooks.SUMMARIES}[operation["operationId"]]
                operation["tags"] = [_TAG_OF[operation["operationId"]]]
                operation["responses"]["405"] = METHOD_NOT_ALLOWED
                keyed = IDEMPOTENCY_KEY in operation.get("parameters", [])
                for status, response in list(operation["responses"].items()):
                    headers = {**response.get("headers", {}), REQUEST_ID_HEADER: REQUEST_ID_DOC}
                    if keyed and status in REPLAYABLE:
                        headers[REPLAYED] = REPLAYED_DOC
                    operation["responses"][status] = {**response, "headers": headers}
        if "get" in item:
            item["head"] = _head(item["get"])


_complete(OPENAPI)
OPENAPI["tags"] = [{"name": tag, "description": description} for tag, (description, _) in TAGS.items()]
