"""The events feed (``GET /api/v1/events``): a tenant's events, oldest first, with no gaps.

Events are read in ``shared.events.EVENT_ORDER`` and only once settled (``EVENTS_SETTLED``):
a page never shows an event a later commit could put behind it, so a client that follows the
cursors sees every event exactly once, whichever shard's writer committed first.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared.events import EVENTS_SETTLED, EventType, event_json
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
    conditions = ["tenant_id IS NULL" if caller.tenant_id is None else "tenant_id = %s", EVENTS_SETTLED]
    params: list[Any] = [] if caller.tenant_id is None else [caller.tenant_id]
    if after is not None:
        conditions.append("(txid, seq) > (%s::text::xid8, %s)")
        params += [after.txid, after.seq]
    if event_type is not None:
        conditions.append("type = %s")
        params.append(event_type.value)
    if wallet_id is not None:
        conditions.append("(wallet_id = %s OR counterparty_id = %s)")
        params += [str(wallet_id), str(wallet_id)]
    sql = (
        "SELECT id, type, created, data::text, txid::text, seq FROM events"  # noqa: S608 (constant conditions)
        f" WHERE {' AND '.join(conditions)} ORDER BY txid, seq LIMIT %s"
    )
    rows = read_all(sql, (*params, limit + 1), limit + 1)
    page = rows[:limit]
    events = [event_json(UUID(str(id_)), type_, created, json.loads(data)) for id_, type_, created, data, _, _ in page]
    last = FeedPosition(int(page[-1][4]), int(page[-1][5])) if page else after
    return EventsPage(events, last, len(rows) > limit)
