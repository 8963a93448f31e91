"""The default gunicorn worker (gevent's pywsgi with an idle timeout), over real sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.processes import free_port, start_gunicorn, stop
from tests.web.conftest import Api

pytestmark = pytest.mark.live

IDLE_TIMEOUT = 1


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    proc = start_gunicorn(port, WEB_KEEPALIVE=str(IDLE_TIMEOUT), WEB_CONCURRENCY="1")
    try:
        yield port
    finally:
        stop(proc)


def _get(sock: socket.socket, path: str) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(65536)
    head, _, body = response.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _read_until_closed(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(seconds)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_the_default_worker_is_pywsgi_with_the_service_headers(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        response = _get(sock, "/healthz")
    assert response.startswith(b"HTTP/1.1 200")
    assert b"Server: gunicorn" not in response  # pywsgi answers, not gunicorn's own HTTP parser
    assert b"\r\nContent-Type: application/json" in response


def test_a_connection_serves_several_requests_then_closes_when_idle(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(3):
            assert _get(sock, "/healthz").startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert _read_until_closed(sock, IDLE_TIMEOUT + 5) == b""
        waited = time.monotonic() - started
    assert IDLE_TIMEOUT - 0.5 < waited < IDLE_TIMEOUT + 3


def test_a_client_that_stalls_mid_body_gets_a_400_and_is_dropped(port: int, api: Api) -> None:
    wallet = api.create_wallet()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            f"POST /api/v1/wallets/{wallet}/operation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
        )
        response = _read_until_closed(sock, IDLE_TIMEOUT + 5)
    assert response.startswith(b"HTTP/1.1 400")
    assert response.endswith(b'{"error": "Request body incomplete"}')
    assert api.balance(wallet) == 0
    # The process still serves others.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert _get(sock, "/healthz").startswith(b"HTTP/1.1 200")
