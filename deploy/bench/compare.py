"""``make bench-compare``: this checkout against earlier commits, side by side in one session.

The machine is shared and noisy: figures move by 5-15% between runs an hour apart, so a
change is judged against its bases measured in the same minutes. This checks out each
``--base`` (default ``HEAD~1``; repeat it to compare several) into a temporary git worktree
and runs ``deploy/bench/run.py`` of each tree in turn, round-robin for ``--rounds`` rounds (one
run each per round, in reverse order every other round: A B, B A, A B...), so all see the same
drift, and a drift within a round (the machine slowing down as a round goes on) favours no
tree. The head is the working tree, or ``--head
REV`` checked out the same way (so the checkout can be edited while it runs). It prints each
tree's medians with the head's change against each base, and writes every figure to
``bench-results/compare-<time>.json``; it fails if a scenario loses more than ``--max-loss``
percent against any base.

    python deploy/bench/compare.py --base 8b6ca14 --rounds 3 -- --duration 10 --designs pywsgi

Arguments after ``--`` go to ``run.py`` (``--runs`` is always 1 per round). Every tree runs
with this interpreter, so each must work with the installed requirements.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from deploy.bench.peers import PEERS  # noqa: E402

RESULTS = ROOT / "bench-results"
WRITTEN = re.compile(r"figures written to (\S+)")

Tables = list[list[dict[str, Any]]]
"""One table of medians per round."""


def run_once(tree: Path, bench_args: list[str]) -> list[dict[str, Any]]:
    """One run of ``tree``'s benchmark; its table (one run: the run's own figures)."""
    proc = subprocess.run(
        [sys.executable, "deploy/bench/run.py", *bench_args, "--runs", "1"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(proc.stdout)
    found = WRITTEN.search(proc.stdout)
    if proc.returncode != 0 or found is None:
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit(f"the benchmark of {tree} failed (exit {proc.returncode})")
    medians: list[dict[str, Any]] = json.loads((tree / found.group(1)).read_text())["medians"]
    return medians


def series(rounds: Tables, key: tuple[str, str], field: str) -> list[Any]:
    """The scenario's ``field`` in each round (None where that tree's bench did not measure it)."""
    return [row.get(field) for table in rounds for row in table if (row["scenario"], row["design"]) == key]


PEER_SCENARIOS = frozenset(PEERS)
"""The peers ``run.py`` measures beside the service: never the subject of a comparison, only
its yardstick."""


def ceiling_shares(rounds: Tables, key: tuple[str, str]) -> list[float]:
    """Per round, the scenario's rate as a share of the same round's ceiling (none without one)."""
    shares = []
    for table in rounds:
        rates = {(row["scenario"], row["design"]): row["ops_per_s"] for row in table}
        ceiling = next((ops for (scenario, _), ops in rates.items() if scenario == "ceiling"), None)
        if ceiling and key in rates:
            shares.append(rates[key] / ceiling)
    return shares


def cpu_medians(samples: list[dict[str, float] | None]) -> dict[str, float]:
    """Per part of the stack, the median over the rounds of its ms of CPU per operation."""
    rounds = [sample for sample in samples if sample]
    roles = sorted({role for sample in rounds for role in sample})
    return {role: round(statistics.median(sample.get(role, 0.0) for sample in rounds), 3) for role in roles}


def side_by_side(labels: list[str], trees: list[Tables]) -> list[dict[str, Any]]:
    """Per scenario and design: each tree's per-round figures and median, and the last tree's
    (the head's) change against each of the others."""
    rows = []
    for first in trees[-1][0]:
        key = (first["scenario"], first["design"])
        ops = [series(rounds, key, "ops_per_s") for rounds in trees]
        if not all(ops):
            continue
        medians = [statistics.median(values) for values in ops]
        ledgers = [ledger for rounds in trees for ledger in series(rounds, key, "ledger")]
        rows.append(
            {
                "scenario": key[0],
                "design": key[1],
                "ops_per_s": dict(zip(labels, ops, strict=True)),
                "median": {label: round(m) for label, m in zip(labels, medians, strict=True)},
                "p99_ms": {
                    label: statistics.median(series(rounds, key, "p99_ms"))
                    for label, rounds in zip(labels, trees, strict=True)
                },
                "change_%": {
                    label: round((medians[-1] - m) / m * 100, 1)
                    for label, m in zip(labels[:-1], medians[:-1], strict=True)
                },
                "ledger": "ok" if all(ledger == "ok" for ledger in ledgers) else "BROKEN",
                "cpu_ms_per_op": {
                    label: cpu_medians(series(rounds, key, "cpu_ms_per_op"))
                    for label, rounds in zip(labels, trees, strict=True)
                },
                "ceiling_share": {
                    label: round(statistics.median(shares), 3)
                    for label, rounds in zip(labels, trees, strict=True)
                    if (shares := ceiling_shares(rounds, key))
                },
            }
        )
    return rows


def rev(name: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", name], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", action="append", help="a commit to compare against (default HEAD~1); repeatable")
    parser.add_argument("--head", help="run this commit as the head instead of the working tree")
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds; medians over them (default 3)")
    parser.add_argument(
        "--max-loss", type=float, default=5.0, help="percent of throughput a scenario may lose (default 5)"
    )
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then arguments for run.py")
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    bases = [rev(base) for base in (args.base or ["HEAD~1"])]
    if args.head:
        head_label = rev(args.head)
    else:
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        head_label = rev("HEAD") + ("+changes" if dirty else "") + " (working tree)"

    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        checkouts = [*bases, *([head_label] if args.head else [])]
        paths = [Path(tmp) / f"tree{n}" for n in range(len(checkouts))]
        for path, commit in zip(paths, checkouts, strict=True):
            subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(path), commit], cwd=ROOT, check=True)
        trees = paths if args.head else [*paths, ROOT]
        labels = [*bases, head_label]
        try:
            results: list[Tables] = [[] for _ in trees]
            order = list(zip(labels, trees, results, strict=True))
            for n in range(1, args.rounds + 1):
                for label, tree, tables in order if n % 2 else order[::-1]:
                    print(f"== round {n}: {label}", flush=True)
                    tables.append(run_once(tree, bench_args))
        finally:
            for path in paths:
                subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)

    rows = side_by_side(labels, results)
    print(f"\nmedians of {args.rounds} round-robin rounds; head {head_label}")
    print(f"{'scenario':9} {'design':14} " + " ".join(f"{label[:12]:>12}" for label in labels) + "  head vs each")
    lost = []
    for row in rows:
        changes = ", ".join(f"{change:+.1f}% vs {label}" for label, change in row["change_%"].items())
        flag = ""
        if row["scenario"] not in PEER_SCENARIOS and any(
            change < -args.max_loss for change in row["change_%"].values()
        ):
            flag = f"  LOSES MORE THAN {args.max_loss:g}%"
            lost.append(row)
        medians = " ".join(f"{m:>12}" for m in row["median"].values())
        print(f"{row['scenario']:9} {row['design']:14} {medians}  {changes}  ledger {row['ledger']}{flag}")
    print("\nms of CPU per operation by part of the stack, median:")
    for row in rows:
        for label in labels:
            cpu = row["cpu_ms_per_op"].get(label)
            if cpu:
                parts = "  ".join(f"{role} {ms:.3f}" for role, ms in cpu.items())
                print(f"{row['scenario']:9} {label[:12]:12} {parts}  total {sum(cpu.values()):.3f}")
    shared = [row for row in rows if row["scenario"] != "ceiling" and row["ceiling_share"]]
    if shared:
        print("\nshare of the same round's ceiling, median (drifts less than the rates):")
        for row in shared:
            shares = " ".join(f"{row['ceiling_share'].get(label, 0):>12.3f}" for label in labels)
            print(f"{row['scenario']:9} {row['design']:14} {shares}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"compare-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(
        json.dumps({"trees": labels, "rounds": args.rounds, "bench_args": bench_args, "rows": rows}, indent=2)
    )
    print(f"\nfigures written to {out.relative_to(ROOT)}")
    if any(row["ledger"] != "ok" for row in rows):
        sys.exit("the ledger does not explain every balance")
    if lost:
        sys.exit(f"{len(lost)} scenario(s) lose more than {args.max_loss:g}% against a base")


if __name__ == "__main__":
    main()
