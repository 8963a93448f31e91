"""The ceiling of ``make bench``: a bare Django view that only answers JSON.

Served by the service's own gunicorn configuration (``deploy/gunicorn.conf.py``: the same
worker class, processes and connections) and driven by the same wrk script, in the same run as
every other scenario, so each scenario is also measured as a share of what Django and gunicorn
alone do on this machine that hour: a ratio that does not drift with the machine.

    gunicorn -c deploy/gunicorn.conf.py deploy.bench.ceiling:application
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings

from shared.config import get_settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=get_settings().secret_key or secrets.token_urlsafe(50),
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def answer(request: HttpRequest, **_: Any) -> JsonResponse:
    """A balance-sized JSON answer, whatever the request."""
    return JsonResponse({"id": "00000000-0000-0000-0000-000000000000", "balance": "1000000.00"})


urlpatterns = [path("healthz", answer), path("api/v1/wallets/<uuid:wallet_id>", answer)]

application = get_wsgi_application()
