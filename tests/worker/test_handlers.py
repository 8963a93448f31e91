"""The worker's table of handlers (``worker.handlers.HANDLERS``)."""

from __future__ import annotations

from shared.operations import OperationType
from worker.handlers import HANDLERS


def test_every_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(OperationType)
