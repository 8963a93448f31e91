"""The API as the web tests speak it: the Django test client with a key, and readers of its answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from deploy.processes import wait_until
from shared.sharding import shard_for
from tests.support.http_client import error_of
from web.wallets.ops import metrics

NO_ANNOTATIONS = {"reference": None, "metadata": None}
"""What a body shows of a write sent without a reference or metadata (``shared.annotations``)."""


def settled(read: Callable[[str], dict[str, Any]], location: str, *, timeout: float = 30) -> dict[str, Any]:
    """What ``location`` (a 202's status URL) says once it is no longer pending, read with
    ``read`` (a GET through the Django test client or over HTTP). The one way the tests wait
    for a status URL; replaying the Idempotency-Key instead is ``tests.support.stack.settle_post``."""
    wait_until(lambda: read(location)["status"] != "pending", timeout=timeout, what=f"{location} settled")
    return read(location)


def _encoded(body: Any) -> bytes:
    """A request body: bytes as they are, anything else as JSON, None as no body."""
    return b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()


class Api:
    """The Django test client, speaking the API's JSON, with an API key."""

    def __init__(self, secret: str) -> None:
        self.client = Client(headers={"Authorization": f"Bearer {secret}"})

    def settled(self, location: str) -> dict[str, Any]:
        """What a 202's status URL says once the operation is no longer pending."""
        return settled(lambda path: self.client.get(path).json(), location)

    def post_operation(self, wallet_id: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1/wallets/{wallet_id}/operation",
            data=_encoded(body),
            content_type="application/json",
            headers=headers,
        )

    def post_transfer(self, source: str, destination: str, amount: str, **headers: str) -> Any:
        body = json.dumps({"from": source, "to": destination, "amount": amount}).encode()
        return self.client.post("/api/v1/transfers", data=body, content_type="application/json", headers=headers)

    def post_hold(self, wallet_id: str, body: Any, **headers: str) -> Any:
        return self.client.post(
            f"/api/v1/wallets/{wallet_id}/holds", data=_encoded(body), content_type="application/json", headers=headers
        )

    def hold_change(self, hold_id: str, action: str, body: Any = None, **headers: str) -> Any:
        """``action`` is ``capture`` or ``void``; no body unless given."""
        return self.client.post(
            f"/api/v1/holds/{hold_id}/{action}", data=_encoded(body), content_type="application/json", headers=headers
        )

    def post_reversal(self, of: str, body: Any = None, **headers: str) -> Any:
        """``POST /api/v1/<of>/reversal``, ``of`` being ``operations/<id>`` or ``transfers/<id>``;
        no body unless given."""
        return self.client.post(
            f"/api/v1/{of}/reversal", data=_encoded(body), content_type="application/json", headers=headers
        )

    def post_bulk(self, body: Any, **headers: str) -> Any:
        """``POST /api/v1/operations/bulk``: ``body`` is its list of operations, or a whole body
        (a dict or bytes)."""
        data = _encoded({"operations": body} if isinstance(body, list) else body)
        return self.client.post("/api/v1/operations/bulk", data=data, content_type="application/json", headers=headers)

    def patch_wallet(self, wallet_id: str, body: Any, **headers: str) -> Any:
        """``PATCH /api/v1/wallets/<id>``: a change of its limits or status."""
        return self.client.patch(
            f"/api/v1/wallets/{wallet_id}", data=_encoded(body), content_type="application/json", headers=headers
        )

    def money(self, wallet_id: str) -> tuple[Decimal, Decimal, Decimal]:
        """(balance, available, held)"""
        response = self.client.get(f"/api/v1/wallets/{wallet_id}")
        assert response.status_code == 200
        body = response.json()
        return Decimal(body["balance"]), Decimal(body["available"]), Decimal(body["held"])

    def create_wallet(
        self, balance: Decimal | int | str = 0, *, currency: str | None = None, **limits: str | None
    ) -> str:
        """A new wallet (in ``currency``, else the default; with ``limits``, ``min_balance`` and
        ``max_balance``, if given), funded through the API (so its ledger explains its balance)."""
        fields = {**({} if currency is None else {"currency": currency}), **limits}
        body = json.dumps(fields).encode() if fields else b""
        response = self.client.post("/api/v1/wallets", data=body, content_type="application/json")
        assert response.status_code == 201
        wallet_id: str = response.json()["id"]
        if Decimal(balance):
            funded = self.post_operation(wallet_id, {"operationType": "DEPOSIT", "amount": str(balance)})
            assert funded.status_code == 200, funded.content
        return wallet_id

    def balance(self, wallet_id: str) -> Decimal:
        response = self.client.get(f"/api/v1/wallets/{wallet_id}")
        assert response.status_code == 200
        return Decimal(response.json()["balance"])


def error_body(response: Any) -> dict[str, Any]:
    """The JSON of a Django test client's error answer without its ``request_id`` (checked to be
    the answer's ``X-Request-Id``)."""
    return error_of(response.status_code, response.json(), response.headers)[1]


def history(api: Api, wallet: str) -> list[dict[str, Any]]:
    response = api.client.get(f"/api/v1/wallets/{wallet}/operations")
    assert response.status_code == 200
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def transfer(api: Api, transfer_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/transfers/{transfer_id}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def scrape(api: Api, *, fresh: bool = True) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample, by name; the scrape-time readings taken now unless not ``fresh`` (as the
    first scrape of a window takes them)."""
    if fresh:
        metrics.READINGS.clear()
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return metrics_parse(response.content.decode())


def metrics_parse(text_body: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    grouped: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text_body):
        for sample in family.samples:
            grouped.setdefault(sample.name, []).append((sample.labels, sample.value))
    return grouped


def events_feed(api: Api, **params: str) -> list[dict[str, Any]]:
    """Every event of the caller's feed (``GET /api/v1/events`` with ``params``), page by page."""
    events: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        response = api.client.get("/api/v1/events", {**params, **({"after": after} if after else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        events += body["results"]
        if not body["has_more"]:
            return events
        after = body["next"]


def without_strays(events: list[dict[str, Any]], wallets: tuple[str, ...]) -> list[dict[str, Any]]:
    """``events`` without the ``wallet.created`` of wallets other than ``wallets`` (the empty ones
    :func:`wallet_pair` may leave behind)."""
    return [e for e in events if e["type"] != "wallet.created" or e["data"]["id"] in wallets]


def wallet_pair(api: Api, shard_count: int, balance: int, *, same_shard: bool = False) -> tuple[str, str]:
    """A wallet funded with ``balance``, and an empty one on another shard (a transfer between
    them has two legs of their own) or, if ``same_shard``, on its own (one writer decides both
    legs). Empty wallets made on the way stay in the caller's tenant: :func:`without_strays`
    drops their ``wallet.created`` events."""
    source = api.create_wallet(balance)
    while True:
        destination = api.create_wallet()
        if (shard_for(UUID(destination), shard_count) == shard_for(UUID(source), shard_count)) == same_shard:
            return source, destination
