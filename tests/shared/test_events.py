"""Events' types, ids and wire formats (``shared.events``)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from shared.events import EVENTS_OF, EventType, KindEvents, Resource, event_id, event_json, webhook_payload
from shared.operations import OperationType
from shared.outcomes import OperationStatus


def test_every_kind_says_which_event_its_decisions_are() -> None:
    assert set(EVENTS_OF) == set(OperationType)
    assert EVENTS_OF[OperationType.TRANSFER_OUT] == KindEvents(None, EventType.TRANSFER_FAILED)
    assert EVENTS_OF[OperationType.TRANSFER_IN].of(OperationStatus.APPLIED) is EventType.TRANSFER_COMPLETED
    assert EVENTS_OF[OperationType.TRANSFER_IN].of(OperationStatus.REJECTED) is None
    # Every type but wallet.created is some kind's decision.
    made = {e for k in EVENTS_OF.values() for e in (k.applied, k.rejected) if e is not None}
    assert made == set(EventType) - {EventType.WALLET_CREATED}


def test_an_event_type_names_its_resource() -> None:
    assert [t.resource for t in EventType] == [
        Resource.WALLET,
        Resource.WALLET,
        Resource.OPERATION,
        Resource.OPERATION,
        Resource.TRANSFER,
        Resource.TRANSFER,
        Resource.HOLD,
        Resource.HOLD,
        Resource.HOLD,
        Resource.HOLD,
    ]


def test_an_event_id_is_one_per_type_and_subject_forever() -> None:
    subject = uuid.UUID("8d6c5a02-81c8-4b1e-9a31-6c8f0b0c8d11")
    assert event_id(EventType.HOLD_CAPTURED, subject) == event_id(EventType.HOLD_CAPTURED, subject)
    assert event_id(EventType.HOLD_CAPTURED, subject) != event_id(EventType.HOLD_CREATED, subject)
    # Fixed by its namespace: a published id never changes.
    assert event_id(EventType.HOLD_CAPTURED, subject) == uuid.UUID("1127b86b-1cc0-52ee-916d-cfd6b42e3109")


def test_the_feed_and_the_webhook_body_carry_the_same_event() -> None:
    created = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
    data = {"operation_id": "x", "amount": "1.00"}
    the_id = uuid.uuid4()
    assert event_json(the_id, "operation.applied", created, data) == {
        "id": str(the_id),
        "type": "operation.applied",
        "created": "2026-12-06T12:00:00.123456+00:00",
        "data": data,
    }
    body = webhook_payload("operation.applied", created, data)
    assert json.loads(body) == {
        "type": "operation.applied",
        "timestamp": "2026-12-06T12:00:00.123456+00:00",
        "data": data,
    }
    assert list(json.loads(body)["data"]) == ["operation_id", "amount"]  # in the order written
