"""A webhook receiver for tests: a real HTTP server on a spare loopback port that records every
request and answers as the test scripts it (a status, headers, a delay), and can go down and
come back on the same port."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deploy.processes import free_port, wait_until


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering."""
    before: Callable[[], None] | None = None
    """Run before answering (what happens while the sender waits)."""


@dataclass(frozen=True)
class Received:
    at: float
    """``time.time()`` when it came."""
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]
    """The client's address and port: one per connection."""

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """``url`` receives; ``script(...)`` sets the next answers (then 200s); ``requests`` is
    every request, in arrival order."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Received] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/wallets?from=tests"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def _next(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else Reply()

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(Received(time.time(), headers, body, self.client_address[:2]))
                reply = receiver._next()
                if reply.before is not None:
                    reply.before()
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: connections to the port are refused until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of(self, webhook_id: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.webhook_id == webhook_id]

    def ids(self) -> set[str]:
        with self._lock:
            return {r.webhook_id for r in self.requests}

    def wait_for(self, webhook_ids: set[str], *, timeout: float = 30) -> None:
        wait_until(lambda: webhook_ids <= self.ids(), timeout=timeout, what=f"{len(webhook_ids)} webhooks received")
