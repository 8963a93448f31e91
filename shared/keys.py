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
"""Per-shard list of job ids a worker has claimed but not yet finished."""


def reply_key(operation_id: UUID) -> str:
    return f"{REPLY_PREFIX}{operation_id}"


def bell_key(shard: int) -> str:
    return f"{BELL_PREFIX}{shard:02d}"


def processing_key(shard: int) -> str:
    return f"{PROCESSING_PREFIX}{shard:02d}"
