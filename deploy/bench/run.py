"""``make bench``: the throughput benchmark, rerunnable by anyone on a machine like this one.

It starts its own stack on this machine's PostgreSQL and Redis (database
``wallet_bench``, dropped and recreated, and Redis database 12, flushed, unless
``BENCH_DATABASE_URL`` and ``BENCH_REDIS_URL`` say otherwise; a free port), creates its wallets through
the API, then for each run and each web worker class drives load with wrk:

- ``hot``: POST operations on one wallet (alternating DEPOSIT/WITHDRAW of 1.00);
- ``spread``: the same over ``--wallets`` wallets;
- ``transfer``: POST transfers of 1.00 between two random wallets of the same ones (both
  legs applied before a 200; after the drain, no transfer may be left ``pending``);
- ``hold``: POST a hold of 1.00 on a random wallet of the same ones, then capture it (each
  thread of wrk captures the holds it made, with its next request); its rate is in hold+capture
  pairs per second, its latencies over both requests;
- ``get``: GET balances over the same wallets.

Every request carries a bearer API key (of the benchmark's own tenant, with rate limits far
above what it sends, so the limiter runs and counts but never refuses). ``--auth on,off`` (the
default) runs every configuration twice, side by side: with keys checked, and with
``API_AUTH=off`` (``design/open``), to show what authentication costs.
``--designs`` compares gunicorn worker classes; ``--workers 1,2,4`` also
compares numbers of shard worker processes.

Each scenario first runs ``--warmup`` seconds unmeasured, so the web's
known-wallet cache and the connection pools are warm, as in a service that has
been up a while. After every scenario it waits for the queues to drain and
audits the ledger.
It also compares the two worker designs on a pre-filled queue (``drain``): a
stock RQ SimpleWorker running the job function one job at a time, against the
batching ShardWorker. It prints one table of medians and writes every figure to
``bench-results/<time>.json``.

    python deploy/bench/run.py --duration 30 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    # Dropped and recreated (its name must end in _bench), flushed: never point them at data you keep.
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/wallet_bench"),
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
    "SECRET_KEY": "bench-only-not-secret",
    "DEBUG": "0",
    "LOG_LEVEL": "warning",
    # The limiter runs on every write, as in production, but never refuses here.
    "RATE_LIMIT_WRITES": "100000000/second",
    "RATE_LIMIT_WALLETS": "100000000/second",
}
OPEN_API = {"API_AUTH": "off", "API_AUTH_FORCE_OFF": "1"}
"""The environment of the ``/open`` configurations: the seed's open API, for comparison."""
os.environ.update(BENCH_ENV)

import redis  # noqa: E402
from rq import Queue, SimpleWorker, Worker  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from deploy.bench.client import KeepAlive  # noqa: E402
from deploy.processes import free_port, start_gunicorn, start_worker, stop, wait_until  # noqa: E402
from shared import keys  # noqa: E402
from shared.audit import ledger_sound  # noqa: E402
from shared.config import get_settings  # noqa: E402
from shared.connections import engine_from_settings  # noqa: E402
from shared.messages import OperationRequest  # noqa: E402
from shared.operations import OperationType  # noqa: E402
from shared.sharding import queue_name, shard_for  # noqa: E402
from web.wallets.auth.api_keys import Scope, key_create  # noqa: E402
from web.wallets.money.queueing import operation_send  # noqa: E402
from worker.shard_worker import ShardWorker  # noqa: E402

LUA = ROOT / "deploy" / "bench" / "wallets.lua"
API_KEY = ""
"""The bearer key of the benchmark's own tenant (made once the database is)."""
RESULTS = ROOT / "bench-results"


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


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk from Debian's packages", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)


def prepare_database() -> None:
    """A fresh bench database each time, so the ledger audits read only this run's rows."""
    manage = [sys.executable, str(ROOT / "web" / "manage.py")]
    subprocess.run([*manage, "createdb", "--fresh"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*manage, "migrate", "--verbosity", "0"], check=True, cwd=ROOT)


