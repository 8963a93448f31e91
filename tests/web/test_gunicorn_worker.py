"""The default gunicorn worker (gevent's pywsgi with an idle timeout), over real sockets."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from gevent.pywsgi import headers_factory

from deploy.processes import ROOT, free_port, start_gunicorn, stop, wait_until
from tests.support.api import Api
from web.gunicorn_worker import header_message, limit_concurrency
from web.wallets.inputs import BULK_MAX_BODY_BYTES, MAX_BODY_BYTES

pytestmark = pytest.mark.live

IDLE_TIMEOUT = 1
DEADLINE = 3


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    proc = start_gunicorn(
        port, WEB_KEEPALIVE=str(IDLE_TIMEOUT), WEB_CONCURRENCY="1", WEB_REQUEST_DEADLINE=str(DEADLINE)
    )
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
    head, _, body = response.partition(b"\r\n\r\n")
    request_id = next(line for line in head.split(b"\r\n") if line.startswith(b"X-Request-Id: "))[14:]
    assert body == b'{"error": "Request body incomplete", "code": "body_incomplete", "request_id": "%s"}' % request_id
    assert api.balance(wallet) == 0
    # The process still serves others.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert _get(sock, "/healthz").startswith(b"HTTP/1.1 200")


def _exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` on a new connection; everything answered until the server closes it."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(raw)
        return _read_until_closed(sock, IDLE_TIMEOUT + 5)


SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 0\r\nContent-Length: 43",
        b"Content-Length: +43",
        b"Content-Length: 4 3",
        b"Content-Length: 43\r\nTransfer-Encoding: chunked",
        b"Transfer-Encoding: chunked",
        b"X-Bare: a\rContent-Length: 43",
        b"X-Folded: a\r\n folded: yes",
        b"Bad Name: x",
        b"X-Big: " + b"x" * 20_000,
        b"\r\n".join(b"X-Many-%d: y" % i for i in range(100)),
    ],
)
def test_ambiguous_framing_is_400_and_never_a_second_request(port: int, api: Api, head: bytes) -> None:
    wallet = api.create_wallet()
    body = b'{"operationType": "DEPOSIT", "amount": 1}'
    raw = (
        b"POST /api/v1/wallets/%s/operation HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        % wallet.encode()
        + head
        + b"\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        + SMUGGLED
    )
    response = _exchange(port, raw)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert response.count(b"HTTP/1.1 ") == 1  # nothing after the framing error is read as a request
    assert b'{"error": ' in response
    assert api.balance(wallet) == 0


def test_a_slow_head_is_cut_off_at_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        sock.settimeout(0.3)
        closed = False
        while time.monotonic() - started < DEADLINE + 5 and not closed:
            try:
                sock.sendall(b"X-Slow: a\r\n")  # one header line at a time, within the idle timeout
                closed = sock.recv(65536) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed
        assert DEADLINE - 0.5 < time.monotonic() - started < DEADLINE + 2


def test_slow_clients_do_not_take_every_connection(port: int) -> None:
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
    try:
        for sock in slow:
            sock.sendall(b"POST /api/v1/wallets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{")
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            assert _get(sock, "/healthz").startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 1
    finally:
        for sock in slow:
            sock.close()


def test_each_instance_has_its_own_control_socket() -> None:
    """Two gunicorns on one host: each has a control socket of its own, and stopping one
    leaves the other's in place (the default path is shared by a user's instances)."""
    ports = [free_port(), free_port()]
    first = start_gunicorn(ports[0])
    second = start_gunicorn(ports[1])
    try:
        sockets = [
            Path(tempfile.gettempdir()) / f"wallet-web-{port}-{proc.pid}.ctl"
            for port, proc in zip(ports, (first, second), strict=True)
        ]
        assert all(path.is_socket() for path in sockets)
        assert stat.S_IMODE(sockets[0].stat().st_mode) == 0o600
        stop(first)
        assert not sockets[0].exists()
        assert sockets[1].is_socket()
    finally:
        stop(first)
        stop(second)


def test_log_lines_are_json_and_a_bad_host_or_oversized_head_is_one_line_without_traceback(tmp_path: Path) -> None:
    port = free_port()
    stderr = tmp_path / "gunicorn.log"
    with stderr.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "web.wsgi"],
            cwd=ROOT,
            env={**os.environ, "PORT": str(port), "LOG_LEVEL": "info", "GUNICORN_ACCESSLOG": "-"},
            stdout=sink,
            stderr=sink,
        )
        try:
            wait_until(lambda: _status(port, "127.0.0.1") == 200, timeout=30, what="gunicorn")
            assert _status(port, "127.0.0.1", {"X-Request-Id": "traced-7"}) == 200
            for _ in range(3):
                assert _status(port, "evil.example") == 400
                assert _status(port, "127.0.0.1", {"X-Padding": "a" * 70_000}) == 400  # oversized head
        finally:
            stop(proc)
    lines = [line for line in stderr.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line, gunicorn's own included
    assert any(entry["logger"] == "gunicorn.error" and "Listening at" in entry["message"] for entry in entries)
    refused = [entry for entry in entries if "Invalid HTTP_HOST header" in entry["message"]]
    assert len(refused) == 3
    assert not any("exception" in entry for entry in refused)
    assert all(re.fullmatch(r"[0-9a-f]{32}", entry["request_id"]) for entry in refused)  # each request's own
    access = [entry["message"] for entry in entries if entry["logger"] == "gunicorn.access"]
    assert any('"GET /healthz HTTP/1.1" 200' in line and line.endswith("request_id=traced-7") for line in access)
    oversized = [entry for entry in entries if "Request head too large" in entry["message"]]
    assert len(oversized) == 3  # one quiet line each
    assert "Traceback" not in stderr.read_text()


def _status(port: int, host: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz", headers={"Host": host, **(headers or {})})
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


def test_a_stop_closes_idle_connections_at_once_and_finishes_a_request_in_flight(api: Api, api_secret: str) -> None:
    port = free_port()
    proc = start_gunicorn(port, WEB_KEEPALIVE="30", WEB_CONCURRENCY="1")
    try:
        with (
            socket.create_connection(("127.0.0.1", port)) as idle,
            socket.create_connection(("127.0.0.1", port)) as busy,
        ):
            _stop_with(proc, idle, busy, api.create_wallet(), api_secret)
    finally:
        stop(proc)


def _stop_with(
    proc: subprocess.Popen[bytes], idle: socket.socket, busy: socket.socket, wallet: str, secret: str
) -> None:
    assert b" 200 " in _get(idle, "/healthz").split(b"\r\n")[0]  # kept alive, then idle
    body = json.dumps({"operationType": "DEPOSIT", "amount": "1.00"}).encode()
    busy.sendall(
        f"POST /api/v1/wallets/{wallet}/operation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:-1]  # in flight: the last byte comes after the stop began
    )
    started = time.monotonic()
    proc.terminate()
    assert _read_until_closed(idle, 10) == b""  # the stop began: closed without waiting out its 30 s
    busy.sendall(body[-1:])
    assert b'"status": "Success"' in _read_until_closed(busy, 10)  # answered, then closed
    proc.wait(timeout=10)
    assert time.monotonic() - started < 4  # gunicorn's loops poll each second


def _head_only(port: int, path: str, length: int) -> bytes:
    """A POST's head declaring a ``length`` bytes body, none of it sent; the answer."""
    return _exchange(
        port,
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n".encode(),
    )


