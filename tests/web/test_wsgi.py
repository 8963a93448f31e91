"""``web.wsgi``: the API's requests skip Django's receivers of database connections, caches and
URLconfs; every other request still runs them."""

from __future__ import annotations

from typing import Any
from uuid import uuid4
from wsgiref.util import setup_testing_defaults

from django.db import connection

from web.wallets.api.urls import API_PATH
from web.wsgi import ApiHandler, application, django_receivers_gate


def _serve(path: str) -> str:
    """GET ``path`` through the application as gunicorn would (closing the answer); its status."""
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    statuses: list[str] = []
    answer = application(environ, lambda status, headers: statuses.append(status))
    try:
        b"".join(answer)
    finally:
        answer.close()  # type: ignore[attr-defined]  # Django's request_finished
    return statuses[0]


def test_an_api_request_runs_no_receiver_of_djangos_connections_and_others_do() -> None:
    django_receivers_gate()  # as at import: Django's test client, used before, connects one back
    connection.ensure_connection()
    marker = {"sql": "a query of an earlier request", "time": "0.000"}
    connection.queries_log.append(marker)
    # Django's reset_queries, a receiver of every request's start, would clear it.
    assert _serve(f"{API_PATH}wallets/{uuid4()}").startswith("401")
    assert marker in connection.queries_log
    assert _serve("/healthz").startswith("200")
    assert marker not in connection.queries_log


def test_the_api_handler_is_djangos_but_for_its_class() -> None:
    assert ApiHandler.__mro__[1].__module__ == "django.core.handlers.wsgi"

    class Empty:
        """What any class body holds on this Python (3.13 adds __firstlineno__, ...)."""

    assert ApiHandler.__dict__.keys() <= Empty.__dict__.keys()
