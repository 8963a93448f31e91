"""Every Redis key name this service reads or writes, its own and RQ's.

Every key is built here from a prefix and an id; no other module (the web, the worker, the
bench, the tests) formats one. RQ's own names are pinned by ``tests/worker/test_rq_contract.py``.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from shared.sharding import QUEUE_PREFIX, queue_name

RQ_QUEUE_PREFIX = "rq:queue:"
"""RQ's list of a queue's job ids (the shard queues are ``rq:queue:wallets.shard.NN``)."""

RQ_JOB_PREFIX = "rq:job:"
"""RQ's hash of one job (its id is the operation id)."""

SHARD_QUEUES_PATTERN = f"{RQ_QUEUE_PREFIX}{QUEUE_PREFIX}*"
"""Matches every shard queue (and RQ's ``:intermediate`` lists of them)."""


WEBHOOK_QUEUE = "webhooks"
"""The RQ queue of webhook deliveries (``rq:queue:webhooks``), served by the webhook workers."""

WEBHOOK_QUEUE_KEY = f"{RQ_QUEUE_PREFIX}{WEBHOOK_QUEUE}"

WEBHOOK_RESULTS_KEY = "wallets:webhooks:results"
"""Hash: webhook attempts by result (``shared.webhooks.AttemptResult``), counted by the webhook
workers, read by ``/metrics``."""

WEBHOOK_LAGS_KEY = "wallets:webhooks:lag"
"""Hash: the histogram of delivery lags, from an event's time to its 2xx (``shared.batch_metrics``)."""


def queue_key(shard: int) -> str:
    return f"{RQ_QUEUE_PREFIX}{queue_name(shard)}"


def job_key(job_id: str | UUID) -> str:
    return f"{RQ_JOB_PREFIX}{job_id}"


def worker_name(label: str, pid: int, token: str) -> str:
    """A shard worker's name, as RQ and the leases know it (and part of its processing keys):
    ``label`` says where it runs (``WORKER_NAME``, a pod or slot; the host by default), and the
    pid and a ``token`` drawn at each start keep it from ever being a dead predecessor's name
    (whose claimed operations would look claimed by a live worker and never be requeued)."""
    return f"{worker_prefix(label)}{pid}-{token}"


def worker_prefix(label: str) -> str:
    """How the names of the shard workers labelled ``label`` start (``worker_name``)."""
    return f"wallets-{label}-"


INBOX_PREFIX = "wallets:inbox:"
"""Per web process, the channel its operations' results are published to (``shared.replies``)."""

BELL_PREFIX = "wallets:bell:"
"""Per-shard list the web node rings on every enqueue; idle workers BLPOP it."""

PROCESSING_PREFIX = "wallets:processing:"
"""Per shard and worker, the job ids that worker claimed and has not finished yet."""

WORKERS_KEY = "wallets:workers"
"""Sorted set of live shard workers, scored by their last heartbeat (unix time)."""
MEMBER_TIMEOUT = 3.0
"""Seconds without a heartbeat in ``WORKERS_KEY`` after which a worker no longer counts as live."""

REFUSED_PREFIX = "wallets:refused:"
"""Per operation refused by a rate limit: the refusal, kept ``REFUSED_TTL`` s, so that an
operation the web answered 202 (Redis stalled mid-request) is settled as refused, never applied."""
REFUSED_TTL = 7 * 86400
"""Seconds a refusal is kept: longer than any pending record waits for its shard's worker."""


IDEMPOTENCY_PREFIX = "wallets:idempotency:"
"""Per wallet and Idempotency-Key: the request's fingerprint and the operation it became."""


def idempotency_key(wallet_id: UUID, client_key: str) -> str:
    """The record of a client's Idempotency-Key on a wallet (the key is hashed: any length, no
    control over our key space)."""
    return f"{IDEMPOTENCY_PREFIX}{wallet_id}:{hashlib.sha256(client_key.encode()).hexdigest()[:32]}"


def idempotency_pattern(wallet_id: UUID) -> str:
    """Matches every Idempotency-Key record of a wallet."""
    return f"{IDEMPOTENCY_PREFIX}{wallet_id}:*"


def refused_key(operation_id: UUID) -> str:
    return f"{REFUSED_PREFIX}{operation_id}"


INBOX_NAME_LENGTH = 32
"""A web process's inbox name: 32 lowercase hex digits (``uuid4().hex``)."""


def inbox_name_valid(name: object) -> bool:
    return isinstance(name, str) and len(name) == INBOX_NAME_LENGTH and all(c in "0123456789abcdef" for c in name)


def inbox_key(name: str) -> str:
    return f"{INBOX_PREFIX}{name}"


def bell_key(shard: int) -> str:
    return f"{BELL_PREFIX}{shard:02d}"


def processing_key(shard: int, worker: str) -> str:
    return f"{PROCESSING_PREFIX}{shard:02d}:{worker}"


PROCESSING_PATTERN = f"{PROCESSING_PREFIX}*"
BELL_PATTERN = f"{BELL_PREFIX}*"


BATCH_SIZES_KEY = "wallets:metrics:batch_sizes"
"""Hash of batch-size histogram buckets (``le_<bound>``), ``count`` and ``sum``, kept by the workers."""

BATCH_SECONDS_KEY = "wallets:metrics:batch_seconds"
"""The same for the seconds each batch took from claim to finish (``shared.batch_metrics``)."""

LOGIN_FAILURES_PREFIX = "wallets:login-failures:"
"""Per admin user name, client address or device cookie: login attempts in the current window
that did not succeed (a counter; ``web.wallets.auth.login_guard``)."""


def login_failures_key(kind: str, value: str) -> str:
    """``kind`` is ``user``, ``address`` or ``device``; the value is hashed (any length, any characters)."""
    return f"{LOGIN_FAILURES_PREFIX}{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


RATE_LIMIT_PREFIX = "wallets:rate:"
"""Per API key and limit, one counter per window (``web.wallets.auth.rate_limits``)."""


def rate_limit_key(limit: str, api_key_id: UUID) -> str:
    """The prefix of a key's counters of one limit (the window's number is appended)."""
    return f"{RATE_LIMIT_PREFIX}{limit}:{api_key_id}"


CLAIMERS_PREFIX = "wallets:claimers:"
"""Per shard, the set of workers that have claimed from it (whose processing lists may hold ids)."""


def claimers_key(shard: int) -> str:
    return f"{CLAIMERS_PREFIX}{shard:02d}"
