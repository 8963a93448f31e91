"""The benchmark's HTTP client for setting up: many JSON requests on one keep-alive connection
(wrk drives the measured load)."""

from __future__ import annotations

import http.client
import json
from typing import Any


class KeepAlive:
    """Many requests on one keep-alive connection (making thousands of wallets quickly)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        self.conn.request(method, path, None if body is None else json.dumps(body), self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
