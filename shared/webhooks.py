"""Webhooks, what the web (endpoints) and the delivering worker agree on: the states, the
secrets and how they sign (the Standard Webhooks specification, v1), the retry schedule, and
which URLs may be called (``shared.webhook_urls``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import redis
from rq import Queue
from rq.serializers import JSONSerializer

from shared import keys

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32
"""Random bytes of a signing secret (the specification asks for 24 to 64)."""

SIGNATURE_VERSION = "v1"

PREVIOUS_SECRET_HOURS = 24
"""Hours a rotated secret keeps signing beside the new one."""

MAX_RETRY_AFTER = 24 * 3600
"""Longest ``Retry-After`` honoured, in seconds (a longer one waits this long)."""


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryState(StrEnum):
    PENDING = "pending"
    """Due at ``next_attempt_at``."""
    DELIVERED = "delivered"
    """A 2xx answered."""
    FAILED = "failed"
    """Every attempt of the schedule failed, or the endpoint was disabled."""


def secret_new() -> str:
    """A signing secret: ``whsec_`` and the base64 of ``SECRET_BYTES`` random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: UUID, timestamp: int, body: bytes) -> str:
    """One ``webhook-signature`` entry: ``v1,`` and the base64 HMAC-SHA256 of
    ``{id}.{timestamp}.{body}`` under the secret's key."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets_: Sequence[str], message_id: UUID, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(signature(s, message_id, timestamp, body) for s in secrets_)


DELIVERY_JOB = "worker.webhooks.jobs.deliveries_send_job"
"""The RQ job function that sends an endpoint's claimed deliveries (the web names it, never
imports it): ``deliveries_send_job(endpoint_id, claim)``."""

JOB_TIMEOUT = 600
"""RQ's timeout of one delivery job (it sends up to ``DELIVERIES_PER_JOB`` requests)."""

DELIVERIES_PER_JOB = 200
"""Most deliveries of one endpoint one job sends, in event order, on one connection."""

ENQUEUED_LEASE = 10.0
"""Seconds a delivery handed to an RQ job stays its: past that with no job having started it
(Redis lost the job), the sweep hands it to a new one."""

_DELIVERIES_CLAIMED = (
    "INSERT INTO webhook_deliveries"
    " (endpoint_id, event_id, event_created, state, next_attempt_at, claim, claimed_until)"
    " SELECT %(endpoint)s, event_id, created, %(pending)s, now(), %(claim)s, now() + make_interval(secs => %(lease)s)"
    " FROM unnest(%(events)s::uuid[], %(created)s::timestamptz[]) AS e(event_id, created)"
    " ON CONFLICT (endpoint_id, event_id) DO "
)
DELIVERIES_NEW = _DELIVERIES_CLAIMED + "NOTHING"
"""Deliveries of ``events`` (ids, and their ``created``) to ``endpoint``, pending and claimed by
``claim`` for the job enqueued once they commit; one made before is left as it is. Parameters in
psycopg2's style (``deliveries_claimed_params``)."""
DELIVERIES_AGAIN = (
    _DELIVERIES_CLAIMED + "UPDATE SET state = excluded.state, next_attempt_at = excluded.next_attempt_at,"
    " claim = excluded.claim, claimed_until = excluded.claimed_until RETURNING id"
)
"""The same, and one made before is pending and claimed again: a retry on request."""


def deliveries_claimed_params(
    endpoint: UUID, claim: UUID, events: Sequence[tuple[UUID, datetime]]
) -> dict[str, object]:
    """The parameters of ``DELIVERIES_NEW`` and ``DELIVERIES_AGAIN``: (id, created) of each event."""
    return {
        "endpoint": str(endpoint),
        "claim": str(claim),
        "pending": DeliveryState.PENDING.value,
        "lease": ENQUEUED_LEASE,
        "events": [str(event) for event, _ in events],
        "created": [created for _, created in events],
    }


class AttemptResult(StrEnum):
    """What one attempt came to (the ``/metrics`` label)."""

    DELIVERED = "delivered"
    """A 2xx."""
    REFUSED = "refused"
    """Another status."""
    UNREACHABLE = "unreachable"
    """No answer: a timeout, a connection error, or an address the rules refuse."""


def deliveries_enqueue(connection: redis.Redis, claims: Sequence[tuple[UUID, UUID]], *, result_ttl: int) -> None:
    """Queue one ``DELIVERY_JOB`` per (endpoint, claim) on the webhooks queue, in one round trip."""
    if not claims:
        return
    queue = Queue(keys.WEBHOOK_QUEUE, connection=connection, serializer=JSONSerializer)
    with connection.pipeline() as pipe:
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    DELIVERY_JOB,
                    args=(str(endpoint), str(claim)),
                    job_id=f"webhook-{claim}",
                    result_ttl=result_ttl,
                    timeout=JOB_TIMEOUT,
                    description=f"deliveries of endpoint {endpoint}",
                )
                for endpoint, claim in claims
            ],
            pipeline=pipe,
        )
        pipe.execute()
