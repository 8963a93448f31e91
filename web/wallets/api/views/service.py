"""The service about itself: metrics, the OpenAPI document and its reference page, liveness and
readiness, and the JSON answers of Django's error handlers."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from shared import failovers
from shared.config import get_settings
from shared.connections import get_redis
from shared.errors import ServiceUnavailable
from shared.failovers import Backend
from web.database import read_one
from web.wallets.api.openapi import OPENAPI
from web.wallets.api.reference import reference_html
from web.wallets.api.responses import (
    api_view,
    error_response,
    json_response,
    served_error_fields,
)
from web.wallets.error_codes import (
    METRICS_UNAUTHORIZED,
    UNAVAILABLE,
)
from web.wallets.ops import metrics
from web.wallets.ops.readiness import readings_get

log = logging.getLogger(__name__)


_HEALTH_PROBE = "SELECT 1 FROM wallets LIMIT 1"


@api_view("GET", public=True)
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = get_settings().metrics_token
    if token and not metrics.bearer_matches(request.headers.get("Authorization"), token):
        return error_response(METRICS_UNAUTHORIZED, 401, WWW_Authenticate='Bearer realm="metrics"')
    return HttpResponse(metrics.metrics_text(), content_type=CONTENT_TYPE_LATEST)


@api_view("GET", public=True)
def openapi_view(request: HttpRequest) -> HttpResponse:
    return json_response(OPENAPI)


REFERENCE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The reference page loads nothing and runs nothing: only its own inline style."""


@api_view("GET", public=True)
def reference_view(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(reference_html(), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = REFERENCE_POLICY
    return response


@api_view("GET", public=True)
def healthz_view(request: HttpRequest) -> HttpResponse:
    """Liveness: this process answers. Its dependencies are readiness's (``/readyz``): an
    orchestrator restarting every web process during a database blip would only add an outage."""
    return json_response({"status": "ok"})


@api_view("GET", public=True)
def favicon_view(request: HttpRequest) -> HttpResponse:
    """No icon: ``204`` to the browsers that ask for one on every site (the admin's pages), so
    none logs a missing resource."""
    return HttpResponse(status=204)


def _dependency_checks() -> dict[str, str]:
    checks = {"postgres": "ok", "redis": "ok"}
    try:
        # A read of the wallets table, so a locked or stalled table shows here, not only a dead server.
        read_one(_HEALTH_PROBE, ())
    except Exception as exc:  # any failure of the probe means unavailable
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    return checks


def _backends() -> dict[str, dict[str, object]]:
    """The Redis master and the PostgreSQL host this process uses, and the failovers it saw."""
    found = {backend: failovers.in_use(backend) for backend in Backend}
    return {str(b): {"address": used.address, "failovers": used.failovers} for b, used in found.items()}


@api_view("GET", public=True)
def readyz_view(request: HttpRequest) -> HttpResponse:
    """503 unless PostgreSQL and Redis answer (``checks``), every shard has a worker holding its
    lease and no operation has waited in a shard queue longer than ``READY_MAX_LAG``
    (``readiness``)."""
    settings = get_settings()
    checks = _dependency_checks()
    backends = _backends()
    unavailable = {
        "status": "unavailable",
        **served_error_fields(UNAVAILABLE, 503),
        "checks": checks,
        "backends": backends,
    }
    if any(value != "ok" for value in checks.values()):
        return json_response(unavailable, status=503)
    try:
        readings = readings_get(get_redis(), settings)
    except ServiceUnavailable as exc:
        log.warning("readiness unknown: %s", exc)
        return json_response(unavailable, status=503)
    lagging = readings.lagging(settings.ready_max_lag)
    ready = not readings.unowned and not lagging
    return json_response(
        {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "backends": backends,
            "live_workers": readings.live_workers,
            "suspended": readings.suspended,
            "unowned_shards": readings.unowned,
            "lagging_shards": lagging,
            "max_lag_seconds": round(max(readings.lags, default=0.0), 3),
        },
        status=200 if ready else 503,
    )


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response("Bad request", 400)


def forbidden_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response("Forbidden", 403)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response("Not found", 404)


def server_error_view(request: HttpRequest) -> HttpResponse:
    return error_response("Internal server error", 500)
