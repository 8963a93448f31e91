"""Redis key names this service owns (RQ names its own keys).

Every key is built here from a prefix and an id; no other module formats one.
"""

from __future__ import annotations

from uuid import UUID

REPLY_PREFIX = "wallets:reply:"
"""List the worker pushes an operation's result to; the web node BLPOPs it."""

BELL_PREFIX = "wallets:bell:"
"""Per-shard list the web node rings on every enqueue; idle workers BLPOP it."""

PROCESSING_PREFIX = "wallets:processing:"
"""Per shard and worker, the job ids that worker claimed and has not finished yet."""

WORKERS_KEY = "wallets:workers"
"""Sorted set of live shard workers, scored by their last heartbeat (unix time)."""


IDEMPOTENCY_PREFIX = "wallets:idempotency:"
"""Per wallet and Idempotency-Key: the request's fingerprint and the operation it became."""


def idempotency_key(wallet_id: UUID, key_digest: str) -> str:
    return f"{IDEMPOTENCY_PREFIX}{wallet_id}:{key_digest}"


def reply_key(operation_id: UUID) -> str:
    return f"{REPLY_PREFIX}{operation_id}"


def bell_key(shard: int) -> str:
    return f"{BELL_PREFIX}{shard:02d}"


def processing_key(shard: int, worker: str) -> str:
    return f"{PROCESSING_PREFIX}{shard:02d}:{worker}"


BATCH_SIZES_KEY = "wallets:metrics:batch_sizes"
"""Hash of batch-size histogram buckets (``le_<bound>``), ``count`` and ``sum``, kept by the workers."""

CLAIMERS_PREFIX = "wallets:claimers:"
"""Per shard, the set of workers that have claimed from it (whose processing lists may hold ids)."""


def claimers_key(shard: int) -> str:
    return f"{CLAIMERS_PREFIX}{shard:02d}"
