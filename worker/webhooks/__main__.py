"""Run a webhook worker: ``python -m worker.webhooks``.

An RQ worker of the ``webhooks`` queue (rq-dashboard lists it and the queue), which sends each
job's deliveries (``worker.webhooks.jobs``), with a thread beside it that dispatches new events
and sweeps deliveries due again (``worker.webhooks.dispatch``). Start as many as you like: the
chores share their rows (``SKIP LOCKED``), the queue its jobs. No money is written here.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable

import redis
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared import keys
from shared.config import Settings, get_settings
from shared.connections import redis_from_settings
from shared.logs import configure as configure_logs
from shared.webhooks import deliveries_enqueue
from worker.webhooks import jobs
from worker.webhooks.dispatch import DISPATCH_EVERY, SWEEP_EVERY, deliveries_sweep, events_dispatch

log = logging.getLogger("worker.webhooks")


class Dispatcher(threading.Thread):
    """The chores' thread: dispatch every ``DISPATCH_EVERY`` s, sweep every ``SWEEP_EVERY`` s."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(name="webhook-dispatcher", daemon=True)
        self.engine = engine
        self.settings = settings
        self.connection = redis_from_settings(settings)
        self.stopping = threading.Event()

    def run(self) -> None:
        next_sweep = 0.0
        while not self.stopping.is_set():
            self.turn(sweep=time.monotonic() >= next_sweep)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + SWEEP_EVERY
            self.stopping.wait(DISPATCH_EVERY)

    def turn(self, *, sweep: bool) -> None:
        """One dispatch (and sweep): their jobs are enqueued once the claims are committed."""
        try:
            with self.engine.begin() as conn:
                claims = events_dispatch(conn)
            if sweep:
                with self.engine.begin() as conn:
                    claims += deliveries_sweep(conn)
            deliveries_enqueue(self.connection, claims, result_ttl=self.settings.result_ttl)
        except (SQLAlchemyError, OSError, ConnectionError) as exc:  # the sweep redoes what was lost
            log.warning("webhook dispatch: %s", exc)
        except Exception:
            log.exception("webhook dispatch failed")


REDIS_PAUSE = 0.5
"""Seconds before a new RQ worker starts, after Redis failed the last one."""


def work(make: Callable[[], SimpleWorker], *, burst: bool, level: str) -> None:
    """Run an RQ worker made by ``make`` until it ends. RQ rides out a Redis that stops answering
    while it waits for jobs, but not at its start (registering itself) or in its bookkeeping:
    then a new one starts once Redis answers again, as the shard workers ride out a restart
    (a job it was sending is the sweep's once its claim lapses)."""
    while True:
        try:
            make().work(burst=burst, logging_level=level)
            return
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("Redis unavailable (%s); the webhook worker starts again in %g s", exc, REDIS_PAUSE)
            time.sleep(REDIS_PAUSE)


WORKER_PREFIX = "webhooks."
"""What a webhook worker's RQ name starts with (then ``keys.worker_name``)."""


def alive(connection: redis.Redis, label: str) -> bool:
    """Whether a webhook worker whose name starts with ``label`` is registered with RQ (RQ
    removes a worker whose heartbeat stopped)."""
    prefix = WORKER_PREFIX + keys.worker_prefix(label)
    return any(w.name.startswith(prefix) for w in SimpleWorker.all(connection=connection))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker.webhooks", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="send what is queued, then exit (no dispatcher)")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--alive",
        action="store_true",
        help="exit 0 if a webhook worker of this host (WORKER_NAME) is registered with RQ, else 1 (a healthcheck)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = get_settings()
    connection = redis_from_settings(settings)
    label = settings.worker_name or socket.gethostname()
    if args.alive:
        sys.exit(0 if alive(connection, label) else 1)
    configure_logs(args.log_level)

    def make() -> SimpleWorker:
        return SimpleWorker(
            [keys.WEBHOOK_QUEUE],
            connection=connection,
            serializer=JSONSerializer,
            name=WORKER_PREFIX + keys.worker_name(label, os.getpid(), secrets.token_hex(3)),
        )

    dispatcher = None
    if not args.burst:
        dispatcher = Dispatcher(jobs.engine(), settings)
        dispatcher.start()
    try:
        work(make, burst=args.burst, level=args.log_level.upper())
    finally:
        if dispatcher is not None:
            dispatcher.stopping.set()


if __name__ == "__main__":
    main()
