"""Fault injection for the fault tests: points in the worker's loop where a test can make it
die as ``kill -9`` would, at the one moment a real crash is hardest to recover from.

Armed with ``FAULT_POINT=<point>`` in the worker's environment (``Settings.fault_point``);
never set in a deployment.
"""

from __future__ import annotations

import logging
import os
import signal
from enum import StrEnum

log = logging.getLogger(__name__)


class FaultPoint(StrEnum):
    AFTER_TRANSFER_DEBIT = "after-transfer-debit"
    """A batch with a transfer debit has committed; its credit is not enqueued yet."""


def fault_point(armed: str | None, point: FaultPoint) -> None:
    """Die at once, with SIGKILL, if ``point`` is the armed one."""
    if armed == point.value:
        log.critical("fault point %s reached: killing this worker", point.value)
        os.kill(os.getpid(), signal.SIGKILL)
