"""The OpenAPI document's webhook endpoints: their paths, schemas and examples (the events feed
is in ``paths``; docs/events.md tells receivers what they get and how to verify it)."""

from __future__ import annotations

from typing import Any

from shared import webhook_urls
from shared.events import EventType
from shared.webhooks import EndpointStatus
from web.wallets import error_codes as msg
from web.wallets.api.openapi.components import page_parameters, ref, request_body, response
from web.wallets.api.openapi.examples import CREATED, EVENT
from web.wallets.api.openapi.responses import BAD_BODY, NOT_JSON, READ, UNAVAILABLE, WRITE, error

ENDPOINT = "2e4a6c8e-0a2c-4e6a-8c0e-2a4c6e8a0c2e"
SECRET = "whsec_YW4gZXhhbXBsZSwgbmV2ZXIgYSByZWFsIHNlY3JldCE="  # noqa: S105 (the base64 of the words: an example, never a real secret)
ATTEMPTED = "2026-11-25T09:30:00.402000+00:00"
RETRY_AT = "2026-11-25T09:30:05.402000+00:00"

_ENDPOINT_JSON = {
    "id": ENDPOINT,
    "url": "https://hooks.example.com/wallets",
    "event_types": ["transfer.completed", "transfer.failed"],
    "status": "enabled",
    "disabled_reason": None,
    "created_at": CREATED,
}

SUMMARIES = {
    "webhook_endpoint_create": "Register a URL for the tenant's events (its signing secret is shown once)",
    "webhook_endpoints_list": "List the tenant's webhook endpoints",
    "webhook_endpoint_get": "Read a webhook endpoint",
    "webhook_endpoint_delete": "Delete a webhook endpoint",
    "webhook_endpoint_rotate": "A new signing secret; the old one signs beside it for 24 hours",
    "webhook_deliveries_list": "The endpoint's delivery attempts, newest first",
    "webhook_delivery_retry": "Send an event to the endpoint again, now",
}

ENDPOINT_ID = {"name": "endpoint_id", "in": "path", "required": True, "schema": {"type": "string"}}
EVENT_ID = {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}
_NOT_FOUND = error(404, "Webhook endpoint not found (or another tenant's)", msg.ENDPOINT_NOT_FOUND)
_WRITE = {**WRITE, "403": error(403, "A read-only API key", msg.READ_ONLY)}

