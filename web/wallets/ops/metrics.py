"""Prometheus metrics, served at ``/metrics``.

Measured in the web processes (prometheus_client; multiprocess mode when
``PROMETHEUS_MULTIPROC_DIR`` is set, as ``deploy/gunicorn.conf.py`` does):
operations by type and outcome, end-to-end latency, reply timeouts; transfers by the state
they were answered in, and their latency; failovers of Redis and PostgreSQL seen, and (from
the process scraped) which master and which primary it uses.
Read from Redis at scrape time, so they cover every worker on every host:
queue depth per shard, batch sizes, which worker owns which shard, webhook attempts by result
and delivery lags, the webhooks queue. Read from PostgreSQL at scrape time: the transfers
pending and their money, active holds, each webhook endpoint's oldest undelivered event.
Those scrape-time readings (and the web processes' CPU and memory, from ``/proc``) are taken
at most once per ``SCRAPE_READINGS_TTL`` seconds per process (``ScrapeReadings``): many
scrapers cost PostgreSQL, Redis and the requests beside them one reading a window, while the
counters above stay live.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from shared import failovers, keys
from shared.batch_metrics import HISTOGRAMS
from shared.config import get_settings
from shared.connections import get_redis
from shared.errors import ServiceUnavailable
from shared.failovers import Backend, InUse
from shared.messages import OperationResult
from shared.operations import OperationType
from shared.rq_contract import failed_count
from shared.transfers import TransferState
from shared.webhooks import AttemptResult
from web.wallets.money.selectors import holds_active_get, transfers_pending_get
from web.wallets.money.webhooks import deliveries_oldest_get, endpoints_disabled_get
from web.wallets.ops.process_metrics import WebProcessesCollector
from web.wallets.ops.readiness import readings_get

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
HTTP_REQUESTS = Counter(
    "wallet_http_requests_total",
    "HTTP requests answered by the web nodes, by method, route and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "wallet_http_request_seconds",
    "Time from a request reaching Django to its answer, by route",
    ["route"],
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
FAILOVERS = Gauge(
    "wallet_failovers_seen",
    "Failovers of Redis (a new master) or PostgreSQL (a new primary) seen by a web process: the most any saw",
    ["backend"],
    multiprocess_mode="max",
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name (any other is ``other``: a client cannot grow the label set)."""


SCRAPE_READINGS_TTL = 2.0
"""Seconds a web process answers scrapes with the same scrape-time readings."""


class ScrapeReadings:
    """The metrics of ``collectors()`` (PostgreSQL, Redis, ``/proc``), read at most once per
    ``ttl`` seconds and shared by every scrape in between."""

    def __init__(self, collectors: Callable[[], list[Collector]], ttl: float) -> None:
        self.collectors = collectors
        self.ttl = ttl
        self.metrics: list[Metric] = []
        self.taken = -float("inf")

    def collect(self) -> Iterator[Metric]:
        now = time.monotonic()
        if now - self.taken >= self.ttl:
            self.metrics = [metric for collector in self.collectors() for metric in collector.collect()]
            self.taken = now
        return iter(self.metrics)

    def clear(self) -> None:
        """Forget the readings: the next scrape reads afresh."""
        self.taken = -float("inf")


