"""The one HTTP client of the tests, the fault tests and the benchmark: JSON over the real
socket to a real gunicorn (the in-process Django client lives in ``tests/web/conftest.py``)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any


def call(base: str, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, bytes]:
    """One request on a new connection: (status, raw body); (0, b"") if the server could not be
    reached (refused or reset, as while it restarts)."""
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def call_json(base: str, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
    """``call``, with the body decoded (a JSON API answers JSON, errors included)."""
    status, content = call(base, method, path, body, key)
    return status, json.loads(content)


class KeepAlive:
    """Many requests on one keep-alive connection (setting up thousands of wallets quickly)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        self.conn.request(
            method, path, None if body is None else json.dumps(body), {"Content-Type": "application/json"}
        )
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())
