"""``make bench``'s report: medians of the runs, the table it prints, what API keys cost, and
each scenario's ratio to its peers of the same run."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from deploy.bench.measure import Row
from deploy.bench.peers import PEERS

PEER_DESIGNS = {peer.design for peer in PEERS.values()}


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
        if group[0].delivery:
            table[-1]["delivery"] = {
                k: round(statistics.median(r.delivery.get(k, 0) for r in group), 1) for k in group[0].delivery
            }
        table[-1]["cpu_ms_per_op"] = cpu_ms_per_operation(table[-1])
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
    print("\nCPU % of one core, median (200 = both cores), and ms of CPU per operation:")
    for row in table:
        if row["cpu_%"]:
            print(f"  {row['scenario']:8} {row['design']:10} {row['cpu_%']}")
            print(f"  {'':8} {'':10} {row['cpu_ms_per_op']}")


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


@dataclass(frozen=True, slots=True)
class Target:
    scenario: str
    of: str
    """The scenario it is measured against, of the same run (a peer's, or the same design's)."""
    at_least: float


TARGETS = (
    Target("hot", "ceiling", 0.20),
    Target("get", "ceiling", 0.55),
    Target("transfer", "spread", 0.80),
    Target("bulk", "spread", 3.0),
    Target("hot", "rowlock", 2.5),
)
"""What the service must reach, as ratios of medians of the same run (``docs/performance.md``)."""


def ratios(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target's ratio for every design measured both ways, and every scenario's share of the
    ceiling: ratios of the same run's medians, which do not drift with the machine as rates do."""
    medians = {(row["scenario"], row["design"]): row["ops_per_s"] for row in table}
    peers = {row["scenario"]: row["ops_per_s"] for row in table if row["design"] in PEER_DESIGNS}
    found = []
    for (scenario, design), ops in medians.items():
        if design in PEER_DESIGNS or scenario == "drain":
            continue
        targets = {t.of: t for t in TARGETS if t.scenario == scenario}
        for of in ("ceiling", *(t for t in targets if t != "ceiling")):
            base = peers.get(of) or medians.get((of, design))
            if not base:
                continue
            target = targets.get(of)
            ratio = round(ops / base, 3)
            found.append(
                {
                    "scenario": scenario,
                    "design": design,
                    "of": of,
                    "ratio": ratio,
                    "target": target.at_least if target else None,
                    "met": None if target is None else ratio >= target.at_least,
                }
            )
    return found


def print_ratios(found: list[dict[str, Any]]) -> None:
    if not found:
        return
    print("\nRatios of the same run's medians:")
    for ratio in found:
        verdict = (
            "" if ratio["target"] is None else f"  target {ratio['target']}: {'met' if ratio['met'] else 'NOT MET'}"
        )
        print(f"  {ratio['scenario']:8} {ratio['design']:10} / {ratio['of']:8} {ratio['ratio']:6.3f}{verdict}")


def cpu_ms_per_operation(row: dict[str, Any]) -> dict[str, float]:
    """Milliseconds of CPU each part of the stack spent per operation (a median row's CPU
    percent of one core over its operations per second)."""
    ops = row["ops_per_s"]
    return {role: round(10 * percent / ops, 3) for role, percent in row["cpu_%"].items() if ops}


def print_deliveries(table: list[dict[str, Any]]) -> None:
    """The webhook scenario beside spread's (same design), and its delivery lags."""
    spread = {row["design"]: row["ops_per_s"] for row in table if row["scenario"] == "spread"}
    for row in table:
        if row["scenario"] != "webhook" or "delivery" not in row:
            continue
        d = row["delivery"]
        base = spread.get(row["design"])
        beside = f" vs spread {base}/s ({100 * (row['ops_per_s'] / base - 1):+.1f}%)" if base else ""
        print(
            f"\nwebhook ({row['design']}): {row['ops_per_s']}/s{beside}; delivery lag p50 {d['lag_p50_ms']} ms,"
            f" p99 {d['lag_p99_ms']} ms; p50 of the first third {d['lag_p50_first_third_ms']} ms,"
            f" of the last {d['lag_p50_last_third_ms']} ms; {d['delivered']:.0f} delivered"
        )
