"""The ``webhook`` scenario of ``make bench``: the spread load with one endpoint subscribed to
every event, a fast local receiver, and a webhook worker delivering meanwhile. It reports the
rate (beside ``spread``'s without endpoints, in the same run) and the delivery lag, from an
event's time to its request at the receiver: p50 and p99, and the p50 of the first and the
last third of the load (deliveries keep up if it stays flat)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine, text

from deploy.bench.client import KeepAlive
from deploy.processes import free_port, start_webhook_worker, stop, wait_until

_BEHIND = text(
    "SELECT (SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :endpoint AND state <> 'delivered')"
    " + (SELECT count(*) FROM events e, webhook_endpoints w WHERE w.id = :endpoint"
    " AND e.tenant_id IS NOT DISTINCT FROM w.tenant_id"
    " AND (e.txid, e.seq) > (CAST(CAST(w.cursor_txid AS text) AS xid8), w.cursor_seq))"
)
"""Events of the endpoint's tenant not yet delivered, or not yet dispatched."""


class Receiver:
    """A receiver that answers 204 at once and notes each event's lag."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lags: list[tuple[float, float]] = []
        """(arrival, seconds since the event) of each request."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                created = datetime.fromisoformat(json.loads(body)["timestamp"]).timestamp()
                receiver.lags.append((now, now - created))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ms(values: list[float], quantile: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))], 1)


def lag_summary(lags: list[tuple[float, float]], started: float, ended: float) -> dict[str, float]:
    """The lags of the events received while the load ran (``started``..``ended``)."""
    during = [(at, lag) for at, lag in lags if started <= at <= ended]
    third = (ended - started) / 3
    first = [lag for at, lag in during if at < started + third]
    last = [lag for at, lag in during if at > ended - third]
    return {
        "delivered": len(lags),
        "lag_p50_ms": _ms([lag for _, lag in during], 0.5),
        "lag_p99_ms": _ms([lag for _, lag in during], 0.99),
        "lag_p50_first_third_ms": round(1000 * statistics.median(first), 1) if first else 0.0,
        "lag_p50_last_third_ms": round(1000 * statistics.median(last), 1) if last else 0.0,
    }


def with_endpoint(port: int, key: str, engine: Engine, measure: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``measure`` (the spread load) with an endpoint of the bench's tenant subscribed to every
    event and a webhook worker delivering; what it returned, and the lags once all is delivered.
    The endpoint is deleted and the worker stopped after, so other scenarios run without them."""
    receiver = Receiver()
    client = KeepAlive(port, key)
    status, endpoint = client.call("POST", "/api/v1/webhook-endpoints", {"url": f"http://127.0.0.1:{receiver.port}/"})
    assert status == 201, endpoint
    worker = start_webhook_worker()
    try:
        started = time.time()
        result = measure()
        ended = time.time()

        def caught_up() -> bool:
            with engine.connect() as conn:
                return int(conn.execute(_BEHIND, {"endpoint": endpoint["id"]}).scalar_one()) == 0

        wait_until(caught_up, timeout=600, what="every event delivered")
    finally:
        stop(worker)
        KeepAlive(port, key).call("DELETE", f"/api/v1/webhook-endpoints/{endpoint['id']}")
        receiver.stop()
    return result, lag_summary(receiver.lags, started, ended)
