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

from shared import keys
from shared.config import get_settings
from shared.connections import engine_from_settings, redis_from_settings
from shared.logs import configure as configure_logs
from worker.shard_worker import ShardWorker


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="drain the leased queues, then exit")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logs(args.log_level)
    settings = get_settings()
    worker = ShardWorker(
        engine=engine_from_settings(settings, pool_size=1, pre_ping=False, application_name="wallet-worker"),
        settings=settings,
        connection=redis_from_settings(settings),
        name=keys.worker_name(settings.worker_name or socket.gethostname(), os.getpid(), secrets.token_hex(3)),
    )
    worker.install_signal_handlers()
    worker.work(burst=args.burst)


if __name__ == "__main__":
    main()
