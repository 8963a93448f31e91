"""The events feed (``GET /api/v1/events``): a tenant's events, oldest first, with no gaps.

Events are read in ``shared.events.EVENT_ORDER`` and only once settled (``EVENTS_SETTLED``):
a page never shows an event a later commit could put behind it, so a client that follows the
cursors sees every event exactly once, whichever shard's writer committed first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.events import EVENT_READ, EVENTS_SETTLED, EventType, StoredEvent
from web.database import read_all
from web.wallets.auth.api_keys import Caller
from web.wallets.money.selectors import wallet_ensure_reachable

_POSITION = struct.Struct(">QQ")


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    """Where the feed stands: after the event of transaction ``txid``, row ``seq``."""

    txid: int
    seq: int

    def as_uuid(self) -> UUID:
        """The position in 16 bytes, as the API's cursors carry it (``resources.cursor_json``)."""
        return UUID(bytes=_POSITION.pack(self.txid, self.seq))

    @classmethod
    def from_uuid(cls, value: UUID) -> FeedPosition:
        return cls(*_POSITION.unpack(value.bytes))


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[dict[str, Any]]
    after: FeedPosition | None
    """Where the next page starts: after the last event of this one (else where this one did)."""
    has_more: bool


def events_list(
    *,
    caller: Caller,
    after: FeedPosition | None,
    event_type: EventType | None,
    wallet_id: UUID | None,
    limit: int,
) -> EventsPage:
    """A page of the caller's tenant's events after ``after``, oldest first; of one type, or of
    one wallet (as the wallet that changed or a transfer's other wallet), if asked."""
    if wallet_id is not None:
        wallet_ensure_reachable(wallet_id=wallet_id, caller=caller)
    conditions = ["e.tenant_id IS NULL" if caller.tenant_id is None else "e.tenant_id = %s", f"e.{EVENTS_SETTLED}"]
    params: list[Any] = [] if caller.tenant_id is None else [caller.tenant_id]
    if after is not None:
        conditions.append("(e.txid, e.seq) > (%s::text::xid8, %s)")
        params += [after.txid, after.seq]
    if event_type is not None:
        conditions.append("e.type = %s")
        params.append(event_type.value)
    if wallet_id is not None:
        conditions.append("(e.wallet_id = %s OR e.counterparty_id = %s)")
        params += [str(wallet_id), str(wallet_id)]
    sql = f"{EVENT_READ} WHERE {' AND '.join(conditions)} ORDER BY e.txid, e.seq LIMIT %s"
    rows = [StoredEvent.from_values(row) for row in read_all(sql, (*params, limit + 1), limit + 1)]
    page = rows[:limit]
    last = FeedPosition(page[-1].txid, page[-1].seq) if page else after
    return EventsPage([event.to_json() for event in page], last, len(rows) > limit)
