"""WSGI entry point for gunicorn: ``gunicorn web.wsgi``.

Two Django handlers behind one application, chosen by path: the API's (``ApiHandler``) and
Django's own for everything else (the admin, static files, the probes). They are the same but
for the class that sends each request's ``request_started`` and ``request_finished``: Django's
receivers of those signals that close database connections, clear query logs, close caches
and reset the URLconf do nothing for an API request, and are not run for one
(``_not_for_api``). The API uses none of what they tend: its SQL goes through
``web.database``'s own pool, never Django's connections (an import contract keeps the models out
of the API's layers), and it has no cache or per-request URLconf. Measured in process, those
five receivers cost 30 to 60 µs per request, several per cent of an operation's web CPU. The
project's own receivers (``web.wallets.api.middleware``) still run for every request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")

import django

django.setup(set_prefix=False)

from django.core import signals  # noqa: E402
from django.core.cache import close_caches  # noqa: E402
from django.core.handlers.base import reset_urlconf  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import close_old_connections, reset_queries  # noqa: E402
from django.dispatch import Signal  # noqa: E402

from web.wallets.api.urls import API_PATH  # noqa: E402


class ApiHandler(WSGIHandler):
    """Django's WSGI handler, for the API's paths (its class is the sender of their signals)."""


Receiver = Callable[..., None]

DJANGO_RECEIVERS: tuple[tuple[Signal, Receiver], ...] = (
    (signals.request_started, reset_queries),
    (signals.request_started, close_old_connections),
    (signals.request_finished, close_old_connections),
    (signals.request_finished, close_caches),
    (signals.request_finished, reset_urlconf),
)
"""Django's own receivers of the request signals, each of which tends something the API never uses."""


def _not_for_api(receiver: Receiver) -> Receiver:
    """``receiver``, run for every sender but ``ApiHandler``."""

    def unless_api(sender: object, **kwargs: Any) -> None:
        if sender is not ApiHandler:
            receiver(sender=sender, **kwargs)

    return unless_api


def django_receivers_gate() -> None:
    """Connect each of ``DJANGO_RECEIVERS`` as run for every sender but ``ApiHandler`` instead of
    as Django connected it: at import, and again wherever Django's test tools connected one back
    as it was (its test client does, around each of its requests). Idempotent."""
    for signal, receiver in DJANGO_RECEIVERS:
        signal.disconnect(receiver)
        signal.connect(_not_for_api(receiver), weak=False, dispatch_uid=f"wallets.unless_api.{receiver.__name__}")


django_receivers_gate()

_api = ApiHandler()
_site = WSGIHandler()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    handler = _api if environ.get("PATH_INFO", "").startswith(API_PATH) else _site
    return handler(environ, start_response)
