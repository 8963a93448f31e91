"""``make bench-compare``: this checkout against another commit, side by side in one session.

The machine is shared and noisy: figures move by 5-15% between runs an hour apart, so a
change is judged against its base measured in the same minutes. This checks out ``--base``
(default ``HEAD~1``) into a temporary git worktree and runs ``deploy/bench/run.py`` of each
tree in turn, alternating base and head for ``--rounds`` rounds (one run each per round), so
both see the same drift. It prints the medians side by side with the change, and writes
every figure to ``bench-results/compare-<time>.json``.

    python deploy/bench/compare.py --base 8b6ca14 --rounds 3 -- --duration 10 --designs pywsgi

Arguments after ``--`` go to ``run.py`` (``--runs`` is always 1 per round). Both trees run with
this interpreter, so the base must work with the current requirements.
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
RESULTS = ROOT / "bench-results"
WRITTEN = re.compile(r"figures written to (\S+)")


def run_once(tree: Path, bench_args: list[str]) -> list[dict[str, Any]]:
    """One run of ``tree``'s benchmark; its table of medians (one run: the run's own figures)."""
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


def side_by_side(base: list[list[dict[str, Any]]], head: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per scenario and design: each tree's per-round figures, their medians and the change."""
    rows = []
    for first in head[0]:
        key = (first["scenario"], first["design"])

        def series(rounds: list[list[dict[str, Any]]], field: str, key: tuple[str, str] = key) -> list[Any]:
            return [row[field] for table in rounds for row in table if (row["scenario"], row["design"]) == key]

        base_ops, head_ops = series(base, "ops_per_s"), series(head, "ops_per_s")
        if not base_ops:
            continue
        base_median, head_median = statistics.median(base_ops), statistics.median(head_ops)
        rows.append(
            {
                "scenario": key[0],
                "design": key[1],
                "base_ops_per_s": base_ops,
                "head_ops_per_s": head_ops,
                "base_median": round(base_median),
                "head_median": round(head_median),
                "change_%": round((head_median - base_median) / base_median * 100, 1),
                "base_p99_ms": statistics.median(series(base, "p99_ms")),
                "head_p99_ms": statistics.median(series(head, "p99_ms")),
                "ledger": "ok"
                if all(row == "ok" for row in series(base, "ledger") + series(head, "ledger"))
                else "BROKEN",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare against (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians over them (default 3)")
    parser.add_argument(
        "--max-loss", type=float, default=5.0, help="percent of throughput a scenario may lose (default 5)"
    )
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then arguments for run.py")
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    base_rev = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    head_rev = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout)
    head_label = head_rev + ("+changes" if dirty else "")

    with tempfile.TemporaryDirectory(prefix="bench-base-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(base_tree), base_rev], cwd=ROOT, check=True
        )
        try:
            base: list[list[dict[str, Any]]] = []
            head: list[list[dict[str, Any]]] = []
            for n in range(1, args.rounds + 1):
                print(f"== round {n}: base {base_rev}", flush=True)
                base.append(run_once(base_tree, bench_args))
                print(f"== round {n}: head {head_label}", flush=True)
                head.append(run_once(ROOT, bench_args))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)

    rows = side_by_side(base, head)
    print(f"\nmedians of {args.rounds} alternating rounds: base {base_rev}, head {head_label}")
    print(f"{'scenario':9} {'design':14} {'base':>7} {'head':>7} {'change':>8}  p99 ms base/head  ledger")
    lost = []
    for row in rows:
        flag = ""
        if row["change_%"] < -args.max_loss:
            flag = f"  LOSES MORE THAN {args.max_loss:g}%"
            lost.append(row)
        print(
            f"{row['scenario']:9} {row['design']:14} {row['base_median']:7} {row['head_median']:7}"
            f" {row['change_%']:+7.1f}%  {row['base_p99_ms']:6.1f}/{row['head_p99_ms']:<6.1f}"
            f"      {row['ledger']}{flag}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"compare-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(
        json.dumps(
            {"base": base_rev, "head": head_label, "rounds": args.rounds, "bench_args": bench_args, "rows": rows},
            indent=2,
        )
    )
    print(f"\nfigures written to {out.relative_to(ROOT)}")
    if any(row["ledger"] != "ok" for row in rows):
        sys.exit("the ledger does not explain every balance")
    if lost:
        sys.exit(f"{len(lost)} scenario(s) lose more than {args.max_loss:g}% against {base_rev}")


if __name__ == "__main__":
    main()
