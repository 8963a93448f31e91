"""The web node's default gunicorn worker: gevent's pywsgi server, strict and deadline-bound.

gunicorn ships this server as its ``gevent_pywsgi`` worker class. Measured here it serves more
requests per CPU second than gunicorn's own ``gevent`` worker (a simpler request parser, and the
response head and body leave in one send instead of two; see the README's Performance section).
What pywsgi lacks is added here:

- an idle timeout: every read and write on a client socket times out after ``keepalive``
  seconds, so idle clients are dropped, as gunicorn does;
- a deadline: once a request's first byte arrives, its whole head and body must arrive within
  ``WEB_REQUEST_DEADLINE`` seconds (a client sending a byte every few seconds is cut off), and the
  body is read before the application runs;
- strict framing (a request-smuggling risk behind any proxy): every header line ends with
  CRLF, no bare CR, no obsolete line folding, header names are tokens, the head is capped
  (``HEAD_LIMIT``, ``HEADER_LIMIT``), exactly one Content-Length of digits only, and no
  Transfer-Encoding (a chunked body is refused, never read as empty): any of these is a 400
  and the connection is closed;
- a stop does not wait on idle clients: on SIGTERM the connections waiting for a next request
  are closed at once (gunicorn's ``graceful_timeout`` waits for requests in flight only), so
  a browser's kept-alive connection does not hold a restart or Ctrl-C for seconds;
- connections are not requests: a process holds up to ``worker_connections`` client
  connections (cheap greenlets, most of them idle or slow), while at most ``WEB_CONNECTIONS``
  requests run the application at once (each may hold a database connection); a request
  that finds no free slot within ``APP_SLOT_WAIT`` seconds is answered 503.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

import gevent
from gevent import Timeout
from gevent.lock import BoundedSemaphore
from gevent.pywsgi import Input, headers_factory
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler, PyWSGIServer

from shared.config import DEFAULTS, get_settings
from web.wallets.api.request_ids import REQUEST_ID_HEADER, request_id_from
from web.wallets.error_codes import BODY_TOO_LARGE, HEAD_TOO_LARGE, UNAVAILABLE, request_error_fields
from web.wallets.inputs import body_limit

HEAD_LIMIT = 16 * 1024
"""Bytes of header lines a request may send (the request line has pywsgi's own 8 KiB limit)."""

HEADER_LIMIT = 64
"""Header lines a request may send."""

APP_SLOT_WAIT = 1.0
"""Seconds a request waits for one of the process's application slots before a 503."""

STOP_POLL = 0.1
"""Seconds between a worker's checks for a stop, to close its idle connections."""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]{1,10}")


_HEADERS = type(headers_factory(io.BytesIO(b"\r\n")))
"""The class of pywsgi's parsed headers (an ``http.client.HTTPMessage``)."""


def header_message(lines: list[bytes]) -> Any:
    """Header lines that passed ``StrictHandler``'s checks (each ``name:value`` ending in CRLF,
    with a token for its name and no folding) as pywsgi's parser (``headers_factory``) reads them,
    without the email parser it runs them through: latin-1 text, each value without its leading
    blanks and its CRLF, in order."""
    message = _HEADERS()
    for line in lines:
        name, _, value = line[:-2].decode("latin-1").partition(":")
        message[name] = value.lstrip(" \t")
    return message


class BadRequest(ValueError):
    """A request pywsgi answers 400 and closes (a ValueError: logged in one line, no traceback)."""


class DeadlineExceeded(BadRequest):
    """The request's head and body did not arrive within ``WEB_REQUEST_DEADLINE``."""


