"""/metrics: Prometheus text with the web's counts and what Redis says of queues and workers."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

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
