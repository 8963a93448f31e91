from __future__ import annotations

import uuid
from collections import Counter

from shared.sharding import queue_name, shard_for


def test_shard_is_stable_and_in_range() -> None:
    wallet = uuid.UUID("0b7e6f0e-5e0c-4a4c-9a55-7c1d3c0c1d07")
    assert shard_for(wallet, 16) == wallet.int % 16 == shard_for(uuid.UUID(str(wallet)), 16)
    assert shard_for(uuid.UUID(int=2**128 - 1), 16) == 15
    assert shard_for(uuid.UUID(int=16 * 12345 + 7), 16) == 7
    assert shard_for(uuid.UUID(int=16 * 12345 + 7), 5) == (16 * 12345 + 7) % 5


def test_random_wallets_spread_evenly() -> None:
    counts = Counter(shard_for(uuid.uuid4(), 16) for _ in range(16_000))
    assert len(counts) == 16
    assert min(counts.values()) > 800


def test_queue_names() -> None:
    assert queue_name(7) == "wallets.shard.07"
