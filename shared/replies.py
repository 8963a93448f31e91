"""Where a worker's answer goes: the inbox of the web process that waits for it.

Each web process listens on one Redis channel of its own, its inbox (``keys.inbox_key``), and
stamps its name on every operation it enqueues (``OperationRequest.reply_to``); the legs a
transfer's debit sets off carry it on. After each batch a worker publishes the answers to each
inbox in one message (``replies_push``): a web process that is gone leaves nothing behind. An
operation nobody enqueued with an inbox (a sweep's leg, a hold's expiry, a pending record
settled) is answered to nobody.

A message is its entries joined by newlines. An entry is the id of the operation it answers, a
space, and the result as ``OperationResult.to_bytes`` writes it (compact JSON: no newline): the
listener reads the id first and decodes only the answers a request of its process waits for.
The id is the request's own, which a keyed retry's result does not carry (it names the key's
first operation).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from redis.client import Pipeline

from shared import keys
from shared.errors import MalformedMessage
from shared.messages import OperationRequest, OperationResult


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to the request ``operation_id``, for the inbox ``inbox`` (None: nobody waits)."""

    operation_id: UUID
    inbox: str | None
    result: OperationResult

    @classmethod
    def to(cls, request: OperationRequest, result: OperationResult) -> Reply:
        """``result``, for the inbox of the web process that enqueued ``request``."""
        return cls(request.operation_id, request.reply_to, result)

    def to_bytes(self) -> bytes:
        return f"{self.operation_id} ".encode() + self.result.to_bytes()


def reply_parse(entry: bytes) -> tuple[UUID, bytes]:
    """The id an inbox entry answers, and its result's bytes (``OperationResult.from_bytes``)."""
    head, _, body = entry.partition(b" ")
    try:
        return UUID(head.decode()), body
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage(f"bad reply: {entry[:60]!r}") from exc


def replies_entries(message: bytes) -> list[bytes]:
    """The entries of one message to an inbox."""
    return message.split(b"\n")


def replies_push(pipeline: Pipeline, replies: Iterable[Reply]) -> None:
    """Queue on ``pipeline`` the publication of the replies: one message per inbox."""
    by_inbox: dict[str, list[bytes]] = defaultdict(list)
    for reply in replies:
        if reply.inbox is not None:
            by_inbox[reply.inbox].append(reply.to_bytes())
    for inbox, entries in by_inbox.items():
        pipeline.publish(keys.inbox_key(inbox), b"\n".join(entries))