class StrictHandler(PyWSGIHandler):  # type: ignore[misc]
    """Serves one client connection (see the module's docstring)."""

    idle_timeout: float = 5.0
    request_deadline: float = DEFAULTS.web_request_deadline
    _deadline: Timeout | None = None
    _body: bytes = b""

    idle: ClassVar[set[StrictHandler]] = set()
    """Handlers waiting for their connection's next request (closed at once on a stop)."""
    stopping: ClassVar[bool] = False
    """The process is stopping: a connection closes after its request in flight."""

    def handle(self) -> None:
        self.socket.settimeout(self.idle_timeout)
        try:
            super().handle()
        finally:
            self._deadline_cancel()

    def read_requestline(self) -> str:
        if StrictHandler.stopping:
            return ""
        StrictHandler.idle.add(self)
        try:
            self.rfile.peek(1)  # the wait for a next request is the idle timeout's
        except OSError:
            return ""
        finally:
            StrictHandler.idle.discard(self)
        self._deadline = Timeout.start_new(self.request_deadline, DeadlineExceeded("Request deadline exceeded"))
        try:
            line: str = super().read_requestline()
        except DeadlineExceeded:
            return ""
        return line

    def MessageClass(self, fp: Any, *args: Any) -> Any:
        """The header lines, checked strictly, then parsed by pywsgi's own parser."""
        lines: list[bytes] = []
        size = 0
        while True:
            line = fp.readline(HEAD_LIMIT + 1)
            size += len(line)
            if size > HEAD_LIMIT or len(lines) >= HEADER_LIMIT:
                raise BadRequest(HEAD_TOO_LARGE)
            if line == b"\r\n":
                break
            if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
                raise BadRequest("header line not ended by CRLF, or a bare CR")
            if line[:1] in (b" ", b"\t"):
                raise BadRequest("obsolete header line folding")
            name, colon, _ = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise BadRequest("invalid header name")
            lines.append(line)
        return header_message(lines)

    def read_request(self, raw_requestline: str) -> bool:
        if not raw_requestline.endswith("\r\n") or "\r" in raw_requestline[:-2]:
            raise BadRequest("request line not ended by CRLF, or a bare CR")
        super().read_request(raw_requestline)
        if self.headers.get_all("transfer-encoding"):
            raise BadRequest("Transfer-Encoding is not supported: send a Content-Length")
        lengths = self.headers.get_all("content-length") or []
        if len(lengths) > 1 or (lengths and not _DIGITS.fullmatch(lengths[0])):
            raise BadRequest("invalid Content-Length")
        if (self.content_length or 0) > body_limit(self.path.partition("?")[0]):
            raise BadRequest(BODY_TOO_LARGE)
        self._body = self._read_body(self.content_length or 0)
        self._deadline_cancel()
        return True

    def _read_body(self, length: int) -> bytes:
        if not length:
            return b""
        if self.headers.get("expect", "").lower() == "100-continue":
            self.socket.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body: bytes = self.rfile.read(length)
        except OSError:  # stalled past the idle timeout, or hung up
            body = b""
        if len(body) != length:
            raise BadRequest("Request body incomplete")
        return body

    def _handle_client_error(self, ex: Exception) -> tuple[str, bytes]:
        """A JSON 400 for a request that breaks the framing rules; one log line, no traceback."""
        self.log_error("Invalid request (from %s): %s", self.client_address, ex)
        message = str(ex) if isinstance(ex, BadRequest) else "Bad request"
        request_id = request_id_from(None)  # its headers are not to be trusted
        body = json.dumps(request_error_fields(message, 400, request_id)).encode()
        head = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
        head += f"{REQUEST_ID_HEADER}: {request_id}\r\n".encode()
        return "400", head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    def log_request(self) -> None:
        """gunicorn's access line; with the answer's headers as text, as its format's
        ``%({x-request-id}o)s`` looks them up (gevent keeps them as bytes). None for a request
        refused before its head was read (its error line says it): gunicorn's would raise."""
        if getattr(self, "environ", None) is None:
            return
        headers = getattr(self, "response_headers", None)
        if self.server.log.cfg.accesslog and headers and isinstance(headers[0][0], bytes):
            self.response_headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        super().log_request()

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        # The body was read under the deadline: the application reads it from memory.
        self.wsgi_input = Input(io.BytesIO(self._body), len(self._body))
        environ["wsgi.input"] = self.wsgi_input
        environ.pop("HTTP_EXPECT", None)
        return environ

    def _deadline_cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
            self._deadline = None


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def limit_concurrency(app: WSGIApp, slots: int, wait: float) -> WSGIApp:
    """``app``, run by at most ``slots`` requests at once; a request that waits longer than
    ``wait`` seconds for a slot is answered 503 with ``Retry-After``."""
    semaphore = BoundedSemaphore(slots)

    def limited(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not semaphore.acquire(timeout=wait):
            request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
            busy = json.dumps(request_error_fields(UNAVAILABLE, 503, request_id)).encode()
            start_response(
                "503 Service Unavailable",
                [
                    *(("Content-Type", "application/json"), ("Retry-After", "1")),
                    *((REQUEST_ID_HEADER, request_id), ("Content-Length", str(len(busy)))),
                ],
            )
            return [busy]
        try:
            answer = _InSlot(app(environ, start_response), semaphore.release)
        except BaseException:
            semaphore.release()
            raise
        if answer.streaming:  # a statement: the server sends it piece by piece, in its slot
            return answer
        try:
            return list(answer)  # Django's answer is whole once returned
        finally:
            answer.close()

    return limited


class _InSlot:
    """An answer that holds its request's application slot until it is closed (by the server once
    it is sent, or the client is gone; for an answer read whole, as soon as it is read): then the
    answer is closed (Django's request_finished) and the slot freed, once."""

    def __init__(self, response: Iterable[bytes], release: Callable[[], None]) -> None:
        self._response = response
        self._release: Callable[[], None] | None = release
        self.streaming: bool = getattr(response, "streaming", False)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._response)

    def close(self) -> None:
        release, self._release = self._release, None
        if release is None:
            return
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            release()


class JsonErrorLogServer(PyWSGIServer):  # type: ignore[misc]
    """gevent's server with its error log (a client's bad request, a broken connection) sent
    to gunicorn's logger, one JSON line each, instead of raw lines on stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("error_log", logging.getLogger("gunicorn.error"))
        super().__init__(*args, **kwargs)


class PyWSGIWorker(GeventPyWSGIWorker):  # type: ignore[misc]
    wsgi_handler = StrictHandler
    server_class = JsonErrorLogServer

    def init_process(self) -> None:
        # One worker per process, so the handler class can carry the process's setting.
        StrictHandler.idle_timeout = float(self.cfg.keepalive)
        StrictHandler.request_deadline = get_settings().web_request_deadline
        super().init_process()

    def run(self) -> None:
        gevent.spawn(self._close_idle_on_stop)
        super().run()

    def _close_idle_on_stop(self) -> None:
        while self.alive:
            gevent.sleep(STOP_POLL)
        StrictHandler.stopping = True
        for handler in list(StrictHandler.idle):
            with contextlib.suppress(OSError):  # its peek sees the end: the connection closes
                handler.socket.shutdown(socket.SHUT_RD)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app: WSGIApp = self.wsgi  # type: ignore[has-type]
        self.wsgi = limit_concurrency(app, get_settings().web_app_slots, APP_SLOT_WAIT)
