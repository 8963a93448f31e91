"""Pruning events past their retention, with their webhook deliveries and attempts (``worker.retention``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, select, update

from shared.events import EventType
from shared.tables import events, webhook_attempts, webhook_deliveries, webhook_endpoints
from shared.webhooks import DeliveryState
from tests.support.factories import webhook_endpoint
from worker.retention import events_prune


def _event(conn: Connection, endpoint: uuid.UUID, age: timedelta) -> uuid.UUID:
    """An event ``age`` old, delivered once to ``endpoint``."""
    event_id, created = uuid.uuid4(), datetime.now(UTC) - age
    conn.execute(
        insert(events).values(
            id=event_id, type=EventType.WALLET_CREATED.value, wallet_id=uuid.uuid4(), created=created, data={}
        )
    )
    delivery = conn.execute(
        insert(webhook_deliveries)
        .values(endpoint_id=endpoint, event_id=event_id, event_created=created, state=DeliveryState.DELIVERED.value)
        .returning(webhook_deliveries.c.id)
    ).scalar_one()
    conn.execute(
        insert(webhook_attempts).values(
            delivery_id=delivery, endpoint_id=endpoint, event_id=event_id, attempt=1, at=created, latency_ms=3
        )
    )
    return event_id


def test_events_older_than_the_retention_go_with_their_deliveries_and_attempts(db: Engine) -> None:
    endpoint, _ = webhook_endpoint(db, "https://example.com/hook")
    with db.begin() as conn:
        old = [_event(conn, endpoint, timedelta(days=31, minutes=i)) for i in range(3)]
        kept = _event(conn, endpoint, timedelta(days=29))
    with db.begin() as conn:
        assert events_prune(conn, days=30, limit=2) == 2  # a bounded batch
    with db.begin() as conn:
        assert events_prune(conn, days=30, limit=2) == 1
        assert events_prune(conn, days=30) == 0
    with db.connect() as conn:
        for table in (events, webhook_deliveries, webhook_attempts):
            column = table.c.id if table is events else table.c.event_id
            left = set(conn.execute(select(column).where(column.in_([*old, kept]))).scalars())
            assert left == {kept}, table.name
        assert (
            conn.execute(
                select(func.count()).select_from(webhook_endpoints).where(webhook_endpoints.c.id == endpoint)
            ).scalar_one()
            == 1
        )
    with db.begin() as conn:
        conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint).values(deleted_at=func.now()))
