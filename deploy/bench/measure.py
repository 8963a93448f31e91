"""What ``make bench`` measures and how: one row of figures, wrk and its Lua script, the CPU
and memory of each part of the stack."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

LUA = Path(__file__).with_name("wallets.lua")
"""The wrk script of every scenario and peer."""

BULK_SIZE = 100
"""Operations per request of the ``bulk`` scenario."""


@dataclass
class Row:
    scenario: str
    design: str
    run: int
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    statuses: dict[str, int]
    errors: int
    pending_202: int
    redis_mb_before: float
    redis_mb_after: float
    ledger_ok: bool
    cpu: dict[str, float] = field(default_factory=dict)
    left_pending: int = 0
    """Transfers still ``pending`` once the queues had drained and the sweeps had run."""
    delivery: dict[str, float] = field(default_factory=dict)
    """The ``webhook`` scenario's delivery lags (``deploy.bench.webhook.lag_summary``)."""


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk from Debian's packages", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)


def redis_mb(connection: redis.Redis) -> float:
    info: Any = connection.info("memory")
    return round(int(info["used_memory"]) / 2**20, 2)


def cpu_seconds() -> dict[tuple[str, int], float]:
    """CPU seconds used so far by each process of the stack, by (role, pid), for "what limits it"."""
    totals: dict[tuple[str, int], float] = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        role = (
            "web"
            if "gunicorn" in cmd
            else "webhooks"
            if "-m worker.webhooks" in cmd
            else "worker"
            if "-m worker" in cmd
            else "wrk"
            if proc.info["name"] == "wrk"
            else "postgres"
            if (proc.info["name"] or "").startswith("postgres")
            else "redis"
            if "redis-server" in (proc.info["name"] or "")
            else None
        )
        if role:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            totals[(role, proc.pid)] = times.user + times.system
    return totals


def cpu_percent(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float], elapsed: float
) -> dict[str, float]:
    """Percent of one core per role between two samples. Processes are matched by pid: one that
    exited in between (a closed PostgreSQL backend) must not count as negative time."""
    used: dict[str, float] = {}
    for (role, pid), seconds in after.items():
        used[role] = used.get(role, 0.0) + seconds - before.get((role, pid), 0.0)
    return {role: float(round(100 * seconds / elapsed)) for role, seconds in used.items()}


def wrk_command(
    port: int, mode: str, wallets_file: Path, args: argparse.Namespace, seconds: int, key: str
) -> list[str]:
    """wrk driving ``mode`` of ``wallets.lua`` on ``port`` for ``seconds``, with the bearer ``key``."""
    load = [f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA)]
    return ["wrk", *load, f"http://127.0.0.1:{port}", "--", mode, str(wallets_file), key, str(BULK_SIZE)]


def wrk_statuses(out: str) -> dict[str, int]:
    """The answers by status that ``wallets.lua`` printed."""
    status_line = re.search(r"^STATUS ?(.*)$", out, re.M)
    assert status_line is not None, out
    return {k: int(v) for k, v in (pair.split("=", 1) for pair in status_line.group(1).split())}


def run_wrk(
    port: int, mode: str, wallets_file: Path, args: argparse.Namespace, seconds: int, key: str
) -> dict[str, Any]:
    """One wrk run: its rate, latencies, answers by status and socket errors."""
    command = wrk_command(port, mode, wallets_file, args, seconds, key)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    statuses = wrk_statuses(out)
    latency = re.search(r"^LATENCY p50=(\d+) p99=(\d+)$", out, re.M)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    assert latency is not None, out
    return {
        "ops_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": int(latency.group(1)) / 1000,
        "p99_ms": int(latency.group(2)) / 1000,
        "statuses": statuses,
        "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0,
    }


def rss_mb(role: str) -> float:
    total = 0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if (role == "web" and "gunicorn" in cmd) or (role == "worker" and "-m worker" in cmd):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
    return round(total / 2**20, 1)


def measured(
    port: int, mode: str, wallets_file: Path, args: argparse.Namespace, key: str
) -> tuple[dict[str, Any], dict[str, float]]:
    """``--warmup`` seconds of load unmeasured, then ``--duration`` measured: wrk's figures and
    the CPU each part of the stack used meanwhile (percent of one core)."""
    if args.warmup:
        run_wrk(port, mode, wallets_file, args, args.warmup, key)
    cpu_before, started = cpu_seconds(), time.monotonic()
    result = run_wrk(port, mode, wallets_file, args, args.duration, key)
    return result, cpu_percent(cpu_before, cpu_seconds(), time.monotonic() - started)


def errors_of(result: dict[str, Any], expected: set[str]) -> int:
    """Socket errors and answers of a status not ``expected``."""
    unexpected: int = sum(n for s, n in result["statuses"].items() if s not in expected)
    return int(result["socket_errors"]) + unexpected
