"""Prometheus metrics, served at ``/metrics``.

Measured in the web processes (prometheus_client; multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set, as ``deploy/gunicorn.conf.py`` does):
operations by type and outcome, end-to-end latency, reply timeouts; transfers by the state
they were answered in, and their latency.
Read from Redis at scrape time, so they cover every worker on every host:
queue depth per shard, batch sizes, which worker owns which shard. Read from PostgreSQL at
scrape time: the transfers pending and their money.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared import keys
from shared.batch_sizes import bucket_fields
from shared.config import get_settings
from shared.connections import get_redis
from shared.errors import ServiceUnavailable
from shared.messages import OperationResult, OperationType
from shared.rq_contract import failed_count, workers_queues
from shared.sharding import shard_of_queue
from shared.transfers import TransferState
from web.wallets.readiness import readings_get
from web.wallets.selectors import holds_active_get, transfers_pending_get

OPERATIONS = Counter(
    "wallet_operations_total",
    "Operations answered by the web nodes, by type and outcome",
    ["type", "outcome"],
)
LATENCY = Histogram(
    "wallet_operation_seconds",
    "Time from a POST arriving to its answer (enqueue, apply, reply)",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
TRANSFERS = Counter(
    "wallet_transfers_total",
    "Transfers answered by the web nodes, by the state they were answered in",
    ["state"],
)
TRANSFER_LATENCY = Histogram(
    "wallet_transfer_seconds",
    "Time from a transfer's POST arriving to its answer (both legs, when answered completed)",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
REPLY_TIMEOUTS = Counter("wallet_reply_timeouts_total", "Operations answered 202 because no reply came in time")


class QueueCollector(Collector):
    """What the shard workers are doing, from Redis, at scrape time."""

    def __init__(self, connection: redis.Redis, shard_count: int) -> None:
        self.connection = connection
        self.shard_count = shard_count

    def collect(self) -> Iterator[Metric]:
        with self.connection.pipeline(transaction=False) as pipe:
            for shard in range(self.shard_count):
                pipe.llen(keys.queue_key(shard))
            pipe.hgetall(keys.BATCH_SIZES_KEY)
            *depths, batches = pipe.execute()
        depth = GaugeMetricFamily("wallet_queue_depth", "Operations waiting in each shard queue", labels=["shard"])
        for shard, length in enumerate(depths):
            depth.add_metric([f"{shard:02d}"], float(length))
        yield depth

        counts = {field.decode(): int(value) for field, value in batches.items()}
        cumulative, buckets = 0, []
        for label, field in bucket_fields():
            cumulative += counts.get(field, 0)
            buckets.append((label, float(cumulative)))
        sizes = HistogramMetricFamily("wallet_batch_size", "Operations per batch applied by the shard workers")
        sizes.add_metric([], buckets, sum_value=float(counts.get("sum", 0)))
        yield sizes

        try:
            readings = readings_get(self.connection, get_settings())
        except ServiceUnavailable:
            readings = None  # PostgreSQL away: the scrape still shows the queues
        if readings is not None:
            lag = GaugeMetricFamily(
                "wallet_queue_lag_seconds",
                "Seconds the oldest queued operation of each shard has waited",
                labels=["shard"],
            )
            for shard, seconds in enumerate(readings.lags):
                lag.add_metric([f"{shard:02d}"], seconds)
            yield lag
            yield GaugeMetricFamily(
                "wallet_shards_unowned", "Shards whose lease no worker holds", value=len(readings.unowned)
            )
            yield GaugeMetricFamily(
                "wallet_workers_live", "Shard workers with a recent heartbeat", value=readings.live_workers
            )

        yield GaugeMetricFamily(
            "wallet_failed_jobs",
            "Operations in the shard queues' failed registries (poison messages: rq-dashboard lists them)",
            value=failed_count(self.connection, self.shard_count),
        )

        owners = GaugeMetricFamily(
            "wallet_shard_owner", "1 for the worker that owns each shard", labels=["shard", "worker"]
        )
        for worker, queues in workers_queues(self.connection):
            for name in queues:
                owners.add_metric([f"{shard_of_queue(name):02d}", worker], 1.0)
        yield owners


class TransferCollector(Collector):
    """Transfers whose money is between two wallets, from PostgreSQL, at scrape time."""

    def collect(self) -> Iterator[Metric]:
        try:
            count, amount = transfers_pending_get()
        except ServiceUnavailable:
            return  # the scrape still shows the queues
        yield GaugeMetricFamily("wallet_transfers_pending", "Transfers debited and not yet credited", value=count)
        yield GaugeMetricFamily(
            "wallet_transfers_pending_amount", "Money of the pending transfers (between wallets)", value=float(amount)
        )


class HoldCollector(Collector):
    """Active holds and the money they set aside, from PostgreSQL, at scrape time."""

    def collect(self) -> Iterator[Metric]:
        try:
            count, amount = holds_active_get()
        except ServiceUnavailable:
            return
        yield GaugeMetricFamily("wallet_holds_active", "Holds not yet captured, voided or expired", value=count)
        yield GaugeMetricFamily(
            "wallet_holds_active_amount", "Money set aside by active holds (not available)", value=float(amount)
        )


def record(operation_type: OperationType, result: OperationResult | None, seconds: float) -> None:
    """Count one answered operation (None: answered 202, its reply late)."""
    outcome = "pending" if result is None else result.status.value
    OPERATIONS.labels(operation_type.value, outcome).inc()
    LATENCY.observe(seconds)
    if result is None:
        REPLY_TIMEOUTS.inc()


def transfer_record(state: TransferState, seconds: float) -> None:
    """Count one answered transfer, by the state it was answered in."""
    TRANSFERS.labels(state.value).inc()
    TRANSFER_LATENCY.observe(seconds)


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_text() -> bytes:
    """The Prometheus exposition of every metric above."""
    registry = CollectorRegistry()
    if get_settings().metrics_dir:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in (OPERATIONS, LATENCY, REPLY_TIMEOUTS, TRANSFERS, TRANSFER_LATENCY):
            registry.register(metric)
    registry.register(QueueCollector(get_redis(), get_settings().shard_count))
    registry.register(TransferCollector())
    registry.register(HoldCollector())
    return generate_latest(registry)
