"""``Idempotency-Key`` on the web node (Stripe's semantics).

The first request with a key records the request's fingerprint and the
operation id it becomes, atomically with enqueueing that operation
(``web.wallets.money.queueing.operation_send``). A retry with the same key and the
same request is answered from the ledger with the original result (waiting for
it while it is in flight, then 409); with a different request, 422. Keys are
scoped to their wallet (a transfer's, to its source wallet). The ledger is the durable record: its unique
``(wallet_id, idempotency_key)`` index outlives the Redis record
(``IDEMPOTENCY_TTL``, 24 h), and the worker answers a retry whose Redis record was
lost from the original ledger row (``worker.apply``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from uuid import UUID

import redis

from shared import keys
from shared.errors import InvalidRequest
from web.wallets.error_codes import INVALID_KEY
from web.wallets.money.queueing import KeyRecord

_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True, slots=True)
class KeyClaim:
    fingerprint: str
    operation_id: UUID


def parse_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise InvalidRequest(INVALID_KEY)
    return value


def request_fingerprint(wallet_id: UUID, identity: str) -> str:
    """What makes two requests "the same request": the wallet and the request's
    ``shared.messages.request_identity`` (kind, amount, other wallet, hold, duration)."""
    return hashlib.sha256(f"{wallet_id}|{identity}".encode()).hexdigest()[:32]


def idempotency_record(*, wallet_id: UUID, key: str, claim: KeyClaim, ttl: int) -> KeyRecord:
    """The Redis record that makes ``key`` name ``claim`` (stored only if the key is new)."""
    return KeyRecord(
        key=keys.idempotency_key(wallet_id, key),
        value=f"{claim.fingerprint}|{claim.operation_id}",
        ttl=ttl,
    )


def key_claim_get(connection: redis.Redis, *, wallet_id: UUID, key: str) -> KeyClaim | None:
    """What the Redis record of a wallet's ``key`` names, if it is there (None if not, or if
    Redis does not answer: the caller's own send finds out)."""
    try:
        stored = connection.get(keys.idempotency_key(wallet_id, key))
    except redis.RedisError:
        return None
    if stored is None:
        return None
    return claim_parse(stored.decode() if isinstance(stored, bytes) else str(stored))


def claim_parse(stored: str) -> KeyClaim:
    fingerprint, operation_id = stored.split("|", 1)
    return KeyClaim(fingerprint=fingerprint, operation_id=UUID(operation_id))
