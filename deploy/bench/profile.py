"""``make profile``: where one scenario of the bench spends its CPU, by function, per role.

It starts the bench's stack (its database and Redis database, one shard worker, the web under
``deploy/gunicorn.conf.py``), creates the wallets through the API, drives one scenario with
the bench's wrk script, and meanwhile samples every web process and the worker with py-spy.
It prints, per role, the share of samples that pass through each function (cumulative) and
that stop in it (self), and writes the collapsed stacks beside the bench's results, for a
flame graph (``flamegraph.pl`` or speedscope read them).

    python deploy/bench/profile.py --scenario hot --seconds 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from deploy.bench import run  # noqa: E402  (sets the bench's environment first)
from deploy.bench.measure import ensure_wrk, wrk_command  # noqa: E402
from deploy.bench.stacks import summary  # noqa: E402
from deploy.processes import free_port, start_gunicorn, stop  # noqa: E402
from shared.config import get_settings  # noqa: E402
from web.wallets.auth.api_keys import Scope, key_create  # noqa: E402

PY_SPY = Path(sys.executable).with_name("py-spy")
MODES = {"hot": "ops", "spread": "ops", "transfer": "transfer", "hold": "hold", "get": "get"}


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def record(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    command = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250"]
    command += ["--format", "raw", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_summary(role: str, files: list[Path], top: int) -> None:
    total, cumulative, own = summary(files)
    print(f"\n{role}: {total} samples")
    for title, counter in (("cumulative", cumulative), ("self", own)):
        print(f"  {title}:")
        for name, n in counter.most_common(top):
            print(f"    {100 * n / max(total, 1):5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(MODES), default="hot")
    parser.add_argument("--seconds", type=int, default=20, help="seconds sampled under load (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="unsampled seconds of the same load first")
    parser.add_argument("--wallets", type=int, default=1000, help="wallets of the spread scenarios")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=25, help="functions listed per role (default 25)")
    args = parser.parse_args()

    ensure_wrk()
    run.prepare_database()
    run.API_KEY = key_create(tenant="bench", name="make profile", scope=Scope.READ_WRITE, wallet_limit=10**9).secret
    connection = redis.Redis.from_url(run.BENCH_ENV["REDIS_URL"])
    connection.flushdb()
    workers = run.start_workers(1, connection)
    port = free_port()
    web = start_gunicorn(port)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = run.RESULTS / f"profile-{args.scenario}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    try:
        count = 1 if args.scenario == "hot" else args.wallets
        wallets = out / "wallets.txt"
        wallets.write_text("\n".join(run.create_wallets(port, count)) + "\n")
        command = wrk_command(port, MODES[args.scenario], wallets, args, args.warmup, run.API_KEY)
        subprocess.run(command, check=True, capture_output=True)
        roles = {"web": children(web.pid), "worker": [w.pid for w in workers]}
        load = subprocess.Popen(
            wrk_command(port, MODES[args.scenario], wallets, args, args.seconds + 2, run.API_KEY),
            stdout=subprocess.PIPE,
            text=True,
        )
        spies = [
            (role, record(pid, args.seconds, out / f"{role}-{pid}.txt"), out / f"{role}-{pid}.txt")
            for role, pids in roles.items()
            for pid in pids
        ]
        for _, spy, _ in spies:
            spy.wait()
        wrk_out, _ = load.communicate()
    finally:
        stop(web)
        run.stop_all(workers)
    print(next((line for line in wrk_out.splitlines() if "Requests/sec" in line), wrk_out))
    for role in roles:
        print_summary(role, [file for r, _, file in spies if r == role and file.exists()], args.top)
    print(f"\ncollapsed stacks in {out.relative_to(ROOT)} (shards: {get_settings().shard_count})")


if __name__ == "__main__":
    main()