SCHEMAS: dict[str, Any] = {
    "WebhookEndpointRequest": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "maxLength": webhook_urls.MAX_URL_LENGTH,
                "description": "http or https; its host must resolve to public addresses only (unless the"
                " service runs with WEBHOOK_ALLOW_PRIVATE_URLS)",
            },
            "event_types": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": [t.value for t in EventType]},
                "description": "The types it receives (absent: every type)",
            },
        },
        "additionalProperties": False,
    },
    "WebhookEndpoint": {
        "type": "object",
        "required": ["id", "url", "event_types", "status", "disabled_reason", "created_at"],
        "properties": {
            "id": ref("Uuid"),
            "url": {"type": "string"},
            "event_types": {
                "type": "array",
                "items": {"type": "string", "enum": [t.value for t in EventType]},
                "description": "Empty: every type",
            },
            "status": {"type": "string", "enum": [s.value for s in EndpointStatus]},
            "disabled_reason": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "secret": {
                "type": "string",
                "description": "whsec_ and the base64 of 32 random bytes: only in the answer that made it",
            },
        },
        "additionalProperties": False,
    },
    "WebhookEndpoints": {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {"type": "array", "items": ref("WebhookEndpoint")}},
        "additionalProperties": False,
    },
    "WebhookAttempt": {
        "type": "object",
        "required": ["event_id", "attempt", "at", "status_code", "error", "latency_ms", "next_attempt_at"],
        "properties": {
            "event_id": ref("Uuid"),
            "attempt": {"type": "integer", "minimum": 1},
            "at": {"type": "string", "format": "date-time"},
            "status_code": {"type": "integer", "nullable": True, "description": "The receiver's; null: none came"},
            "error": {"type": "string", "nullable": True, "description": "Why no answer came (a timeout...)"},
            "latency_ms": {"type": "integer"},
            "next_attempt_at": {
                "type": "string",
                "format": "date-time",
                "nullable": True,
                "description": "When it is tried again (null: delivered, or no more attempts)",
            },
        },
        "additionalProperties": False,
    },
    "WebhookAttempts": {
        "type": "object",
        "required": ["results", "next"],
        "properties": {
            "results": {"type": "array", "items": ref("WebhookAttempt")},
            "next": {"type": "string", "nullable": True},
        },
        "additionalProperties": False,
    },
    "DeliveryRetried": {
        "type": "object",
        "required": ["endpoint_id", "event_id", "state"],
        "properties": {
            "endpoint_id": ref("Uuid"),
            "event_id": ref("Uuid"),
            "state": {"type": "string", "enum": ["pending"]},
        },
        "additionalProperties": False,
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/webhook-endpoints": {
        "post": {
            "operationId": "webhook_endpoint_create",
            "requestBody": request_body(
                ref("WebhookEndpointRequest"),
                {"url": "https://hooks.example.com/wallets", "event_types": ["transfer.completed", "transfer.failed"]},
            ),
            "responses": {
                "201": response(ref("WebhookEndpoint"), "Registered", {**_ENDPOINT_JSON, "secret": SECRET}),
                "400": error(
                    400,
                    "A bad body, URL or event type",
                    *BAD_BODY[:-2],
                    msg.UNKNOWN_FIELDS,
                    webhook_urls.BAD_URL,
                    webhook_urls.NO_CREDENTIALS,
                    webhook_urls.UNRESOLVED,
                    webhook_urls.PRIVATE,
                    msg.INVALID_EVENT_TYPES,
                    msg.INVALID_EVENT_TYPE,
                ),
                **WRITE,
                "403": error(
                    403, "A read-only API key; the tenant has its most endpoints", msg.READ_ONLY, msg.ENDPOINT_QUOTA
                ),
                "415": NOT_JSON,
                "503": UNAVAILABLE,
            },
        },
        "get": {
            "operationId": "webhook_endpoints_list",
            "responses": {
                "200": response(
                    ref("WebhookEndpoints"), "The endpoints (never their secrets)", {"results": [_ENDPOINT_JSON]}
                ),
                **READ,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/webhook-endpoints/{endpoint_id}": {
        "parameters": [ENDPOINT_ID],
        "get": {
            "operationId": "webhook_endpoint_get",
            "responses": {
                "200": response(ref("WebhookEndpoint"), "The endpoint (never its secret)", _ENDPOINT_JSON),
                **READ,
                "404": _NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
        "delete": {
            "operationId": "webhook_endpoint_delete",
            "responses": {
                "204": {"description": "Deleted: nothing more is sent to it"},
                **_WRITE,
                "404": _NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret": {
        "parameters": [ENDPOINT_ID],
        "post": {
            "operationId": "webhook_endpoint_rotate",
            "responses": {
                "200": response(
                    ref("WebhookEndpoint"), "The new secret (shown once)", {**_ENDPOINT_JSON, "secret": SECRET}
                ),
                **_WRITE,
                "404": _NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/webhook-endpoints/{endpoint_id}/deliveries": {
        "parameters": [ENDPOINT_ID],
        "get": {
            "operationId": "webhook_deliveries_list",
            "parameters": [
                {
                    "name": "event_id",
                    "in": "query",
                    "description": "Only the attempts of this event",
                    "schema": {"type": "string", "format": "uuid"},
                },
                *page_parameters("Attempts", "opaque"),
            ],
            "responses": {
                "200": response(
                    ref("WebhookAttempts"),
                    "Attempts, newest first",
                    {
                        "results": [
                            {
                                "event_id": EVENT,
                                "attempt": 1,
                                "at": ATTEMPTED,
                                "status_code": 503,
                                "error": None,
                                "latency_ms": 12,
                                "next_attempt_at": RETRY_AT,
                            }
                        ],
                        "next": None,
                    },
                ),
                "400": error(400, "Invalid limit or cursor", msg.INVALID_LIMIT, msg.INVALID_CURSOR),
                **READ,
                "404": _NOT_FOUND,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{event_id}/retry": {
        "parameters": [ENDPOINT_ID, EVENT_ID],
        "post": {
            "operationId": "webhook_delivery_retry",
            "responses": {
                "202": response(
                    ref("DeliveryRetried"),
                    "Queued: a webhook worker sends it now",
                    {"endpoint_id": ENDPOINT, "event_id": EVENT, "state": "pending"},
                ),
                **_WRITE,
                "404": error(
                    404, "No such endpoint, or no such event of the tenant", msg.ENDPOINT_NOT_FOUND, msg.EVENT_NOT_FOUND
                ),
                "503": UNAVAILABLE,
            },
        },
    },
}
