"""From events to deliveries, and from due deliveries to jobs: the webhook workers' two chores.

- ``events_dispatch``: each enabled endpoint reads its tenant's feed after its own cursor (in
  ``shared.events.EVENT_ORDER``, settled events only, so none is ever passed over), makes a
  delivery of each event of its types, and moves its cursor on, in one transaction; the
  deliveries are claimed by a new token, which the job enqueued after the commit carries.
- ``deliveries_sweep``: every delivery due (a retry's time has come) and claimed by no live
  job is claimed again, one token per endpoint, and a job enqueued for it.

PostgreSQL is the truth: whatever Redis loses (a job, the whole queue), a delivery stays
pending in the table until a job sends it, and the sweep finds it once its claim lapses
(``shared.webhooks.ENQUEUED_LEASE``). Several webhook workers may run both chores at once:
rows are locked ``SKIP LOCKED``, each goes to one of them.
"""

from __future__ import annotations

import uuid
from uuid import UUID

from sqlalchemy import Connection, text

from shared.events import EVENTS_SETTLED
from shared.webhooks import (
    DELIVERIES_NEW,
    DELIVERIES_PER_JOB,
    ENQUEUED_LEASE,
    DeliveryState,
    EndpointStatus,
    deliveries_claimed_params,
)

DISPATCH_EVERY = 0.2
"""Seconds between two looks at the feed (the floor of a delivery's lag)."""

SWEEP_EVERY = 0.5
"""Seconds between two looks for deliveries due again."""

SWEEP_BATCH = 1000
"""Most deliveries one sweep claims."""

_ENDPOINTS = text(
    "SELECT id, tenant_id, event_types, cursor_txid, cursor_seq FROM webhook_endpoints"
    " WHERE status = :enabled AND deleted_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED"
)
_FEED = (
    "SELECT id, type, created, txid::text::bigint AS txid, seq FROM events WHERE {tenant}"  # noqa: S608 (constants)
    f" AND (txid, seq) > (CAST(CAST(:txid AS text) AS xid8), :seq) AND {EVENTS_SETTLED}"
    " ORDER BY txid, seq LIMIT :limit"
)
_FEED_OF_TENANT = text(_FEED.format(tenant="tenant_id = :tenant"))
_FEED_OF_NO_TENANT = text(_FEED.format(tenant="tenant_id IS NULL"))
_CURSOR = text("UPDATE webhook_endpoints SET cursor_txid = :txid, cursor_seq = :seq WHERE id = :endpoint")
# One claim per endpoint and sweep: md5 of the sweep's token and the endpoint, as a uuid.
_SWEEP = text(
    "WITH due AS ("
    " SELECT id FROM webhook_deliveries WHERE state = :pending AND next_attempt_at <= now()"
    " AND (claimed_until IS NULL OR claimed_until < now()) ORDER BY next_attempt_at LIMIT :limit"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE webhook_deliveries d SET claim = CAST(md5(:sweep || d.endpoint_id::text) AS uuid),"
    " claimed_until = now() + make_interval(secs => :lease) FROM due WHERE d.id = due.id"
    " RETURNING d.endpoint_id, d.claim"
)


def events_dispatch(conn: Connection, *, limit: int = DELIVERIES_PER_JOB) -> list[tuple[UUID, UUID]]:
    """Make the deliveries of the events each endpoint has not seen yet (``limit`` events each at
    most); the (endpoint, claim) of each job to enqueue once this transaction commits."""
    claims: list[tuple[UUID, UUID]] = []
    for endpoint in conn.execute(_ENDPOINTS, {"enabled": EndpointStatus.ENABLED.value}).all():
        position = {"txid": endpoint.cursor_txid, "seq": endpoint.cursor_seq, "limit": limit}
        if endpoint.tenant_id is None:
            events = conn.execute(_FEED_OF_NO_TENANT, position).all()
        else:
            events = conn.execute(_FEED_OF_TENANT, {**position, "tenant": endpoint.tenant_id}).all()
        if not events:
            continue
        types = set(endpoint.event_types.split())
        wanted = [e for e in events if not types or e.type in types]
        if wanted:
            claim = uuid.uuid4()
            conn.exec_driver_sql(
                DELIVERIES_NEW, deliveries_claimed_params(endpoint.id, claim, [(e.id, e.created) for e in wanted])
            )
            claims.append((endpoint.id, claim))
        conn.execute(_CURSOR, {"txid": events[-1].txid, "seq": events[-1].seq, "endpoint": endpoint.id})
    return claims


def deliveries_sweep(conn: Connection, *, limit: int = SWEEP_BATCH) -> list[tuple[UUID, UUID]]:
    """Claim the deliveries due and claimed by no live job; the (endpoint, claim) of each job
    to enqueue once this transaction commits."""
    rows = conn.execute(
        _SWEEP,
        {"pending": DeliveryState.PENDING.value, "limit": limit, "sweep": uuid.uuid4().hex, "lease": ENQUEUED_LEASE},
    )
    return sorted({(row.endpoint_id, row.claim) for row in rows})
