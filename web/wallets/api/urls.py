"""API routes. Ids are matched loosely and parsed in the view, so a malformed
id is a JSON 404 rather than Django's HTML page; trailing slashes are optional. Each route's
name is its ``route`` label in ``/metrics``."""

from django.urls import re_path

from web.wallets.api.views import bulk, events, history, holds, service, transfers, wallets, webhooks

ID = r"(?P<{}>[^/]+)"

urlpatterns = [
    re_path(r"^api/v1/openapi\.json$", service.openapi_view, name="openapi"),
    re_path(r"^api/v1/docs/?$", service.reference_view, name="docs"),
    re_path(r"^api/v1/wallets/?$", wallets.wallet_create_view, name="wallets"),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/?$", wallets.wallet_detail_view, name="wallet"),
    re_path(
        rf"^api/v1/wallets/{ID.format('wallet_id')}/operation/?$",
        wallets.wallet_operation_view,
        name="wallet_operation",
    ),
    re_path(
        rf"^api/v1/wallets/{ID.format('wallet_id')}/operations/?$", history.wallet_history_view, name="wallet_history"
    ),
    re_path(
        rf"^api/v1/wallets/{ID.format('wallet_id')}/statement/?$",
        history.wallet_statement_view,
        name="wallet_statement",
    ),
    re_path(r"^api/v1/operations/?$", history.operations_search_view, name="operations"),
    re_path(r"^api/v1/operations/bulk/?$", bulk.operations_bulk_view, name="operations_bulk"),
    re_path(rf"^api/v1/operations/{ID.format('operation_id')}/?$", wallets.operation_detail_view, name="operation"),
    re_path(
        rf"^api/v1/operations/{ID.format('operation_id')}/reversal/?$",
        wallets.operation_reversal_view,
        name="operation_reversal",
    ),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/holds/?$", holds.hold_create_view, name="wallet_holds"),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/?$", holds.hold_detail_view, name="hold"),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/capture/?$", holds.hold_capture_view, name="hold_capture"),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/void/?$", holds.hold_void_view, name="hold_void"),
    re_path(r"^api/v1/events/?$", events.events_view, name="events"),
    re_path(r"^api/v1/webhook-endpoints/?$", webhooks.endpoints_view, name="webhook_endpoints"),
    re_path(
        rf"^api/v1/webhook-endpoints/{ID.format('endpoint_id')}/?$", webhooks.endpoint_view, name="webhook_endpoint"
    ),
    re_path(
        rf"^api/v1/webhook-endpoints/{ID.format('endpoint_id')}/rotate-secret/?$",
        webhooks.endpoint_rotate_view,
        name="webhook_endpoint_rotate",
    ),
    re_path(
        rf"^api/v1/webhook-endpoints/{ID.format('endpoint_id')}/deliveries/?$",
        webhooks.deliveries_view,
        name="webhook_deliveries",
    ),
    re_path(
        rf"^api/v1/webhook-endpoints/{ID.format('endpoint_id')}/deliveries/{ID.format('event_id')}/retry/?$",
        webhooks.delivery_retry_view,
        name="webhook_delivery_retry",
    ),
    re_path(r"^api/v1/transfers/?$", transfers.transfer_create_view, name="transfers"),
    re_path(rf"^api/v1/transfers/{ID.format('transfer_id')}/?$", transfers.transfer_detail_view, name="transfer"),
    re_path(
        rf"^api/v1/transfers/{ID.format('transfer_id')}/reversal/?$",
        transfers.transfer_reversal_view,
        name="transfer_reversal",
    ),
]
