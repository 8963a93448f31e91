"""Counting Redis round trips: every request, single command or whole pipeline, is one packed send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis.connection


@contextmanager
def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Yields a one-item list holding the number of round trips the calling thread made so far
    (not the process's inbox listener's, which serve every request at once)."""
    counter = [0]
    send = redis.connection.AbstractConnection.send_packed_command
    caller = threading.get_ident()

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        if threading.get_ident() == caller:
            counter[0] += 1
        send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    yield counter
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
