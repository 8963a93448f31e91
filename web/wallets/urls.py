"""API routes. Ids are matched loosely and parsed in the view, so a malformed
id is a JSON 404 rather than Django's HTML page; trailing slashes are optional. Each route's
name is its ``route`` label in ``/metrics``."""

from django.urls import re_path

from web.wallets import views

ID = r"(?P<{}>[^/]+)"

urlpatterns = [
    re_path(r"^api/v1/openapi\.json$", views.openapi_view, name="openapi"),
    re_path(r"^api/v1/docs/?$", views.reference_view, name="docs"),
    re_path(r"^api/v1/wallets/?$", views.wallet_create_view, name="wallets"),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/?$", views.wallet_detail_view, name="wallet"),
    re_path(
        rf"^api/v1/wallets/{ID.format('wallet_id')}/operation/?$", views.wallet_operation_view, name="wallet_operation"
    ),
    re_path(
        rf"^api/v1/wallets/{ID.format('wallet_id')}/operations/?$", views.wallet_history_view, name="wallet_history"
    ),
    re_path(rf"^api/v1/operations/{ID.format('operation_id')}/?$", views.operation_detail_view, name="operation"),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/holds/?$", views.hold_create_view, name="wallet_holds"),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/?$", views.hold_detail_view, name="hold"),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/capture/?$", views.hold_capture_view, name="hold_capture"),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/void/?$", views.hold_void_view, name="hold_void"),
    re_path(r"^api/v1/transfers/?$", views.transfer_create_view, name="transfers"),
    re_path(rf"^api/v1/transfers/{ID.format('transfer_id')}/?$", views.transfer_detail_view, name="transfer"),
]
