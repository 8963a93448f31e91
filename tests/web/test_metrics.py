"""/metrics: Prometheus text with the web's counts and what Redis says of queues and workers."""

from __future__ import annotations

import dataclasses
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from shared.config import Settings
from tests.web.conftest import Api


def scrape(api: Api) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample, by name."""
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    grouped: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            grouped.setdefault(sample.name, []).append((sample.labels, sample.value))
    return grouped


def value(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    return sum(v for found, v in samples if all(found.get(k) == want for k, want in labels.items()))


def test_operations_latency_and_workers_are_exposed(api: Api) -> None:
    before = scrape(api)
    wallet = api.create_wallet(5)
    api.post_operation(wallet, {"operationType": "WITHDRAW", "amount": "50.00"})
    after = scrape(api)
    applied = "wallet_operations_total"
    assert (
        value(after[applied], type="DEPOSIT", outcome="applied")
        == value(before.get(applied, []), type="DEPOSIT", outcome="applied") + 1
    )
    assert (
        value(after[applied], type="WITHDRAW", outcome="rejected")
        == value(before.get(applied, []), type="WITHDRAW", outcome="rejected") + 1
    )
    assert value(after["wallet_operation_seconds_count"]) == value(before.get("wallet_operation_seconds_count", [])) + 2
    assert len(after["wallet_queue_depth"]) == 16
    assert value(after["wallet_batch_size_count"]) >= 2
    owners = after["wallet_shard_owner"]
    assert sorted(labels["shard"] for labels, _ in owners) == [f"{s:02d}" for s in range(16)]
    assert len({labels["worker"] for labels, _ in owners}) == 1
    assert all(re.fullmatch(r"wallets-.+-\d+", labels["worker"]) for labels, _ in owners)


def test_metrics_token_guards_the_scrape(api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "web.wallets.views.get_settings", lambda: dataclasses.replace(settings, metrics_token="s3cret-token")
    )
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        response = api.client.get("/metrics", headers=headers)
        assert (response.status_code, response.json()) == (
            401,
            {"error": "Missing or wrong metrics token", "code": "metrics_token_invalid"},
        )
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    response = api.client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert response.status_code == 200
    assert b"wallet_queue_depth" in response.content


def test_transfers_are_counted_and_pending_ones_shown(api: Api, db: Engine) -> None:
    before = scrape(api)
    source, destination = api.create_wallet(5), api.create_wallet()
    assert api.post_transfer(source, destination, "2.00").status_code == 200
    assert api.post_transfer(source, destination, "9.00").status_code == 400
    after = scrape(api)
    counted = "wallet_transfers_total"
    for state in ("completed", "failed"):
        assert value(after[counted], state=state) == value(before.get(counted, []), state=state) + 1
    latency = "wallet_transfer_seconds_count"
    assert value(after[latency]) == value(before.get(latency, [])) + 2
    # What PostgreSQL says (nothing is in flight here).
    with db.connect() as conn:
        count, amount = conn.execute(
            text("SELECT count(*), COALESCE(sum(amount), 0) FROM transfers WHERE state = 'pending'")
        ).one()
    assert after["wallet_transfers_pending"] == [({}, float(count))]
    assert after["wallet_transfers_pending_amount"] == [({}, float(amount))]
