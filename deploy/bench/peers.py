"""The peers every ``make bench`` run measures beside the service, on the same hot wallet, with
the same wrk script: the ceiling (a bare Django JSON view under the service's gunicorn
configuration, ``deploy.bench.ceiling``) and the seed's row-lock design (``deploy.bench.rowlock``).
The report gives each scenario as a ratio to them."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.bench.measure import Row, errors_of, measured
from deploy.bench.rowlock_setup import THREADS
from deploy.processes import free_port, start_wsgi, stop


@dataclass(frozen=True, slots=True)
class Peer:
    design: str
    """Its label in the report's design column."""
    app: str
    options: tuple[str, ...]
    """gunicorn's options (its configuration) before the app, ``{port}`` filled in."""
    mode: str
    """What ``wallets.lua`` sends it on the hot wallet."""

    def start(self, port: int) -> subprocess.Popen[bytes]:
        """gunicorn serving it on ``port``, once it answers."""
        options = tuple(option.format(port=port) for option in self.options)
        return start_wsgi(port, self.app, (*options, "--log-level", "warning"))


PEERS = {
    "ceiling": Peer("django", "deploy.bench.ceiling:application", ("-c", "deploy/gunicorn.conf.py"), "get"),
    "rowlock": Peer(
        "seed",
        "deploy.bench.rowlock:application",
        ("--bind", "127.0.0.1:{port}", "--workers", "2", "--threads", str(THREADS), "--worker-class", "gthread"),
        "ops",
    ),
}
"""By scenario name (``--scenarios``)."""


def peer_row(scenario: str, run: int, hot_file: Path, args: argparse.Namespace, key: str) -> Row:
    """One measured run of the peer ``scenario`` on the hot wallet."""
    peer = PEERS[scenario]
    port = free_port()
    web = peer.start(port)
    try:
        result, cpu = measured(port, peer.mode, hot_file, args, key)
    finally:
        stop(web)
    statuses = result["statuses"]
    return Row(
        scenario=scenario,
        design=peer.design,
        run=run,
        ops_per_s=result["ops_per_s"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        requests=sum(statuses.values()),
        statuses=statuses,
        errors=errors_of(result, {"200"}),
        pending_202=0,
        redis_mb_before=0,
        redis_mb_after=0,
        ledger_ok=True,  # no ledger: the peers write none of the service's tables
        cpu=cpu,
    )
