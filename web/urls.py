from django.contrib import admin
from django.urls import include, path

from web.wallets.api.middleware import ADMIN_PATH
from web.wallets.api.views import service

# The API first: it takes nearly every request (web.wallets.api.urls).
urlpatterns = [
    path("", include("web.wallets.api.urls")),
    path(ADMIN_PATH.lstrip("/"), admin.site.urls),
    path("healthz", service.healthz_view, name="healthz"),
    path("readyz", service.readyz_view, name="readyz"),
    path("metrics", service.metrics_view, name="metrics"),
    path("favicon.ico", service.favicon_view, name="favicon"),
]

handler400 = "web.wallets.api.views.service.bad_request_view"
handler403 = "web.wallets.api.views.service.forbidden_view"
handler404 = "web.wallets.api.views.service.not_found_view"
handler500 = "web.wallets.api.views.service.server_error_view"
