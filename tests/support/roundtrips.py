"""Counting Redis round trips: every request, single command or whole pipeline, is one packed send."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis.connection


@contextmanager
def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Yields a one-item list holding the number of round trips so far."""
    counter = [0]
    send = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        counter[0] += 1
        send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    yield counter
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
