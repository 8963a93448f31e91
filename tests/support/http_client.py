"""The one HTTP client of the tests and the fault tests: JSON over the real
socket to a real gunicorn (the in-process Django client lives in ``tests/web/conftest.py``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

API_KEY: str | None = None
"""The bearer key every call sends unless given another (set by the suite's ``database``
fixture to a key of its own tenant)."""

NO_KEY = ""
"""Pass as ``token`` to send no Authorization header at all."""


def _authorization(token: str | None) -> dict[str, str]:
    token = API_KEY if token is None else token
    return {"Authorization": f"Bearer {token}"} if token else {}


def exchange(
    base: str, method: str, path: str, body: Any = None, key: str | None = None, *, token: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection: (status, response headers, raw body); (0, {}, b"") if
    the server could not be reached (refused or reset, as while it restarts). ``key`` is an
    Idempotency-Key; ``token`` the API key (default ``API_KEY``)."""
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **_authorization(token)},
    )
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except OSError:
        return 0, {}, b""


def call(
    base: str, method: str, path: str, body: Any = None, key: str | None = None, *, token: str | None = None
) -> tuple[int, bytes]:
    """``exchange`` without the headers: (status, raw body)."""
    status, _, content = exchange(base, method, path, body, key, token=token)
    return status, content


def call_json(
    base: str, method: str, path: str, body: Any = None, key: str | None = None, *, token: str | None = None
) -> tuple[int, Any]:
    """``call``, with the body decoded (a JSON API answers JSON, errors included)."""
    status, content = call(base, method, path, body, key, token=token)
    return status, json.loads(content)


def error_of(status: int, body: dict[str, Any], headers: Any) -> tuple[int, dict[str, Any]]:
    """An error answer's status and body without its ``request_id``, after checking that it is
    the answer's ``X-Request-Id`` (a Django test response, an http.client or urllib one)."""
    rest = dict(body)
    request_id = rest.pop("request_id")
    assert request_id == headers.get("X-Request-Id"), (request_id, headers.get("X-Request-Id"))
    return status, rest
