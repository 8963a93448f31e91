"""Where a worker's answer goes: the inbox of the web process that waits for it.

Each web process listens on one Redis list of its own, its inbox (``keys.inbox_key``), and
stamps its name on every operation it enqueues (``OperationRequest.reply_to``); the legs a
transfer's debit sets off carry it on. After each batch a worker pushes every answer to its
request's inbox, one RPUSH per inbox, and the inbox lives ``REPLY_TTL`` seconds after the last
(a web process that died leaves nothing behind). An operation nobody enqueued with an inbox (a
sweep's leg, a hold's expiry, a pending record settled) is answered to nobody.

An entry of an inbox is the id of the operation it answers, a space, and the result as
``OperationResult.to_bytes`` writes it: the listener reads the id first and decodes only the
answers a request of its process still waits for. The id is the request's own, which a keyed
retry's result does not carry (it names the key's first operation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from redis.client import Pipeline

from shared import keys
from shared.errors import MalformedMessage
from shared.messages import OperationResult


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the request ``operation_id``, for the inbox ``inbox`` (None: nobody waits)."""

    operation_id: UUID
    inbox: str | None
    result: OperationResult

    def to_bytes(self) -> bytes:
        return f"{self.operation_id} ".encode() + self.result.to_bytes()


def reply_parse(entry: bytes) -> tuple[UUID, bytes]:
    """The id an inbox entry answers, and its result's bytes (``OperationResult.from_bytes``)."""
    head, _, body = entry.partition(b" ")
    try:
        return UUID(head.decode()), body
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(f"bad reply: {entry[:60]!r}") from exc


def replies_push(pipeline: Pipeline, replies: Iterable[Reply], *, ttl: int) -> None:
    """Queue on ``pipeline`` the push of each reply to its inbox: one RPUSH and one EXPIRE per inbox."""
    by_inbox: dict[str, list[bytes]] = defaultdict(list)
    for reply in replies:
        if reply.inbox is not None:
            by_inbox[reply.inbox].append(reply.to_bytes())
    for inbox, entries in by_inbox.items():
        key = keys.inbox_key(inbox)
        pipeline.rpush(key, *entries)
        pipeline.expire(key, ttl)
