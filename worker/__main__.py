"""Run a shard worker: ``python -m worker --index 0 --of 2`` serves every second shard.

With ``--of N`` workers each takes the shards ``s`` with ``s % N == index``; run
exactly one worker per index, so every shard has one writer.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket

from shared.config import get_settings
from shared.connections import engine_from_settings, redis_from_settings
from worker.shard_worker import ShardWorker


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--index", type=int, default=0, help="this worker's index, 0-based (default 0)")
    parser.add_argument("--of", type=int, default=1, help="how many workers share the shards (default 1)")
    parser.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not 0 <= args.index < args.of:
        parser.error("--index must be within 0..--of-1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    shards = [s for s in range(settings.shard_count) if s % args.of == args.index]
    worker = ShardWorker(
        shards,
        engine=engine_from_settings(settings, pool_size=1, pre_ping=False),
        settings=settings,
        connection=redis_from_settings(settings),
        # The pid keeps a restarted worker from colliding with its dead predecessor's registration.
        name=f"wallets-{socket.gethostname()}-{os.getpid()}-{args.index}-of-{args.of}",
    )
    worker.work(burst=args.burst, logging_level=args.log_level)


if __name__ == "__main__":
    main()
