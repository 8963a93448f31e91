"""API routes. Ids are matched loosely and parsed in the view, so a malformed
id is a JSON 404 rather than Django's HTML page; trailing slashes are optional."""

from django.urls import re_path

from web.wallets import views

ID = r"(?P<{}>[^/]+)"

urlpatterns = [
    re_path(r"^api/v1/openapi\.json$", views.openapi_view),
    re_path(r"^api/v1/docs/?$", views.reference_view),
    re_path(r"^api/v1/wallets/?$", views.wallet_create_view),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/?$", views.wallet_detail_view),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/operation/?$", views.wallet_operation_view),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/operations/?$", views.wallet_history_view),
    re_path(rf"^api/v1/operations/{ID.format('operation_id')}/?$", views.operation_detail_view),
    re_path(rf"^api/v1/wallets/{ID.format('wallet_id')}/holds/?$", views.hold_create_view),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/?$", views.hold_detail_view),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/capture/?$", views.hold_capture_view),
    re_path(rf"^api/v1/holds/{ID.format('hold_id')}/void/?$", views.hold_void_view),
    re_path(r"^api/v1/transfers/?$", views.transfer_create_view),
    re_path(rf"^api/v1/transfers/{ID.format('transfer_id')}/?$", views.transfer_detail_view),
]
