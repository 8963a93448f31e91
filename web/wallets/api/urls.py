"""API routes. Ids are matched loosely and parsed in the view, so a malformed
id is a JSON 404 rather than Django's HTML page; trailing slashes are optional. Each route's
name is its ``route`` label in ``/metrics``.

Routes are grouped by their first segment after ``api/v1/``, the groups in the order of how
often they are asked for: Django tries a list's patterns one by one (and records each miss), so
a request reaches its route through a few patterns rather than every route before it."""

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, URLResolver, include, re_path

from web.wallets.api.views import bulk, events, history, holds, service, transfers, wallets, webhooks

ID = r"(?P<{}>[^/]+)"


def _under(id_name: str, routes: list[tuple[str, Callable[..., Any], str]]) -> list[URLPattern]:
    """Routes below ``/<id>`` of a group: (the path after the id, view, name)."""
    return [re_path(rf"^/{ID.format(id_name)}{tail}/?$", view, name=name) for tail, view, name in routes]


_WALLETS = [
    *_under(
        "wallet_id",
        [
            ("/operation", wallets.wallet_operation_view, "wallet_operation"),
            ("", wallets.wallet_detail_view, "wallet"),
            ("/operations", history.wallet_history_view, "wallet_history"),
            ("/holds", holds.hold_create_view, "wallet_holds"),
            ("/statement", history.wallet_statement_view, "wallet_statement"),
        ],
    ),
    re_path(r"^/?$", wallets.wallet_create_view, name="wallets"),
]
_TRANSFERS = [
    re_path(r"^/?$", transfers.transfer_create_view, name="transfers"),
    *_under(
        "transfer_id",
        [
            ("", transfers.transfer_detail_view, "transfer"),
            ("/reversal", transfers.transfer_reversal_view, "transfer_reversal"),
        ],
    ),
]
_HOLDS = _under(
    "hold_id",
    [
        ("/capture", holds.hold_capture_view, "hold_capture"),
        ("/void", holds.hold_void_view, "hold_void"),
        ("", holds.hold_detail_view, "hold"),
    ],
)
_OPERATIONS = [
    re_path(r"^/?$", history.operations_search_view, name="operations"),
    re_path(r"^/bulk/?$", bulk.operations_bulk_view, name="operations_bulk"),
    *_under(
        "operation_id",
        [
            ("", wallets.operation_detail_view, "operation"),
            ("/reversal", wallets.operation_reversal_view, "operation_reversal"),
        ],
    ),
]
_WEBHOOK_ENDPOINTS = [
    re_path(r"^/?$", webhooks.endpoints_view, name="webhook_endpoints"),
    *_under(
        "endpoint_id",
        [
            ("", webhooks.endpoint_view, "webhook_endpoint"),
            ("/rotate-secret", webhooks.endpoint_rotate_view, "webhook_endpoint_rotate"),
            ("/deliveries", webhooks.deliveries_view, "webhook_deliveries"),
            (f"/deliveries/{ID.format('event_id')}/retry", webhooks.delivery_retry_view, "webhook_delivery_retry"),
        ],
    ),
]


def _group(segment: str, routes: list[URLPattern]) -> URLResolver:
    """The routes of ``api/v1/<segment>``, each written from what follows the segment."""
    return re_path(rf"^{segment}(?=/|$)", include(routes))


API_PATH = "/api/v1/"
"""Where the API is mounted: every route below it (``web.wsgi`` serves these paths apart)."""

urlpatterns = [
    re_path(
        "^" + API_PATH.lstrip("/"),
        include(
            [
                _group("wallets", _WALLETS),
                _group("transfers", _TRANSFERS),
                _group("holds", _HOLDS),
                _group("operations", _OPERATIONS),
                _group("events", [re_path(r"^/?$", events.events_view, name="events")]),
                _group("webhook-endpoints", _WEBHOOK_ENDPOINTS),
                re_path(r"^openapi\.json$", service.openapi_view, name="openapi"),
                re_path(r"^docs/?$", service.reference_view, name="docs"),
            ]
        ),
    ),
]