class QueueCollector(Collector):
    """What the shard workers are doing, from Redis, at scrape time."""

    def __init__(self, connection: redis.Redis, shard_count: int) -> None:
        self.connection = connection
        self.shard_count = shard_count

    def collect(self) -> Iterator[Metric]:
        with self.connection.pipeline(transaction=False) as pipe:
            for shard in range(self.shard_count):
                pipe.llen(keys.queue_key(shard))
            for histogram in HISTOGRAMS:
                pipe.hgetall(histogram.key)
            replies = pipe.execute()
        depths, counted = replies[: self.shard_count], replies[self.shard_count :]
        depth = GaugeMetricFamily("wallet_queue_depth", "Operations waiting in each shard queue", labels=["shard"])
        for shard, length in enumerate(depths):
            depth.add_metric([f"{shard:02d}"], float(length))
        yield depth

        for histogram, raw in zip(HISTOGRAMS, counted, strict=True):
            counts = {field.decode(): float(value) for field, value in raw.items()}
            cumulative, buckets = 0.0, []
            for label, field in histogram.fields():
                cumulative += counts.get(field, 0.0)
                buckets.append((label, cumulative))
            family = HistogramMetricFamily(histogram.name, histogram.help)
            family.add_metric([], buckets, sum_value=counts.get("sum", 0.0))
            yield family

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
            # One series per shard whoever holds it: the same label set across restarts, and no
            # host or pid in the scrape (rq-dashboard shows which worker serves which shard).
            owned = GaugeMetricFamily(
                "wallet_shard_owned", "1 while a worker holds the shard's lease, else 0", labels=["shard"]
            )
            for shard in range(self.shard_count):
                owned.add_metric([f"{shard:02d}"], 0.0 if shard in readings.unowned else 1.0)
            yield owned
            yield GaugeMetricFamily(
                "wallet_workers_live", "Shard workers with a recent heartbeat", value=readings.live_workers
            )
            yield GaugeMetricFamily(
                "wallet_workers_suspended",
                "1 while rq suspend holds the shard workers (operations wait in the queues), else 0",
                value=float(readings.suspended),
            )

        yield GaugeMetricFamily(
            "wallet_failed_jobs",
            "Operations in the shard queues' failed registries (poison messages: rq-dashboard lists them)",
            value=failed_count(self.connection, self.shard_count),
        )


class BackendCollector(Collector):
    """Which Redis master and which PostgreSQL host the scraped process uses (``shared.failovers``),
    as ``wallet_backend_info{backend, address} 1``."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "wallet_backend_info", "The server the scraped web process uses, by backend", labels=["backend", "address"]
        )
        for backend in Backend:
            family.add_metric([backend.value, failovers.in_use(backend).address or ""], 1)
        yield family


def _failover_seen(backend: Backend, now: InUse) -> None:
    FAILOVERS.labels(backend.value).set(now.failovers)


failovers.listen(_failover_seen)
for _backend in Backend:
    FAILOVERS.labels(_backend.value).set(0)


class TransferCollector(Collector):
    """Transfers whose money is between two wallets, from PostgreSQL, at scrape time."""

    def collect(self) -> Iterator[Metric]:
        try:
            pending = transfers_pending_get()
        except ServiceUnavailable:
            return  # the scrape still shows the queues
        yield GaugeMetricFamily(
            "wallet_transfers_pending", "Transfers debited and not yet credited", value=pending.count
        )
        yield _by_currency(
            "wallet_transfers_pending_amount", "Money of the pending transfers (between wallets)", pending.amounts
        )
        yield GaugeMetricFamily(
            "wallet_transfers_stalled",
            "Pending transfers the sweep set aside for an operator (the admin's transfers, filtered by Stalled)",
            value=pending.stalled,
        )


class HoldCollector(Collector):
    """Active holds and the money they set aside, from PostgreSQL, at scrape time."""

    def collect(self) -> Iterator[Metric]:
        try:
            active = holds_active_get()
        except ServiceUnavailable:
            return
        yield GaugeMetricFamily("wallet_holds_active", "Holds not yet captured, voided or expired", value=active.count)
        yield _by_currency(
            "wallet_holds_active_amount", "Money set aside by active holds (not available)", active.amounts
        )


def _by_currency(name: str, documentation: str, amounts: dict[str, Decimal]) -> GaugeMetricFamily:
    """A gauge of money with one sample per currency (money of different currencies is never
    summed); ``DEFAULT_CURRENCY``'s always, 0 when there is none, so the series exists."""
    gauge = GaugeMetricFamily(name, f"{documentation}, by currency", labels=["currency"])
    for currency, amount in sorted({get_settings().default_currency: Decimal(0), **amounts}.items()):
        gauge.add_metric([currency], float(amount))
    return gauge


