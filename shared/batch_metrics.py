"""Histograms kept in Redis: the workers count each batch (and the webhook workers each
delivery), the web's ``/metrics`` reads the counts at scrape time (so they cover every worker
on every host).

- ``wallet_batch_size``: operations per batch;
- ``wallet_batch_apply_seconds``: from a batch's claim to its finish (fetch, apply, commit);
- ``wallet_webhook_delivery_lag_seconds``: from an event to its webhook's 2xx.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import redis

from shared import keys


@dataclass(frozen=True, slots=True)
class BatchHistogram:
    """A Prometheus histogram as one Redis hash: a count per bucket (``le_<bound>``, not
    cumulative: summed at scrape), ``count`` and ``sum``."""

    name: str
    help: str
    key: str
    bounds: tuple[float, ...]

    def bucket(self, value: float) -> str:
        """The field ``value`` is counted in."""
        return next((f"le_{bound:g}" for bound in self.bounds if value <= bound), "le_inf")

    def fields(self) -> list[tuple[str, str]]:
        """(Prometheus ``le`` label, Redis field) of every bucket, in order."""
        return [(f"{bound:g}", f"le_{bound:g}") for bound in self.bounds] + [("+Inf", "le_inf")]

    def record(self, pipe: redis.client.Pipeline, *values: float) -> None:
        """Queue on ``pipe`` the counts of ``values`` (a command per bucket they fall in)."""
        if not values:
            return
        for bucket, count in Counter(map(self.bucket, values)).items():
            pipe.hincrby(self.key, bucket, count)
        pipe.hincrby(self.key, "count", len(values))
        pipe.hincrbyfloat(self.key, "sum", sum(values))


BATCH_SIZES = BatchHistogram(
    "wallet_batch_size",
    "Operations per batch applied by the shard workers",
    keys.BATCH_SIZES_KEY,
    (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
BATCH_SECONDS = BatchHistogram(
    "wallet_batch_apply_seconds",
    "Seconds from a batch's claim to its finish (fetch, apply and commit), by the shard workers",
    keys.BATCH_SECONDS_KEY,
    (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
WEBHOOK_LAGS = BatchHistogram(
    "wallet_webhook_delivery_lag_seconds",
    "Seconds from an event to the 2xx of its webhook delivery, by the webhook workers",
    keys.WEBHOOK_LAGS_KEY,
    (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)
HISTOGRAMS = (BATCH_SIZES, BATCH_SECONDS, WEBHOOK_LAGS)
