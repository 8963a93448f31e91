"""/metrics: Prometheus text with the web's counts and what Redis says of queues and workers."""

from __future__ import annotations

import dataclasses
import socket
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client.core import Metric
from sqlalchemy import Engine, text

from deploy.processes import free_port, start_gunicorn, stop
from shared.config import Settings
from tests.support.api import Api, error_body, metrics_parse, scrape
from tests.support.patching import patch_views
from web.wallets.ops import metrics


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
    assert value(after["wallet_batch_apply_seconds_count"]) >= 2
    assert 0 < value(after["wallet_batch_apply_seconds_sum"]) < 60
    owned = after["wallet_shard_owned"]
    assert sorted((labels["shard"], held) for labels, held in owned) == [(f"{s:02d}", 1.0) for s in range(16)]
    assert "wallet_shard_owner" not in after  # no series named after a worker (host, pid)
    text = api.client.get("/metrics").content.decode()
    assert socket.gethostname() not in text


def test_metrics_token_guards_the_scrape(api: Api, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_views(monkeypatch, "get_settings", lambda: dataclasses.replace(settings, metrics_token="s3cret-token"))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        response = api.client.get("/metrics", headers=headers)
        assert (response.status_code, error_body(response)) == (
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
        count, stalled = conn.execute(
            text("SELECT count(*), count(*) FILTER (WHERE stalled IS NOT NULL) FROM transfers WHERE state = 'pending'")
        ).one()
        amounts = conn.execute(
            text("SELECT currency, sum(amount) FROM transfers WHERE state = 'pending' GROUP BY currency ORDER BY 1")
        ).all()
    assert after["wallet_transfers_pending"] == [({}, float(count))]
    shown = {"EUR": 0.0} | {currency: float(amount) for currency, amount in amounts}  # the default's always
    assert after["wallet_transfers_pending_amount"] == [
        ({"currency": currency}, amount) for currency, amount in sorted(shown.items())
    ]
    assert after["wallet_transfers_stalled"] == [({}, float(stalled))]


def test_http_answers_are_counted_by_route_and_status_and_clients_cannot_add_labels(api: Api) -> None:
    wallet = api.create_wallet()
    before = scrape(api)
    requests = "wallet_http_requests_total"
    api.client.get(f"/api/v1/wallets/{wallet}")
    api.client.get("/api/v1/wallets/not-a-uuid")
    api.client.get(f"/no/such/{uuid.uuid4()}")
    api.client.generic("BREW", f"/api/v1/wallets/{wallet}")
    after = scrape(api)

    def grew(**labels: str) -> float:
        return value(after[requests], **labels) - value(before.get(requests, []), **labels)

    assert grew(method="GET", route="wallet", status="200") == 1
    assert grew(method="GET", route="wallet", status="404") == 1
    assert grew(method="GET", route="unmatched", status="404") == 1
    assert grew(method="other", route="wallet", status="405") == 1
    routes = {labels["route"] for labels, _ in after[requests]}
    assert not any(str(wallet) in route or "no/such" in route for route in routes)
    latency = "wallet_http_request_seconds_count"
    assert value(after[latency], route="wallet") - value(before.get(latency, []), route="wallet") == 3


def test_gunicorn_sums_process_metrics_over_its_workers(shard_worker: None) -> None:
    """In multiprocess mode (gunicorn) each scrape is answered by one worker: the counts cover
    them all, and the process metrics are the master's and every worker's together."""
    port = free_port()
    proc = start_gunicorn(port, WEB_CONCURRENCY="2")
    try:
        for _ in range(6):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            samples = metrics_parse(response.read().decode())
    finally:
        stop(proc)
    assert value(samples["wallet_web_processes"]) == 3  # the master and 2 workers
    assert value(samples["process_resident_memory_bytes"]) > 3 * 20_000_000
    assert value(samples["process_cpu_seconds_total"]) > 0
    assert value(samples["process_open_fds"]) > 3
    assert value(samples["wallet_http_requests_total"], route="healthz", status="200") >= 6


def test_scrapes_within_a_window_share_one_reading_and_counters_stay_live(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    readings: list[int] = []
    reading = metrics.TransferCollector.collect

    def counted(self: metrics.TransferCollector) -> Iterator[Metric]:
        readings.append(1)
        return reading(self)

    monkeypatch.setattr(metrics.TransferCollector, "collect", counted)
    monkeypatch.setattr(metrics.READINGS, "ttl", 3600.0)
    first = scrape(api)
    api.create_wallet()
    again = scrape(api, fresh=False)
    assert len(readings) == 1  # PostgreSQL and Redis read once for both scrapes
    assert again["wallet_transfers_pending"] == first["wallet_transfers_pending"]
    created = "wallet_http_requests_total"
    assert value(again[created], route="wallets") == value(first.get(created, []), route="wallets") + 1
    monkeypatch.setattr(metrics.READINGS, "ttl", 0.0)
    scrape(api, fresh=False)
    assert len(readings) == 2
