"""Which Redis master and which PostgreSQL host this process is using, and the failovers it has
seen: a server other than the last one answering as the master (Redis, through the Sentinels)
or as the primary (PostgreSQL, through libpq's host list).

The connections report where they connected (``shared.connections``); ``/readyz`` and
``/metrics`` show it. A process counts a failover once, when its first new connection lands
on the new server, and logs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)


class Backend(StrEnum):
    REDIS = "redis"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class InUse:
    """What one backend looks like from this process."""

    address: str | None
    """``host:port`` of the server its latest connection reached (None: none yet)."""
    failovers: int
    """Times a connection reached another server than the one before."""


Listener = Callable[[Backend, InUse], None]

_lock = threading.Lock()
_addresses: dict[Backend, str] = {}
_failovers: dict[Backend, int] = dict.fromkeys(Backend, 0)
_listeners: list[Listener] = []


def connected(backend: Backend, address: str) -> None:
    """A connection of ``backend`` reached ``address``: a failover if the one before reached
    another server."""
    with _lock:
        before = _addresses.get(backend)
        if before == address:
            return
        _addresses[backend] = address
        if before is not None:
            _failovers[backend] += 1
        now = InUse(address, _failovers[backend])
        listeners = list(_listeners)
    if before is not None:
        log.warning("%s failover seen: %s -> %s", backend.value, before, address)
    for listener in listeners:
        listener(backend, now)


def in_use(backend: Backend) -> InUse:
    with _lock:
        return InUse(_addresses.get(backend), _failovers[backend])


def listen(listener: Listener) -> None:
    """Call ``listener`` whenever a backend's server changes (``/metrics`` keeps its gauges so)."""
    with _lock:
        _listeners.append(listener)
