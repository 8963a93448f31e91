from __future__ import annotations

import uuid
from decimal import Decimal

import fakeredis
import pytest

from shared import keys
from shared.errors import MalformedMessage
from shared.messages import OperationResult
from shared.outcomes import OperationStatus
from shared.replies import Reply, replies_entries, replies_push, reply_parse


def _result(balance: str) -> OperationResult:
    return OperationResult(uuid.uuid4(), OperationStatus.APPLIED, Decimal(balance))


def test_an_entry_names_the_request_it_answers_then_the_result() -> None:
    asked = uuid.uuid4()
    result = _result("3.00")  # a keyed retry's result names another operation
    entry = Reply(asked, "a" * 32, result).to_bytes()
    assert entry.startswith(f"{asked} {{".encode())
    operation_id, body = reply_parse(entry)
    assert (operation_id, OperationResult.from_bytes(body)) == (asked, result)


@pytest.mark.parametrize("entry", [b"", b"not-an-id {}", b"\xff\xfe {}"])
def test_a_malformed_entry_is_refused(entry: bytes) -> None:
    with pytest.raises(MalformedMessage):
        reply_parse(entry)


def test_a_batch_sends_one_message_per_inbox_and_none_without_one() -> None:
    connection = fakeredis.FakeRedis()
    first, second = "1" * 32, "2" * 32
    listeners = {name: connection.pubsub() for name in (first, second)}
    for name, pubsub in listeners.items():
        pubsub.subscribe(keys.inbox_key(name))
        assert pubsub.get_message(timeout=1) is not None  # the confirmation
    replies = [
        Reply(uuid.uuid4(), first, _result("1.00")),
        Reply(uuid.uuid4(), second, _result("2.00")),
        Reply(uuid.uuid4(), None, _result("3.00")),  # a sweep's leg: nobody waits
        Reply(uuid.uuid4(), first, _result("4.00")),
    ]
    with connection.pipeline(transaction=False) as pipe:
        replies_push(pipe, replies)
        assert [command[0][0] for command in pipe.command_stack] == ["PUBLISH", "PUBLISH"]
        pipe.execute()

    def entries(name: str) -> list[bytes]:
        message = listeners[name].get_message(timeout=1)
        assert message is not None
        assert listeners[name].get_message(timeout=0.05) is None  # one message per batch
        return replies_entries(message["data"])

    assert entries(first) == [replies[0].to_bytes(), replies[3].to_bytes()]
    assert entries(second) == [replies[1].to_bytes()]
