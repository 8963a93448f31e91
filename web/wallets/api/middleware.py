"""The project's middleware: a request id on every request (``X-Request-Id``), the admin's
session, user and messages middleware limited to the admin's paths, and one structured log
line per request when ``LOG_REQUESTS`` is on (off by default: no per-request noise on the
hot path)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from shared.config import get_settings
from shared.logs import REQUEST_ID
from web.wallets.api.request_ids import REQUEST_ID_HEADER, request_id_from
from web.wallets.auth.login_guard import device_cookie_set
from web.wallets.ops import metrics

log = logging.getLogger("web.requests")

ADMIN_PATH = "/admin/"
"""Where the admin is mounted (web/urls.py): the only pages with sessions, users and messages."""


class RequestIdMiddleware:
    """Give every request an id, in ``REQUEST_ID`` while it is served (every log line and
    error body carries it) and in the answer's ``X-Request-Id`` header. The id stays set until
    the response is closed (``request_finished``): Django logs a 4xx or 5xx after every
    middleware returned, and that line is the request's too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        REQUEST_ID.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _request_finished(**_: object) -> None:
    REQUEST_ID.set(None)


request_finished.connect(_request_finished, dispatch_uid="wallets.request_id")


class _AdminOnly(MiddlewareMixin):
    """Run a Django middleware for the admin's paths only. The API is stateless: it has no
    session, user or flash message, and building them (a cookie signer for the message
    storage, a lazy session and user) costs CPU on every API request."""

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if not request.path_info.startswith(ADMIN_PATH):
            return self.get_response(request)
        return super().__call__(request)


class AdminSessionMiddleware(_AdminOnly, SessionMiddleware):
    pass


class AdminAuthenticationMiddleware(_AdminOnly, AuthenticationMiddleware):
    pass


class AdminMessageMiddleware(_AdminOnly, MessageMiddleware):
    pass


class AdminDeviceCookieMiddleware(_AdminOnly):
    """Leave the device cookie a successful admin login asked for (``login_guard``)."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        device_cookie_set(request, response)
        return response


def route_of(request: HttpRequest) -> str:
    """The route label of a request: its URL pattern's name, ``admin`` or ``static`` for those
    surfaces, ``unmatched`` for any path no route serves (so no client can add labels)."""
    match = request.resolver_match
    if match is not None:
        return "admin" if match.namespace == "admin" else match.url_name or "unnamed"
    if request.path_info.startswith(ADMIN_PATH):
        return "admin"
    if request.path_info.startswith("/static/"):
        return "static"
    return "unmatched"


class RequestMetricsMiddleware:
    """Count every answer by method, route and status, with its latency (``metrics``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.http_record(
            request.method or "", route_of(request), response.status_code, time.perf_counter() - started
        )
        return response


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = get_settings().log_requests

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.enabled:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response
