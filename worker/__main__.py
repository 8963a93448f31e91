"""Run a shard worker: ``python -m worker``.

Start as many as you like, on this host or others: they share the shards among
themselves through PostgreSQL advisory locks (``worker.leases``), one writer per
shard, and rebalance within seconds when one starts or stops.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import time

import redis

from shared import keys
from shared.config import get_settings
from shared.connections import engine_from_settings, redis_from_settings
from shared.logs import configure as configure_logs
from worker.shard_worker import ShardWorker


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="drain the leased queues, then exit")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--alive",
        action="store_true",
        help="exit 0 if a worker of this host (WORKER_NAME) sent a heartbeat within 3 s, else 1 (a healthcheck)",
    )
    return parser.parse_args(argv)


def _label() -> str:
    """What this host's workers' names start with (``keys.worker_name``)."""
    return get_settings().worker_name or socket.gethostname()


def alive(connection: redis.Redis, label: str) -> bool:
    """Whether a worker whose name starts with ``label`` has a heartbeat younger than
    ``keys.MEMBER_TIMEOUT`` (a container's healthcheck: its one worker is alive and reaches Redis)."""
    live = connection.zrangebyscore(keys.WORKERS_KEY, time.time() - keys.MEMBER_TIMEOUT, "+inf")
    prefix = keys.worker_prefix(label).encode()
    return any(isinstance(name, bytes) and name.startswith(prefix) for name in live)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = get_settings()
    if args.alive:
        sys.exit(0 if alive(redis_from_settings(settings), _label()) else 1)
    configure_logs(args.log_level)
    worker = ShardWorker(
        engine=engine_from_settings(settings, pool_size=1, pre_ping=False, application_name="wallet-worker"),
        settings=settings,
        connection=redis_from_settings(settings),
        name=keys.worker_name(_label(), os.getpid(), secrets.token_hex(3)),
    )
    worker.install_signal_handlers()
    worker.work(burst=args.burst)


if __name__ == "__main__":
    main()
