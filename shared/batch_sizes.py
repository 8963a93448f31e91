"""The batch-size histogram: the workers count each batch in Redis, the web's ``/metrics``
reads the counts (``wallet_batch_size``) at scrape time."""

from __future__ import annotations

BATCH_SIZE_BOUNDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Upper bounds of the histogram's buckets."""


def batch_size_bucket(size: int) -> str:
    """The field of ``keys.BATCH_SIZES_KEY`` a batch of ``size`` is counted in (non-cumulative;
    summed at scrape)."""
    return next((f"le_{bound}" for bound in BATCH_SIZE_BOUNDS if size <= bound), "le_inf")


def bucket_fields() -> list[tuple[str, str]]:
    """(Prometheus ``le`` label, Redis field) of every bucket, in order."""
    return [(str(bound), f"le_{bound}") for bound in BATCH_SIZE_BOUNDS] + [("+Inf", "le_inf")]
