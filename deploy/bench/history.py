"""``make bench-history``: searching the ledger of a wallet of 1,000,000 rows, page by page.

It makes its own database (``wallet_history_bench``, dropped and made again, migrated), fills one
wallet with ``--rows`` ledger rows in one statement (a running balance the ledger audit accepts:
deposits and withdrawals, one in 20 rejected, a reference on one in 10 rows, metadata on one in
5, one minute apart) beside ``--others`` wallets of 1,000 rows each, and ``ANALYZE``s it. Then, for
each filter of ``GET /api/v1/wallets/<id>/operations``, it reads ``--pages`` pages of 50 rows as
the API does (``web.wallets.money.history.wallet_history_list``, in this process, on the web's
pool): the first page, and pages below cursors spread over the ledger. It prints each filter's
median and p99 in milliseconds, checks the target (p99 under ``--target-ms``, 20), and writes
the figures and each filter's plan (``EXPLAIN (ANALYZE, BUFFERS)`` of its first page) to
``bench-results/history-<time>.json``. It exits 1 if a filter misses the target or its plan
reads the ledger with a sequential scan.

    python deploy/bench/history.py --rows 1000000 --pages 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

os.environ.update(
    {
        # Dropped and made again (its name must end in _bench): never point it at data you keep.
        "DATABASE_URL": os.environ.get(
            "BENCH_HISTORY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/wallet_history_bench"
        ),
        "SECRET_KEY": "bench-only-not-secret",
        "DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "web.settings",
        "API_AUTH": "off",
        "API_AUTH_FORCE_OFF": "1",
    }
)

import django  # noqa: E402

django.setup()

from shared.audit import ledger_sound  # noqa: E402
from shared.config import get_settings  # noqa: E402
from shared.connections import engine_from_settings  # noqa: E402
from shared.operations import OperationType  # noqa: E402
from shared.outcomes import OperationStatus  # noqa: E402
from web.database import get_engine  # noqa: E402
from web.wallets.auth.api_keys import Caller  # noqa: E402
from web.wallets.inputs import HISTORY_DEFAULT_LIMIT, HistoryFilters  # noqa: E402
from web.wallets.money import history  # noqa: E402

RESULTS = ROOT / "bench-results"
START = datetime(2026, 1, 1, tzinfo=UTC)
"""The time of the busy wallet's first row; each next one is a minute later."""

# One wallet's rows, each a deposit of 1.00 to 9.00 or a withdrawal of the same, every 20th a
# refused withdrawal; balance_after is the running sum of the applied ones over an opening
# deposit large enough that no withdrawal goes below zero. Built from constants only.
_FILL = """
INSERT INTO wallet_operations (id, wallet_id, operation_type, amount, status, error, balance_after,
    held_after, created_at, applied_at, currency, reference, metadata)
SELECT gen_random_uuid(), %(wallet)s, g.kind, g.amount, g.status, g.error,
    %(opening)s + sum(CASE WHEN g.status = 'rejected' THEN 0 WHEN g.kind = 'DEPOSIT' THEN g.amount
                           ELSE -g.amount END) OVER (ORDER BY g.i),
    0, g.at, g.at, 'EUR', g.reference, g.metadata
FROM (
    SELECT i,
        CASE WHEN i %% 20 = 0 OR i %% 2 = 1 THEN 'WITHDRAW' ELSE 'DEPOSIT' END AS kind,
        (1 + i %% 9)::numeric(20, 2) AS amount,
        CASE WHEN i %% 20 = 0 THEN 'rejected' ELSE 'applied' END AS status,
        CASE WHEN i %% 20 = 0 THEN 'Insufficient funds' END AS error,
        %(start)s::timestamptz + make_interval(mins => i) AS at,
        CASE WHEN i %% 10 = 3 THEN 'order-' || (i %% 5000) END AS reference,
        CASE WHEN i %% 5 = 1 THEN jsonb_build_object('channel', (ARRAY['web', 'shop', 'app'])[1 + i %% 3],
                                                     'batch', (i %% 1000)::text) END AS metadata
    FROM generate_series(1, %(rows)s) AS i
) g
"""
_OPENING = """
INSERT INTO wallet_operations (id, wallet_id, operation_type, amount, status, balance_after, held_after,
    created_at, applied_at, currency)
VALUES (gen_random_uuid(), %(wallet)s, 'DEPOSIT', %(opening)s, 'applied', %(opening)s, 0, %(at)s, %(at)s, 'EUR')
"""
_BALANCE = """
UPDATE wallets SET balance = (SELECT balance_after FROM wallet_operations WHERE wallet_id = %(wallet)s
    ORDER BY applied_at DESC, seq DESC LIMIT 1) WHERE id = %(wallet)s
"""


def database_made() -> None:
    manage = [sys.executable, str(ROOT / "web" / "manage.py")]
    subprocess.run([*manage, "createdb", "--fresh"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*manage, "migrate", "--verbosity", "0"], check=True, cwd=ROOT)


