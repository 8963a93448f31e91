"""The design this project replaces, for ``make bench`` to measure against in the same run.

The seed as its README describes it: a Django project (its default apps and middleware) whose
view ``POST /api/v1/wallets/<id>/operation`` handles "concurrent transaction handling using
SQLAlchemy with row-level locking": it opens a transaction on an SQLAlchemy engine (its default
pool), locks the wallet's row with ``SELECT ... FOR UPDATE``, checks the funds, writes the new
balance and commits, all inside the request, served by gunicorn with threads (2 processes x 8
threads). No authentication, no ledger, no idempotency: only what every design must do.

Its rows live in a table of its own of the bench's database (``deploy.bench.rowlock_setup``):
the service's tables and its ledger audit never see them.

    gunicorn --workers 2 --threads 8 --worker-class gthread deploy.bench.rowlock:application
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.conf import settings

from shared.config import get_settings

settings.configure(
    DEBUG=False,
    SECRET_KEY=get_settings().secret_key or secrets.token_urlsafe(50),
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    # What ``django-admin startproject`` writes (the seed's admin is left out: no URL reaches it).
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from sqlalchemy import create_engine, select, update  # noqa: E402

from deploy.bench.rowlock_setup import ROWLOCK_WALLETS  # noqa: E402

engine = create_engine(get_settings().sqlalchemy_url, connect_args={"application_name": "bench-rowlock"})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@csrf_exempt
def operate(request: HttpRequest, wallet_id: UUID) -> JsonResponse:
    try:
        body: Any = json.loads(request.body)
        kind, amount = body["operationType"], Decimal(str(body["amount"]))
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return JsonResponse({"error": "Invalid or missing amount"}, status=400)
    if kind not in ("DEPOSIT", "WITHDRAW") or not amount > 0:
        return JsonResponse({"error": "Invalid operationType"}, status=400)
    with engine.begin() as conn:
        balance = conn.execute(
            select(ROWLOCK_WALLETS.c.balance).where(ROWLOCK_WALLETS.c.id == wallet_id).with_for_update()
        ).scalar_one_or_none()
        if balance is None:
            return JsonResponse({"error": "Wallet not found"}, status=404)
        new_balance = balance + amount if kind == "DEPOSIT" else balance - amount
        if new_balance < 0:
            return JsonResponse({"error": "Insufficient funds"}, status=400)
        conn.execute(update(ROWLOCK_WALLETS).where(ROWLOCK_WALLETS.c.id == wallet_id).values(balance=new_balance))
    return JsonResponse({"status": "Success", "new_balance": str(new_balance)})


urlpatterns = [path("healthz", healthz), path("api/v1/wallets/<uuid:wallet_id>/operation", operate)]

application = get_wsgi_application()
