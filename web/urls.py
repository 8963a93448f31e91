from django.contrib import admin
from django.urls import include, path

from web.wallets import views
from web.wallets.middleware import ADMIN_PATH

urlpatterns = [
    path(ADMIN_PATH.lstrip("/"), admin.site.urls),
    path("healthz", views.healthz_view, name="healthz"),
    path("readyz", views.readyz_view, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("", include("web.wallets.urls")),
]

handler400 = "web.wallets.views.bad_request_view"
handler403 = "web.wallets.views.forbidden_view"
handler404 = "web.wallets.views.not_found_view"
handler500 = "web.wallets.views.server_error_view"
