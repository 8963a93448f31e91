"""``make bench``: the throughput benchmark, rerunnable by anyone on a machine like this one.

It starts its own stack on this machine's PostgreSQL and Redis (database
``wallet_bench``, dropped and recreated, and Redis database 12, flushed, unless
``BENCH_DATABASE_URL`` and ``BENCH_REDIS_URL`` say otherwise; a free port), creates its wallets through
the API, then for each run and each web worker class drives load with wrk:

- ``hot``: POST operations on one wallet (alternating DEPOSIT/WITHDRAW of 1.00);
- ``spread``: the same over ``--wallets`` wallets;
- ``webhook``: ``spread`` with one endpoint subscribed to
  every event, a local receiver and a webhook worker delivering meanwhile
  (``deploy/bench/webhook.py``): its rate beside ``spread``'s, and the delivery lags (keys on only);
- ``bulk``: POST bulk requests of ``BULK_SIZE`` (100) operations over the same wallets (its rate
  in operations per second);
- ``transfer``: POST transfers of 1.00 between two random wallets of the same ones (both
  legs applied before a 200; after the drain, no transfer may be left ``pending``);
- ``hold``: POST a hold of 1.00 on a random wallet of the same ones, then capture it (each
  thread of wrk captures the holds it made, with its next request); its rate is in hold+capture
  pairs per second, its latencies over both requests;
- ``get``: GET balances over the same wallets;
- ``ceiling`` and ``rowlock``, the peers (``deploy/bench/peers.py``), once a run on the hot
  wallet: a bare Django JSON view, and the seed's row-lock design. Every scenario is also
  reported as a ratio to them (``deploy/bench/report.py``), against its target.

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
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
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
    # The webhook scenario's receiver listens on loopback.
    "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
}
OPEN_API = {"API_AUTH": "off", "API_AUTH_FORCE_OFF": "1"}
"""The environment of the ``/open`` configurations: the seed's open API, for comparison."""
os.environ.update(BENCH_ENV)

import redis  # noqa: E402
from rq import Queue, SimpleWorker, Worker  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from deploy.bench.client import KeepAlive  # noqa: E402
from deploy.bench.measure import (  # noqa: E402
    BULK_SIZE,
    Row,
    ensure_wrk,
    errors_of,
    measured,
    redis_mb,
    rss_mb,
    wrk_command,
    wrk_statuses,
)
from deploy.bench.peers import PEERS, peer_row  # noqa: E402
from deploy.bench.report import (  # noqa: E402
    auth_costs,
    median_rows,
    print_deliveries,
    print_ratios,
    print_table,
    ratios,
)
from deploy.bench.rowlock_setup import rowlock_prepare  # noqa: E402
from deploy.bench.webhook import with_endpoint  # noqa: E402
from deploy.processes import (  # noqa: E402
    free_port,
    shard_queues_drained,
    start_gunicorn,
    start_worker,
    stop,
    wait_until,
)
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

API_KEY = ""
"""The bearer key of the benchmark's own tenant (made once the database is)."""
RESULTS = ROOT / "bench-results"


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


PENDING_TRANSFERS = "SELECT count(*) FROM transfers WHERE state = 'pending'"


def pending_transfers(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(PENDING_TRANSFERS).scalar_one())


def report_row(row: Row) -> None:
    print(
        f"run {row.run} {row.design:10} {row.scenario:8} {row.ops_per_s:8.0f}/s p50 {row.p50_ms:6.1f} ms"
        f" p99 {row.p99_ms:6.1f} ms errors {row.errors} 202s {row.pending_202}"
        f" ledger {'ok' if row.ledger_ok else 'BROKEN'}",
        flush=True,
    )


def scenario_row(
    scenario: str, design: str, run: int, port: int, wallets_file: Path, args: argparse.Namespace, r: redis.Redis
) -> Row:
    mode = scenario if scenario in ("get", "transfer", "hold", "bulk") else "ops"
    before = redis_mb(r)
    delivery: dict[str, float] = {}
    if scenario == "webhook":
        engine = engine_from_settings(get_settings())
        try:
            (result, cpu), delivery = with_endpoint(
                port, API_KEY, engine, lambda: measured(port, mode, wallets_file, args, API_KEY)
            )
        finally:
            engine.dispose()
    else:
        result, cpu = measured(port, mode, wallets_file, args, API_KEY)
    wait_until(lambda: shard_queues_drained(r), timeout=120, what="the queues to drain")
    statuses = result["statuses"]
    expected = {"200"} if scenario == "get" else {"200", "201", "202"} if scenario == "hold" else {"200", "202"}
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
    if scenario == "bulk":  # operations, not requests
        rate *= BULK_SIZE
    return Row(
        scenario=scenario,
        design=design,
        run=run,
        ops_per_s=rate,
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        requests=sum(statuses.values()),
        statuses=statuses,
        errors=errors_of(result, expected),
        pending_202=statuses.get("202", 0),
        redis_mb_before=before,
        redis_mb_after=redis_mb(r),
        ledger_ok=ledger_ok,
        cpu=cpu,
        left_pending=left_pending,
        delivery=delivery,
    )


def soak(port: int, wallets_file: Path, args: argparse.Namespace, r: redis.Redis) -> dict[str, Any]:
    """Hold the hot load for ``--soak`` seconds, sampling Redis memory and process RSS."""
    command = wrk_command(port, "ops", wallets_file, args, args.soak, API_KEY)
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
    wait_until(lambda: shard_queues_drained(r), timeout=120, what="the queues to drain")
    statuses = wrk_statuses(out)
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
    parser.add_argument(
        "--scenarios",
        default="ceiling,rowlock,hot,spread,bulk,webhook,transfer,hold,get,drain",
        help="which scenarios to run (ceiling and rowlock are the peers, once a run; webhook with keys on only)",
    )
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
            files["get"] = files["transfer"] = files["hold"] = files["webhook"] = files["bulk"] = files["spread"]
        finally:
            stop(web)
        if "rowlock" in scenarios:
            engine = engine_from_settings(get_settings())
            rowlock_prepare(engine, files["hot"].read_text().split(), Decimal("1000000.00"))
            engine.dispose()
        for run in range(1, args.runs + 1):
            for scenario in (s for s in scenarios if s in PEERS):
                row = peer_row(scenario, run, files["hot"], args, API_KEY)
                rows.append(row)
                report_row(row)
            for design, count, auth in configs:
                if len(workers) != count:
                    stop_all(workers)
                    workers = start_workers(count, r)
                label = design if len(counts) == 1 else f"{design}/{count}w"
                label += "/open" if auth == "off" else ""
                port = free_port()
                web = start_gunicorn(port, WEB_WORKER_CLASS=design, **(OPEN_API if auth == "off" else {}))
                try:
                    for scenario in (s for s in scenarios if s != "drain" and s not in PEERS):
                        if scenario == "webhook" and auth == "off":
                            continue  # endpoints are a tenant's: measured with keys only
                        row = scenario_row(scenario, label, run, port, files[scenario], args, r)
                        rows.append(row)
                        report_row(row)
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
    shares = ratios(table)
    print_ratios(shares)
    print_deliveries(table)
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
                "ratios": shares,
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
