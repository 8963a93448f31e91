"""Which shard, and so which queue, a wallet's operations go to.

All operations of one wallet go to one shard queue, which exactly one worker
applies in order: that is what makes per-wallet order FIFO and the writer
free of lock contention.
"""

from __future__ import annotations

from uuid import UUID

QUEUE_PREFIX = "wallets.shard."
"""RQ queue name prefix; the full name is e.g. ``wallets.shard.07``."""


def shard_for(wallet_id: UUID, shard_count: int) -> int:
    """The shard that owns ``wallet_id``; stable for a given ``shard_count``."""
    return wallet_id.int % shard_count


def queue_name(shard: int) -> str:
    return f"{QUEUE_PREFIX}{shard:02d}"
