"""What the tests know of events: the events the ledger rows of some wallets must have made
(``shared.events.EVENTS_OF``), to hold the two one to one."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, text

from shared.events import EVENTS_OF
from shared.operations import OperationType
from shared.outcomes import OperationStatus


def events_expected(db: Engine, wallets: Collection[str]) -> set[tuple[str, str]]:
    """(type, subject id) of the event each ledger row of ``wallets`` is, if it is one."""
    expected = set()
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, operation_type, status, transfer_id, hold_id FROM wallet_operations"
                " WHERE wallet_id = ANY(CAST(:wallets AS uuid[]))"
            ),
            {"wallets": list(wallets)},
        )
        for row in rows:
            event_type = EVENTS_OF[OperationType(row.operation_type)].of(OperationStatus(row.status))
            if event_type is not None:
                subject = {"operation": row.id, "transfer": row.transfer_id, "hold": row.hold_id}[
                    event_type.resource.value
                ]
                expected.add((event_type.value, str(subject)))
    return expected


def event_subject(event: dict[str, object]) -> tuple[str, str]:
    """(type, subject id) of an event as the feed or a webhook shows it."""
    data = event["data"]
    assert isinstance(data, dict)
    event_type = str(event["type"])
    field = {"operation": "operation_id", "transfer": "transfer_id", "hold": "hold_id", "wallet": "id"}[
        event_type.partition(".")[0]
    ]
    return event_type, str(data[field])
