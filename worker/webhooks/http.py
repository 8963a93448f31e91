"""One endpoint's HTTP requests: a kept-alive connection to an address ``url_check`` allowed
(the name is not resolved again between the check and the call), no redirects followed, a
timeout on every read and write, and the receiver's answer read and summed up (``Answer``)."""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.webhook_urls import Target
from shared.webhooks import MAX_RETRY_AFTER

MAX_ANSWER_BYTES = 64 * 1024
"""Most of an answer's body read (the rest is not read: the connection is closed instead)."""

RETRY_AFTER_STATUSES = frozenset({429, 503})
"""Statuses whose ``Retry-After`` is honoured."""

USER_AGENT = "wallet-webhooks/1"


@dataclass(frozen=True, slots=True)
class Answer:
    """What came of one request: a status, or why none came."""

    status: int | None
    error: str | None
    latency_ms: int
    retry_after: float | None = None
    """Seconds the receiver asked to wait (a 429 or 503 with ``Retry-After``)."""

    @property
    def logged(self) -> tuple[int | None, str | None, int]:
        """What the attempts log keeps of it: status, error, latency."""
        return self.status, self.error, self.latency_ms

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _connected(address: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection with Nagle's algorithm off. ``http.client`` writes a request's headers and
    its body in two sends; with Nagle on, the body waits for the headers' ACK, which the receiver
    delays (40 ms on Linux) while it waits for the body: every request on a kept-alive
    connection would take 40 ms."""
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to ``address`` for the URL's host (its ``Host`` header)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = _connected(self.address, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to ``address``, verifying the certificate of the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = _connected(self.address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (capped; None if neither)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - datetime.now(UTC)).total_seconds(), 0.0), float(MAX_RETRY_AFTER))


class Sender:
    """POSTs to one target, reusing its connection while the receiver keeps it open."""

    def __init__(self, target: Target, *, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = _PinnedHTTPS if self.target.scheme == "https" else _PinnedHTTP
            self._connection = kind(self.target.host, self.target.port, self.target.addresses[0], self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.perf_counter()
        try:
            connection = self._connect()
            connection.request(
                "POST",
                self.target.path,
                body=body,
                headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            response = connection.getresponse()
            latency = int((time.perf_counter() - started) * 1000)
            response.read(MAX_ANSWER_BYTES)
            if not response.isclosed() or response.will_close:
                self.close()  # more than we read, or the receiver closes: a new connection next time
            retry_after = None
            if response.status in RETRY_AFTER_STATUSES:
                retry_after = retry_after_seconds(response.getheader("Retry-After"))
            return Answer(response.status, None, latency, retry_after)
        except TimeoutError:
            self.close()
            return Answer(None, f"timeout: no answer within {self.timeout:g} s", _ms_since(started))
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(None, f"{exc.__class__.__name__}: {exc}"[:500], _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