def test_only_a_bulk_request_may_send_a_body_past_the_single_limit(port: int, api: Api, api_secret: str) -> None:
    wallet = api.create_wallet()
    operation = {"wallet_id": wallet, "operationType": "DEPOSIT", "amount": "0.01"}
    plan = [{**operation, "metadata": {f"k{n}": "v" * 400 for n in range(12)}}] * 60
    body = json.dumps({"operations": plan}).encode()
    assert MAX_BODY_BYTES < len(body) < BULK_MAX_BODY_BYTES
    # Refused from the head alone: the body is never read.
    for path in (f"/api/v1/wallets/{wallet}/operation", "/api/v1/wallets"):
        assert b'"code": "body_too_large"' in _head_only(port, path, len(body))
    assert b'"code": "body_too_large"' in _head_only(port, "/api/v1/operations/bulk", BULK_MAX_BODY_BYTES + 1)
    for path in ("/api/v1/operations/bulk", "/api/v1/operations/bulk/"):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_secret}"}
        client.request("POST", path, body=body, headers=headers)
        answer = client.getresponse()
        assert answer.status == 200
        assert [r["status"] for r in json.loads(answer.read())["results"]] == ["Success"] * 60
        client.close()
    assert api.balance(wallet) == Decimal("1.20")


class _Statement:
    """A streaming answer (as Django's ``StreamingHttpResponse``) that counts the pieces it made."""

    streaming = True

    def __init__(self) -> None:
        self.made = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(3):
            self.made += 1
            yield b"row\n"

    def close(self) -> None:
        self.closed = True


def test_a_streamed_answer_is_handed_on_unread_and_keeps_its_slot_until_closed() -> None:
    statement = _Statement()
    statuses: list[str] = []
    app = limit_concurrency(lambda environ, start_response: statement, slots=1, wait=0.01)
    answer = app({}, lambda status, headers: statuses.append(status))
    assert statement.made == 0  # nothing read before the server sends it
    pieces = iter(answer)
    assert next(pieces) == b"row\n"
    assert statement.made == 1  # read as sent, never held whole
    # While it is sent, it holds the process's only slot.
    assert app({}, lambda status, headers: statuses.append(status))
    assert statuses == ["503 Service Unavailable"]
    answer.close()  # type: ignore[attr-defined]  # the server closes what it sent
    answer.close()  # type: ignore[attr-defined]  # twice frees the slot once
    assert statement.closed
    again = app({}, lambda status, headers: statuses.append(status))
    assert len(statuses) == 1  # served, not refused
    again.close()  # type: ignore[attr-defined]  # frees the slot again


@pytest.mark.parametrize(
    "head",
    [
        [b"Host: 127.0.0.1:8000\r\n", b"Content-Length: 42\r\n"],
        [b"X-Empty:\r\n", b"X-Blanks: \t value with: colons and trailing blanks  \r\n"],
        [b"Accept: a\r\n", b"accept: b\r\n", b"X-Latin: caf\xe9\r\n", b"Idempotency-Key:\tk-1\r\n"],
        [],
    ],
)
def test_headers_read_as_pywsgis_parser_reads_them(head: list[bytes]) -> None:
    ours, theirs = header_message(head), headers_factory(io.BytesIO(b"".join(head) + b"\r\n"))
    assert type(ours) is type(theirs)
    assert ours.items() == theirs.items()
    assert ours.get_all("accept") == theirs.get_all("accept")