def wallet_filled(rows: int) -> str:
    """A new wallet with an opening deposit and ``rows`` rows after it; its id."""
    engine = engine_from_settings(get_settings())
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "INSERT INTO wallets (id, currency, created_at, updated_at)"
            " VALUES (gen_random_uuid(), 'EUR', %(at)s, %(at)s) RETURNING id",
            {"at": START - timedelta(minutes=1)},
        )
        made = cursor.fetchone()
        assert made is not None
        wallet = str(made[0])
        params = {"wallet": wallet, "opening": 10 * rows, "rows": rows, "start": START, "at": START}
        cursor.execute(_OPENING, params)
        cursor.execute(_FILL, params)
        cursor.execute(_BALANCE, params)
        raw.commit()
        return wallet
    finally:
        raw.close()
        engine.dispose()


def analyzed() -> None:
    engine = engine_from_settings(get_settings())
    raw = engine.raw_connection()
    try:
        raw.set_session(autocommit=True)
        raw.cursor().execute("VACUUM ANALYZE wallet_operations")
    finally:
        raw.close()
        engine.dispose()


def cases(rows: int) -> dict[str, HistoryFilters]:
    """Each filter the API takes, alone, and two together; named as a client writes them."""
    day = START + timedelta(minutes=rows // 2)
    return {
        "none": HistoryFilters(),
        "type=DEPOSIT": HistoryFilters(operation_type=OperationType.DEPOSIT),
        "status=rejected": HistoryFilters(status=OperationStatus.REJECTED),
        "created_after+before (a day)": HistoryFilters(created_after=day, created_before=day + timedelta(days=1)),
        "reference=order-1233": HistoryFilters(reference="order-1233"),
        "metadata[channel]=app": HistoryFilters(metadata=(("channel", "app"),)),
        "metadata[batch]=21": HistoryFilters(metadata=(("batch", "21"),)),
        "type=WITHDRAW&metadata[channel]=web": HistoryFilters(
            operation_type=OperationType.WITHDRAW, metadata=(("channel", "web"),)
        ),
    }


def timed_pages(wallet: str, filters: HistoryFilters, pages: int, top: int, rng: random.Random) -> list[float]:
    """Milliseconds of ``pages`` reads: the first page, then pages below random positions."""
    caller = Caller(key_id=None, tenant_id=None, can_write=True, rates={})
    times = []
    for n in range(pages):
        after = None if n == 0 else rng.randrange(2, top + 2)
        started = time.perf_counter()
        history.wallet_history_list(
            wallet_id=UUID(wallet), caller=caller, filters=filters, limit=HISTORY_DEFAULT_LIMIT, after=after
        )
        times.append(1000 * (time.perf_counter() - started))
    return times


def plan_of(wallet: str, filters: HistoryFilters) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of a filter's first page, as the API sends it."""
    conditions, params = history.history_conditions(filters)
    sql = history.history_sql(conditions)  # the first page's: no position to continue below
    raw = get_engine().raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql,
            {**params, "wallet": wallet, "after": None, "limit": HISTORY_DEFAULT_LIMIT + 1},
        )
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()


def p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the busy wallet (default 1000000)")
    parser.add_argument("--others", type=int, default=20, help="other wallets, of 1000 rows each (default 20)")
    parser.add_argument("--pages", type=int, default=200, help="pages read per filter (default 200)")
    parser.add_argument("--target-ms", type=float, default=20.0, help="p99 per page to stay under (default 20)")
    args = parser.parse_args()
    database_made()
    started = time.monotonic()
    for _ in range(args.others):
        wallet_filled(1000)
    wallet = wallet_filled(args.rows)
    analyzed()
    print(f"filled a wallet with {args.rows} rows in {time.monotonic() - started:.0f} s", flush=True)
    engine = engine_from_settings(get_settings())
    try:
        assert ledger_sound(engine), "the ledger audit failed on the filled ledger"
    finally:
        engine.dispose()
    rng = random.Random(1)
    found: list[dict[str, Any]] = []
    failed = False
    for name, filters in cases(args.rows).items():
        plan_of(wallet, filters)  # once unmeasured: the pool connects, the pages are cached
        times = timed_pages(wallet, filters, args.pages, args.rows, rng)
        plan = plan_of(wallet, filters)
        seq_scan = "Seq Scan on wallet_operations" in plan
        row = {
            "filter": name,
            "pages": len(times),
            "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(p99(times), 2),
            "max_ms": round(max(times), 2),
            "seq_scan": seq_scan,
            "plan": plan,
        }
        met = row["p99_ms"] < args.target_ms and not seq_scan
        failed = failed or not met
        print(
            f"  {name:38} p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms  max {row['max_ms']:6.2f} ms"
            f"  {'met' if met else 'NOT MET'}",
            flush=True,
        )
        found.append(row)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"history-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"rows": args.rows, "target_ms": args.target_ms, "filters": found}, indent=2) + "\n")
    print(f"figures and plans written to {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
