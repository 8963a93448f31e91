"""Sessions, users and messages exist on the admin's pages only; the API is stateless; every
request has an id."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid

import pytest
import redis
from django.core.management import call_command
from django.test import Client

from shared.logs import JsonFormatter
from tests.support.api import Api
from tests.support.patching import patch_views


def test_api_requests_carry_no_session_user_or_messages(api: Api, admin_client: Client, api_secret: str) -> None:
    wallet = api.create_wallet(3)
    # An admin's session cookie is no API credential (a page the admin visits cannot use it).
    assert admin_client.get(f"/api/v1/wallets/{wallet}").status_code == 401
    response = admin_client.get(f"/api/v1/wallets/{wallet}", headers={"Authorization": f"Bearer {api_secret}"})
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "user")
    assert not hasattr(request, "_messages")
    assert dict(response.cookies) == {}


def test_admin_pages_have_the_logged_in_user(admin_client: Client) -> None:
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert response.wsgi_request.user.is_superuser
    assert hasattr(response.wsgi_request, "_messages")


def test_django_checks_accept_the_admin_only_middleware() -> None:
    # The admin requires session, auth and messages middleware (admin.E408-E410); subclasses count.
    call_command("check", "--fail-level", "WARNING")


def test_every_answer_has_a_request_id_the_clients_when_well_formed(api: Api, api_secret: str) -> None:
    wallet = api.create_wallet()
    generated = api.client.get(f"/api/v1/wallets/{wallet}")
    assert re.fullmatch(r"[0-9a-f]{32}", generated["X-Request-Id"])
    for sent in ("trace-0af7651916cd43dd8448eb211c80319c", "a", "x" * 128, str(uuid.uuid4())):
        assert api.client.get(f"/api/v1/wallets/{wallet}", headers={"X-Request-Id": sent})["X-Request-Id"] == sent
    for malformed in ("x" * 129, "-leading-dash", "has space", "semi;colon", "é"):
        answer = api.client.get(f"/api/v1/wallets/{wallet}", headers={"X-Request-Id": malformed})
        assert re.fullmatch(r"[0-9a-f]{32}", answer["X-Request-Id"]), malformed
    for refused in (
        Client().get("/api/v1/wallets"),
        Client().get("/nowhere"),
        api.client.post("/api/v1/wallets/x/operation"),
    ):
        assert refused.json()["request_id"] == refused["X-Request-Id"]
    assert Client().get("/healthz")["X-Request-Id"]
    assert Client().get("/admin/login/")["X-Request-Id"]


def test_log_lines_of_a_request_carry_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service's JSON log formatter, on the handler a request's error goes through."""
    patch_views(monkeypatch, "get_redis", lambda: redis.Redis(port=1, socket_connect_timeout=0.2))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        answer = Client().get("/readyz", headers={"X-Request-Id": "find-me-in-the-log"})  # Redis away: 503
    finally:
        logger.removeHandler(handler)
    assert answer.status_code == 503
    [line] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (line["message"], line["request_id"]) == ("Service Unavailable: /readyz", "find-me-in-the-log")
    assert "request_id" not in json.loads(JsonFormatter().format(logging.makeLogRecord({"msg": "after"})))