class WebhookCollector(Collector):
    """Webhook deliveries: attempts by result and the webhooks queue from Redis, the oldest
    undelivered event of each endpoint and the disabled endpoints from PostgreSQL."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def collect(self) -> Iterator[Metric]:
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.WEBHOOK_RESULTS_KEY)
            pipe.llen(keys.WEBHOOK_QUEUE_KEY)
            results, depth = pipe.execute()
        attempts = CounterMetricFamily(
            "wallet_webhook_attempts", "Webhook delivery attempts, by result", labels=["result"]
        )
        counted = {field.decode(): float(value) for field, value in results.items()}
        for result in AttemptResult:
            attempts.add_metric([result.value], counted.get(result.value, 0.0))
        yield attempts
        yield GaugeMetricFamily(
            "wallet_webhook_queue_depth", "Delivery jobs waiting in the webhooks queue", value=depth
        )
        try:
            oldest, disabled = deliveries_oldest_get(), endpoints_disabled_get()
        except ServiceUnavailable:
            return
        age = GaugeMetricFamily(
            "wallet_webhook_endpoint_oldest_undelivered_seconds",
            "Age of the oldest event not yet delivered to each endpoint (absent: none waits)",
            labels=["endpoint"],
        )
        for endpoint, seconds in oldest:
            age.add_metric([endpoint], seconds)
        yield age
        yield GaugeMetricFamily(
            "wallet_webhook_oldest_undelivered_seconds",
            "Age of the oldest event not yet delivered to any endpoint (0: none waits)",
            value=max((seconds for _, seconds in oldest), default=0.0),
        )
        yield GaugeMetricFamily(
            "wallet_webhook_endpoints_disabled",
            "Webhook endpoints disabled (410 Gone, or failing too long)",
            value=disabled,
        )


def record(operation_type: OperationType, result: OperationResult | None, seconds: float) -> None:
    """Count one answered operation (None: answered 202, its reply late)."""
    outcome = "pending" if result is None else result.status.value
    OPERATIONS.labels(operation_type.value, outcome).inc()
    LATENCY.observe(seconds)
    if result is None:
        REPLY_TIMEOUTS.inc()


_http_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
"""Each label set's counter and histogram, looked up once (``labels()`` costs a lock and a
few microseconds on every request; the sets are bounded: routes, seven methods, statuses)."""


def http_record(method: str, route: str, status: int, seconds: float) -> None:
    """Count one HTTP answer (``route``: the matched route's name, see ``middleware``)."""
    key = (method if method in METHODS else "other", route, status)
    children = _http_children.get(key)
    if children is None:
        children = _http_children[key] = HTTP_REQUESTS.labels(*key[:2], str(status)), HTTP_LATENCY.labels(route)
    children[0].inc()
    children[1].observe(seconds)


def transfer_record(state: TransferState, seconds: float) -> None:
    """Count one answered transfer, by the state it was answered in."""
    TRANSFERS.labels(state.value).inc()
    TRANSFER_LATENCY.observe(seconds)


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>`` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _scrape_time_collectors() -> list[Collector]:
    settings = get_settings()
    collectors: list[Collector] = [
        QueueCollector(get_redis(), settings.shard_count),
        TransferCollector(),
        HoldCollector(),
        WebhookCollector(get_redis()),
    ]
    if settings.metrics_dir:
        collectors.append(WebProcessesCollector(master=os.getppid()))  # gunicorn's master
    return collectors


READINGS = ScrapeReadings(_scrape_time_collectors, SCRAPE_READINGS_TTL)
"""This process's scrape-time readings."""


def metrics_text() -> bytes:
    """The Prometheus exposition of every metric above."""
    registry = CollectorRegistry()
    if get_settings().metrics_dir:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in (OPERATIONS, LATENCY, REPLY_TIMEOUTS, TRANSFERS, TRANSFER_LATENCY, HTTP_REQUESTS, HTTP_LATENCY):
            registry.register(metric)
        registry.register(FAILOVERS)
        ProcessCollector(registry=registry)  # this process: it is the whole web node here
    registry.register(READINGS)
    registry.register(BackendCollector())  # live: a failover shows at the next scrape
    return generate_latest(registry)
