"""Webhook endpoints: ``/api/v1/webhook-endpoints...`` (``money.webhooks``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse

from shared.config import get_settings
from shared.connections import get_redis
from shared.resources import moment_json
from web.wallets.api import parsing
from web.wallets.api.resources import cursor_json
from web.wallets.api.responses import api_view, json_response
from web.wallets.auth.api_keys import Caller
from web.wallets.error_codes import ENDPOINT_NOT_FOUND, EVENT_NOT_FOUND
from web.wallets.money import webhooks
from web.wallets.money.webhooks import Attempt, Endpoint


def endpoint_json(endpoint: Endpoint, secret: str | None = None) -> dict[str, Any]:
    """An endpoint; its ``secret`` only in the answer that made it (or a new one)."""
    body = {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": moment_json(endpoint.created_at),
    }
    return body if secret is None else {**body, "secret": secret}


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "event_id": str(attempt.event_id),
        "attempt": attempt.attempt,
        "at": moment_json(attempt.at),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "latency_ms": attempt.latency_ms,
        "next_attempt_at": None if attempt.next_attempt_at is None else moment_json(attempt.next_attempt_at),
    }


@api_view("GET", "POST")
def endpoints_view(request: HttpRequest, caller: Caller) -> HttpResponse:
    if request.method == "POST":
        endpoint = parsing.parse_endpoint(request.body)
        made = webhooks.endpoint_create(
            caller=caller, url=endpoint.url, event_types=endpoint.event_types, settings=get_settings()
        )
        return json_response(endpoint_json(made.endpoint, made.secret), status=201)
    return json_response({"results": [endpoint_json(e) for e in webhooks.endpoints_list(caller=caller)]})


@api_view("GET", "DELETE")
def endpoint_view(request: HttpRequest, caller: Caller, endpoint_id: str) -> HttpResponse:
    endpoint_uuid = parsing.parse_uuid(endpoint_id, not_found=ENDPOINT_NOT_FOUND)
    if request.method == "DELETE":
        webhooks.endpoint_delete(caller=caller, endpoint_id=endpoint_uuid)
        return HttpResponse(status=204)
    return json_response(endpoint_json(webhooks.endpoint_get(caller=caller, endpoint_id=endpoint_uuid)))


@api_view("POST")
def endpoint_rotate_view(request: HttpRequest, caller: Caller, endpoint_id: str) -> HttpResponse:
    endpoint_uuid = parsing.parse_uuid(endpoint_id, not_found=ENDPOINT_NOT_FOUND)
    rotated = webhooks.endpoint_rotate(caller=caller, endpoint_id=endpoint_uuid)
    return json_response(endpoint_json(rotated.endpoint, rotated.secret))


@api_view("GET")
def deliveries_view(request: HttpRequest, caller: Caller, endpoint_id: str) -> HttpResponse:
    before = parsing.parse_cursor(request.GET.get("cursor"))
    event = request.GET.get("event_id")
    attempts, after = webhooks.attempts_list(
        caller=caller,
        endpoint_id=parsing.parse_uuid(endpoint_id, not_found=ENDPOINT_NOT_FOUND),
        before=None if before is None else before.int,
        event_id=None if event is None else parsing.parse_uuid(event, not_found=EVENT_NOT_FOUND),
        limit=parsing.parse_limit(request.GET.get("limit")),
    )
    next_cursor = cursor_json(None if after is None else UUID(int=after))
    return json_response({"results": [attempt_json(a) for a in attempts], "next": next_cursor})


@api_view("POST")
def delivery_retry_view(request: HttpRequest, caller: Caller, endpoint_id: str, event_id: str) -> HttpResponse:
    endpoint_uuid = parsing.parse_uuid(endpoint_id, not_found=ENDPOINT_NOT_FOUND)
    event_uuid = parsing.parse_uuid(event_id, not_found=EVENT_NOT_FOUND)
    webhooks.delivery_retry(
        caller=caller, endpoint_id=endpoint_uuid, event_id=event_uuid, connection=get_redis(), settings=get_settings()
    )
    return json_response({"endpoint_id": str(endpoint_uuid), "event_id": str(event_uuid), "state": "pending"}, 202)
