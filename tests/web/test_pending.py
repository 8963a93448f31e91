"""Past the reply timeout the API answers 202 with a status URL; the operation still settles."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from shared.config import Settings
from tests.support.api import Api
from tests.support.patching import patch_views


@pytest.fixture
def no_wait(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Web requests do not wait for the worker at all."""
    impatient = dataclasses.replace(settings, reply_timeout=0.0)
    patch_views(monkeypatch, "get_settings", lambda: impatient)


def test_reply_timeout_answers_202_then_settles(api: Api, no_wait: None) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "25.00"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "Pending"
    assert response["Location"] == f"/api/v1/operations/{body['operation_id']}"
    settled = api.settled(response["Location"])
    assert settled["status"] == "applied"
    assert settled["balance_after"] == "25.00"
    assert api.balance(wallet) == Decimal("25.00")


def test_pending_rejection_settles_as_rejected(api: Api, no_wait: None) -> None:
    wallet = api.create_wallet()
    response = api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "1.00"})
    assert response.status_code == 202
    settled = api.settled(response["Location"])
    assert settled["status"] == "rejected"
    assert settled["error"] == "Insufficient funds"