def new_wallet(client: KeepAlive, funds: str) -> str:
    status, body = client.call("POST", "/api/v1/wallets")
    assert status == 201, body
    wallet = str(body["id"])
    status, body = client.call(
        "POST", f"/api/v1/wallets/{wallet}/operation", {"operationType": "DEPOSIT", "amount": funds}
    )
    assert status == 200, body
    return wallet


def create_wallets(port: int, count: int) -> list[str]:
    def batch(n: int) -> list[str]:
        client = KeepAlive(port, API_KEY)
        return [new_wallet(client, "1000000.00") for _ in range(n)]

    per = [count // 16 + (1 if i < count % 16 else 0) for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        return [wallet for chunk in pool.map(batch, per) for wallet in chunk]


def redis_mb(connection: redis.Redis) -> float:
    info: Any = connection.info("memory")
    return round(int(info["used_memory"]) / 2**20, 2)


def drained(connection: redis.Redis) -> bool:
    queues: Any = connection.keys(keys.SHARD_QUEUES_PATTERN)
    processing: Any = connection.keys(keys.PROCESSING_PATTERN)
    lengths: list[Any] = [connection.llen(k) for k in queues if not k.endswith(b":intermediate")]
    backlog = sum(int(n) for n in lengths)
    return backlog == 0 and not processing


def cpu_seconds() -> dict[tuple[str, int], float]:
    """CPU seconds used so far by each process of the stack, by (role, pid), for "what limits it"."""
    import psutil

    totals: dict[tuple[str, int], float] = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        role = (
            "web"
            if "gunicorn" in cmd
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


def run_wrk(port: int, mode: str, wallets_file: Path, args: argparse.Namespace, seconds: int) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        str(wallets_file),
        API_KEY,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    status_line = re.search(r"^STATUS ?(.*)$", out, re.M)
    assert status_line is not None, out
    statuses = dict(pair.split("=", 1) for pair in status_line.group(1).split())
    latency = re.search(r"^LATENCY p50=(\d+) p99=(\d+)$", out, re.M)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    assert latency is not None, out
    return {
        "ops_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": int(latency.group(1)) / 1000,
        "p99_ms": int(latency.group(2)) / 1000,
        "statuses": {k: int(v) for k, v in statuses.items()},
        "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0,
    }


PENDING_TRANSFERS = "SELECT count(*) FROM transfers WHERE state = 'pending'"


def pending_transfers(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(PENDING_TRANSFERS).scalar_one())


def scenario_row(
    scenario: str, design: str, run: int, port: int, wallets_file: Path, args: argparse.Namespace, r: redis.Redis
) -> Row:
    mode = scenario if scenario in ("get", "transfer", "hold") else "ops"
    if args.warmup:
        run_wrk(port, mode, wallets_file, args, args.warmup)
    before = redis_mb(r)
    cpu_before, started = cpu_seconds(), time.monotonic()
    result = run_wrk(port, mode, wallets_file, args, args.duration)
    elapsed = time.monotonic() - started
    cpu_after = cpu_seconds()
    wait_until(lambda: drained(r), timeout=120, what="the queues to drain")
    statuses = result["statuses"]
    expected = {"200"} if scenario == "get" else {"200", "201", "202"} if scenario == "hold" else {"200", "202"}
    errors = result["socket_errors"] + sum(n for s, n in statuses.items() if s not in expected)
    engine = engine_from_settings(get_settings())
    try:
        # A transfer answered 202 completes within seconds of the drain (its credit's queue).
        deadline = time.monotonic() + 30
        while (left_pending := pending_transfers(engine)) and time.monotonic() < deadline:
            time.sleep(0.5)
        ledger_ok = ledger_sound(engine) and not left_pending
    finally:
        engine.dispose()
    rate = result["ops_per_s"]
    if scenario == "hold":  # pairs: the captures' share of all requests
        rate *= statuses.get("200", 0) / max(1, sum(statuses.values()))
    return Row(
        scenario=scenario,
        design=design,
        run=run,
        ops_per_s=rate,
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        requests=sum(statuses.values()),
        statuses=statuses,
        errors=errors,
        pending_202=statuses.get("202", 0),
        redis_mb_before=before,
        redis_mb_after=redis_mb(r),
        ledger_ok=ledger_ok,
        cpu=cpu_percent(cpu_before, cpu_after, elapsed),
        left_pending=left_pending,
    )


def rss_mb(role: str) -> float:
    import psutil

    total = 0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if (role == "web" and "gunicorn" in cmd) or (role == "worker" and "-m worker" in cmd):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
    return round(total / 2**20, 1)


def soak(port: int, wallets_file: Path, args: argparse.Namespace, r: redis.Redis) -> dict[str, Any]:
    """Hold the hot load for ``--soak`` seconds, sampling Redis memory and process RSS."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.soak}s", "--timeout", "10s"]
    command += ["-s", str(LUA), f"http://127.0.0.1:{port}", "--", "ops", str(wallets_file), API_KEY]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    samples = []
    started = time.monotonic()
    while proc.poll() is None:
        samples.append(
            {
                "t": round(time.monotonic() - started),
                "redis_mb": redis_mb(r),
                "web_rss_mb": rss_mb("web"),
                "worker_rss_mb": rss_mb("worker"),
            }
        )
        time.sleep(args.soak_every)
    out = proc.stdout.read() if proc.stdout else ""
    wait_until(lambda: drained(r), timeout=120, what="the queues to drain")
    status_line = re.search(r"^STATUS ?(.*)$", out, re.M)
    assert status_line is not None, out
    statuses = {k: int(v) for k, v in (pair.split("=", 1) for pair in status_line.group(1).split())}
    engine = engine_from_settings(get_settings())
    try:
        ledger_ok = ledger_sound(engine)
    finally:
        engine.dispose()
    return {"operations": sum(statuses.values()), "statuses": statuses, "ledger_ok": ledger_ok, "samples": samples}


def drain_rows(design: str, run: int, ops: int, r: redis.Redis) -> Row:
    """Time one worker design applying ``ops`` operations already queued on one shard."""
    settings = get_settings()
    engine = engine_from_settings(settings, pool_size=1, pre_ping=False)
    port = free_port()
    web = start_gunicorn(port)
    try:
        status, body = KeepAlive(port, API_KEY).call("POST", "/api/v1/wallets")  # no worker runs now: deposits only
        assert status == 201, body
        wallet = str(body["id"])
    finally:
        stop(web)
    shard = shard_for(uuid.UUID(wallet), settings.shard_count)
    before = redis_mb(r)
    for _ in range(ops):
        request = OperationRequest(
            uuid.uuid4(),
            uuid.UUID(wallet),
            OperationType.DEPOSIT,
            Decimal("1.00"),
            datetime.now(UTC),
        )
        operation_send(connection=r, settings=settings, request=request, wait=0)
    started = time.monotonic()
    if design == "stock-rq":
        queue = Queue(queue_name(shard), connection=r, serializer=JSONSerializer)
        SimpleWorker([queue], connection=r, serializer=JSONSerializer).work(burst=True, logging_level="WARNING")
    else:
        ShardWorker(engine=engine, settings=settings, connection=r, shards=[shard]).work(burst=True)
    elapsed = time.monotonic() - started
    bells: Any = r.keys(keys.BELL_PATTERN)
    if bells:
        r.delete(*bells)
    ledger_ok = ledger_sound(engine)
    engine.dispose()
    return Row("drain", design, run, round(ops / elapsed, 1), 0, 0, ops, {}, 0, 0, before, redis_mb(r), ledger_ok)


def start_workers(count: int, r: redis.Redis) -> list[subprocess.Popen[bytes]]:
    """``count`` shard workers, once they have shared out every shard among themselves."""
    procs = [start_worker() for _ in range(count)]
    shards = get_settings().shard_count

    def settled() -> bool:
        owned = [name for worker in Worker.all(connection=r) for name in worker.queue_names()]
        return len(Worker.all(connection=r)) == count and sorted(owned) == [queue_name(s) for s in range(shards)]

    wait_until(settled, timeout=60, what=f"{count} workers to share the shards")
    return procs


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        stop(proc)


def median_rows(rows: list[Row]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.scenario, row.design), []).append(row)
    table = []
    for (scenario, design), group in groups.items():
        table.append(
            {
                "scenario": scenario,
                "design": design,
                "runs": len(group),
                "ops_per_s": round(statistics.median(r.ops_per_s for r in group)),
                "p50_ms": round(statistics.median(r.p50_ms for r in group), 1),
                "p99_ms": round(statistics.median(r.p99_ms for r in group), 1),
                "errors": sum(r.errors for r in group),
                "pending_202": sum(r.pending_202 for r in group),
                "redis_mb": f"{min(r.redis_mb_before for r in group)}->{max(r.redis_mb_after for r in group)}",
                "left_pending": sum(r.left_pending for r in group),
                "ledger": "ok" if all(r.ledger_ok for r in group) else "BROKEN",
                "cpu_%": {k: round(statistics.median(r.cpu.get(k, 0) for r in group)) for k in group[0].cpu},
            }
        )
    return table


def print_table(table: list[dict[str, Any]]) -> None:
    columns = [
        "scenario",
        "design",
        "runs",
        "ops_per_s",
        "p50_ms",
        "p99_ms",
        "errors",
        "pending_202",
        "left_pending",
        "redis_mb",
        "ledger",
    ]
    widths = {c: max(len(c), *(len(str(row[c])) for row in table)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in table:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    print("\nCPU % of one core, median (200 = both cores):")
    for row in table:
        if row["cpu_%"]:
            print(f"  {row['scenario']:8} {row['design']:8} {row['cpu_%']}")


def auth_costs(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario and design measured both ways: the throughput with API keys against
    ``API_AUTH=off`` (negative: auth costs that much)."""
    medians = {(row["scenario"], row["design"]): row["ops_per_s"] for row in table}
    return [
        {
            "scenario": scenario,
            "design": design,
            "auth_ops_per_s": ops,
            "open_ops_per_s": medians[(scenario, design + "/open")],
            "change_%": round(100 * (ops / medians[(scenario, design + "/open")] - 1), 1),
        }
        for (scenario, design), ops in medians.items()
        if (scenario, design + "/open") in medians
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per scenario (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the table shows medians (default 3)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured seconds of the same load first (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--wallets", type=int, default=10_000, help="wallets of the spread and get scenarios")
    parser.add_argument(
        "--workers",
        default="1",
        help="shard worker processes; a list such as 1,2,4 also compares those counts (first design)",
    )
    parser.add_argument(
        "--designs", default="pywsgi", help="gunicorn worker classes to compare, e.g. pywsgi,gevent,gthread"
    )
    parser.add_argument(
        "--auth", default="on,off", help="on: API keys checked; off: API_AUTH=off (labelled /open); both by default"
    )
    parser.add_argument("--scenarios", default="hot,spread,transfer,hold,get,drain", help="which scenarios to run")
    parser.add_argument(
        "--drain-ops", type=int, default=2000, help="operations the stock RQ worker drains (default 2000, ~12 s)"
    )
    parser.add_argument(
        "--batched-drain-ops",
        type=int,
        default=20_000,
        help="operations the batching ShardWorker drains (default 20000, ~6 s: a 2 s drain is too noisy to compare)",
    )
    parser.add_argument("--soak", type=int, default=0, help="also hold the hot load this many seconds (memory)")
    parser.add_argument("--soak-every", type=int, default=15, help="seconds between soak samples")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")

    ensure_wrk()
    prepare_database()
    global API_KEY
    API_KEY = key_create(tenant="bench", name="make bench", scope=Scope.READ_WRITE, wallet_limit=10**9).secret
    r = redis.Redis.from_url(BENCH_ENV["REDIS_URL"])
    r.flushdb()
    designs = args.designs.split(",")
    counts = [int(n) for n in args.workers.split(",")]
    auths = args.auth.split(",")
    # Every web design (with and without auth) with the first worker count, then the first
    # design with every other count.
    configs = [(design, counts[0], auth) for design in designs for auth in auths] + [
        (designs[0], n, auths[0]) for n in counts[1:]
    ]
    rows: list[Row] = []
    soaked: dict[str, Any] = {}
    workers = start_workers(counts[0], r)
    try:
        port = free_port()
        web = start_gunicorn(port)
        try:
            print(f"creating 1 hot wallet and {args.wallets} more through the API", flush=True)
            files = {}
            for name, wallets in (("hot", create_wallets(port, 1)), ("spread", create_wallets(port, args.wallets))):
                files[name] = RESULTS / f"wallets-{name}.txt"
                files[name].parent.mkdir(exist_ok=True)
                files[name].write_text("\n".join(wallets) + "\n")
            files["get"] = files["transfer"] = files["hold"] = files["spread"]
        finally:
            stop(web)
        for run in range(1, args.runs + 1):
            for design, count, auth in configs:
                if len(workers) != count:
                    stop_all(workers)
                    workers = start_workers(count, r)
                label = design if len(counts) == 1 else f"{design}/{count}w"
                label += "/open" if auth == "off" else ""
                port = free_port()
                web = start_gunicorn(port, WEB_WORKER_CLASS=design, **(OPEN_API if auth == "off" else {}))
                try:
                    for scenario in (s for s in scenarios if s != "drain"):
                        row = scenario_row(scenario, label, run, port, files[scenario], args, r)
                        rows.append(row)
                        print(
                            f"run {run} {label:10} {scenario:7} {row.ops_per_s:8.0f}/s p50 {row.p50_ms:6.1f} ms"
                            f" p99 {row.p99_ms:6.1f} ms errors {row.errors} 202s {row.pending_202}"
                            f" ledger {'ok' if row.ledger_ok else 'BROKEN'}",
                            flush=True,
                        )
                finally:
                    stop(web)
        if args.soak:  # the first configuration: first design, first worker count
            if len(workers) != counts[0]:
                stop_all(workers)
                workers = start_workers(counts[0], r)
            port = free_port()
            web = start_gunicorn(port, WEB_WORKER_CLASS=designs[0])
            try:
                soaked = soak(port, files["hot"], args, r)
            finally:
                stop(web)
            # The first sample is taken before any load: compare from the second.
            first, last = soaked["samples"][min(1, len(soaked["samples"]) - 1)], soaked["samples"][-1]
            peak = max(sample["redis_mb"] for sample in soaked["samples"])
            print(
                f"soak: {soaked['operations']} operations in {args.soak} s; Redis {first['redis_mb']} MB at"
                f" {first['t']} s, peak {peak}, {last['redis_mb']} at {last['t']} s; web RSS"
                f" {first['web_rss_mb']} -> {last['web_rss_mb']} MB; worker RSS {first['worker_rss_mb']} ->"
                f" {last['worker_rss_mb']} MB; ledger {'ok' if soaked['ledger_ok'] else 'BROKEN'}",
                flush=True,
            )
    finally:
        stop_all(workers)
    if "drain" in scenarios:
        for run in range(1, args.runs + 1):
            for design in ("stock-rq", "batched"):
                ops = args.batched_drain_ops if design == "batched" else args.drain_ops
                row = drain_rows(design, run, ops, r)
                rows.append(row)
                print(f"run {run} drain {design:8} {row.ops_per_s:8.0f} ops/s", flush=True)

    table = median_rows(rows)
    print()
    print_table(table)
    costs = auth_costs(table)
    if costs:
        print("\nAPI keys against API_AUTH=off, same run (medians):")
        for cost in costs:
            print(
                f"  {cost['scenario']:7} {cost['design']:8} {cost['auth_ops_per_s']:8.0f} vs"
                f" {cost['open_ops_per_s']:8.0f}/s  {cost['change_%']:+.1f}%"
            )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"bench-{stamp}.json"
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    out.write_text(
        json.dumps(
            {
                "args": vars(args),
                "machine": machine,
                "medians": table,
                "auth_costs": costs,
                "runs": [asdict(r) for r in rows],
                "soak": soaked or None,
            },
            indent=2,
        )
    )
    print(f"\nfigures written to {out.relative_to(ROOT)}")
    if any(row["ledger"] != "ok" for row in table) or (soaked and not soaked["ledger_ok"]):
        sys.exit("the ledger does not explain every balance")


if __name__ == "__main__":
    main()
