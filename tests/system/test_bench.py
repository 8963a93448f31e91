"""The benchmark's own parts: its peers serve what they stand for, and its report and
side-by-side comparison compute the ratios the targets are read from."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from deploy.bench.compare import side_by_side
from deploy.bench.peers import PEERS
from deploy.bench.report import ratios
from deploy.bench.rowlock_setup import ROWLOCK_WALLETS, THREADS, rowlock_prepare
from deploy.bench.stacks import summary
from deploy.processes import ROOT, free_port, stop
from tests.support.http_client import NO_KEY, call_json


@pytest.fixture
def peer_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The peer named by the test's parameter, served by gunicorn as the bench serves it."""
    port = free_port()
    proc = PEERS[request.param].start(port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def rowlock_wallet(database: Engine) -> Iterator[uuid.UUID]:
    wallet = uuid.uuid4()
    rowlock_prepare(database, [str(wallet)], Decimal("10.00"))
    yield wallet
    ROWLOCK_WALLETS.drop(database)


@pytest.mark.parametrize("peer_url", ["rowlock"], indirect=True)
def test_the_row_lock_peer_serialises_a_wallets_writers_on_its_row(
    peer_url: str, rowlock_wallet: uuid.UUID, database: Engine
) -> None:
    path = f"/api/v1/wallets/{rowlock_wallet}/operation"
    withdraw = {"operationType": "WITHDRAW", "amount": "1.00"}
    with ThreadPoolExecutor(2 * THREADS) as pool:
        answers = list(pool.map(lambda _: call_json(peer_url, "POST", path, withdraw, token=NO_KEY), range(15)))
    assert sorted(status for status, _ in answers) == [200] * 10 + [400] * 5
    assert {body["error"] for status, body in answers if status == 400} == {"Insufficient funds"}
    assert sorted(Decimal(body["new_balance"]) for status, body in answers if status == 200) == [
        Decimal(n) for n in range(10)
    ]
    with database.connect() as conn:
        assert conn.execute(select(ROWLOCK_WALLETS.c.balance)).scalar_one() == Decimal("0.00")
    assert call_json(peer_url, "POST", f"/api/v1/wallets/{uuid.uuid4()}/operation", withdraw, token=NO_KEY) == (
        404,
        {"error": "Wallet not found"},
    )


@pytest.mark.parametrize("peer_url", ["ceiling"], indirect=True)
def test_the_ceiling_peer_only_answers_json(peer_url: str) -> None:
    status, body = call_json(peer_url, "GET", f"/api/v1/wallets/{uuid.uuid4()}", token=NO_KEY)
    assert status == 200
    assert set(body) == {"id", "balance"}


def test_the_report_reads_each_target_from_the_same_runs_medians() -> None:
    table = [
        {"scenario": "ceiling", "design": "django", "ops_per_s": 4000},
        {"scenario": "rowlock", "design": "seed", "ops_per_s": 400},
        {"scenario": "hot", "design": "pywsgi", "ops_per_s": 1000},
        {"scenario": "spread", "design": "pywsgi", "ops_per_s": 800},
        {"scenario": "transfer", "design": "pywsgi", "ops_per_s": 400},
    ]
    found = {(r["scenario"], r["of"]): (r["ratio"], r["met"]) for r in ratios(table)}
    assert found == {
        ("hot", "ceiling"): (0.25, True),
        ("hot", "rowlock"): (2.5, True),
        ("spread", "ceiling"): (0.2, None),
        ("transfer", "ceiling"): (0.1, None),
        ("transfer", "spread"): (0.5, False),
    }


def test_the_comparison_reads_each_round_against_its_own_ceiling() -> None:
    def round_of(ceiling: float, hot: float) -> list[dict[str, object]]:
        return [
            {"scenario": "ceiling", "design": "django", "ops_per_s": ceiling, "ledger": "ok", "p99_ms": 1.0},
            {
                "scenario": "hot",
                "design": "pywsgi",
                "ops_per_s": hot,
                "ledger": "ok",
                "p99_ms": 1.0,
                "cpu_ms_per_op": {"web": hot / 1000},
            },
        ]

    base = [round_of(4000, 600), round_of(2000, 400), round_of(4000, 800)]
    head = [round_of(4000, 800), round_of(3000, 600), round_of(4000, 1000)]
    hot = next(row for row in side_by_side(["base", "head"], [base, head]) if row["scenario"] == "hot")
    assert hot["median"] == {"base": 600, "head": 800}
    assert hot["ceiling_share"] == {"base": 0.2, "head": 0.2}
    assert hot["cpu_ms_per_op"] == {"base": {"web": 0.6}, "head": {"web": 0.8}}
    assert json.loads(json.dumps(hot)) == hot  # written to the comparison's JSON as it is


def test_the_figures_the_performance_page_quotes_are_those_of_the_bench_run_it_names() -> None:
    """``docs/performance.md``'s current figures: each rate, p99 and share of the ceiling is the
    median of the committed ``make bench`` run the section names (the service's rows and the
    peers'), and the section names every target's verdict as that run gave it."""
    page = (ROOT / "docs" / "performance.md").read_text()
    section = page[page.index("## Current figures") :]
    section = section[: section.index("\n## ", 1)]
    [named] = re.findall(r"deploy/bench/results/bench-\w+\.json", section)
    run = json.loads((ROOT / named).read_text())
    rows = {row["scenario"]: row for row in run["medians"] if row["scenario"] != "drain"}
    shares = {r["scenario"]: r["ratio"] for r in run["ratios"] if r["of"] == "ceiling"}
    ceiling = rows["ceiling"]["ops_per_s"]
    quoted = re.findall(r"^\| (\w+) [^|]*\| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|", section, re.M)
    assert {scenario for scenario, *_ in quoted} == set(rows)
    for scenario, rate, p99, share in quoted:
        row = rows[scenario]
        assert int(rate.replace(",", "")) == row["ops_per_s"], scenario
        assert float(p99) == row["p99_ms"], scenario
        assert float(share) == shares.get(scenario, round(row["ops_per_s"] / ceiling, 3)), scenario
    verdicts = re.findall(r"^\| (\w+) / (\w+) \| ([\d.]+) \| ([\d.]+) \| (met|not met) \|", section, re.M)
    targets = [r for r in run["ratios"] if r["target"] is not None]
    assert len(verdicts) == len(targets)
    for scenario, of, ratio, target, verdict in verdicts:
        [found] = [r for r in targets if (r["scenario"], r["of"]) == (scenario, of)]
        assert (float(ratio), float(target), verdict == "met") == (found["ratio"], found["target"], found["met"])


def test_the_profile_counts_each_function_once_per_sample_through_it_and_where_it_stops(tmp_path: Path) -> None:
    """``make profile``'s summary of py-spy's collapsed stacks (``thread;frame;frame count``)."""
    stacks = tmp_path / "web-1.txt"
    site = "/x/.venv/lib/python3.11/site-packages"
    stacks.write_text(
        f"process 1;handle ({site}/gevent/pywsgi.py:10);view ({ROOT}/web/v.py:3);send ({site}/gevent/s.py:7) 3\n"
        f"process 1;handle ({site}/gevent/pywsgi.py:10);view ({ROOT}/web/v.py:3) 1\n"
        # recursion: a function twice in one stack counts once for that sample
        f"process 1;handle ({site}/gevent/pywsgi.py:10);handle ({site}/gevent/pywsgi.py:12) 2\n"
        # a sample torn by sampling without pausing (a frame's text over two lines): its first
        # line has no count and is skipped; its last counts, with no frame to name
        f"process 1;handle ({site}/gevent/pywsgi.py:10);__package__ (__doc__:-65520); (>>>     a=A(\n"
        "x), 1\n"
    )
    total, through, stops = summary([stacks])
    assert total == 7
    assert through["gevent/pywsgi.py:handle"] == 6
    assert through["web/v.py:view"] == 4
    assert stops == {"gevent/s.py:send": 3, "web/v.py:view": 1, "gevent/pywsgi.py:handle": 2}


SMALL_HISTORY = ("--rows", "20000", "--others", "2", "--pages", "5", "--target-ms", "60000")


def test_the_history_benchmark_reads_every_filter_from_an_index() -> None:
    """``make bench-history``'s mechanics on a small ledger (the figures are the benchmark's to
    give, not a test's): every filter's pages are read, timed and planned, none by a sequential
    scan of the ledger, and the ledger it filled passes the audit."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "bench" / "history.py"), *SMALL_HISTORY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [written] = re.findall(r"written to (\S+)", done.stdout)
    found = json.loads((ROOT / written).read_text())
    (ROOT / written).unlink()
    assert found["rows"] == 20000
    assert [f["pages"] for f in found["filters"]] == [5] * 8
    assert not any(f["seq_scan"] for f in found["filters"])
    assert all("Index" in f["plan"] for f in found["filters"])
