"""Statements: the opening balance, every applied row of the span and the closing balance, as
JSON or CSV, streamed in constant memory."""

from __future__ import annotations

import csv
import io
import json
import random
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete, text, update

from shared.operations import OperationType
from shared.tables import wallet_operations, wallets
from tests.support.api import Api, error_body
from tests.support.factories import ledger_rows, wallet_row


def statement(api: Api, wallet: str, start: datetime, end: datetime, **params: str) -> Any:
    response = api.client.get(
        f"/api/v1/wallets/{wallet}/statement", {"from": start.isoformat(), "to": end.isoformat(), **params}
    )
    assert response.status_code == 200, response.content
    return response


def body_of(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def test_opening_plus_rows_is_closing_for_random_spans_in_json_and_csv(api: Api, db: Engine, busy_wallet: str) -> None:
    rows = ledger_rows(db, busy_wallet)
    first, last = rows[0].applied_at, rows[-1].applied_at
    chosen = random.Random(2703)
    spans = [(first - timedelta(seconds=1), last + timedelta(seconds=1))]
    for _ in range(12):
        a, b = sorted(first + (last - first) * chosen.uniform(-0.1, 1.1) for _ in range(2))
        spans.append((a, b + timedelta(microseconds=1)))
    for start, end in spans:
        applied = [row for row in rows if start <= row.applied_at < end and row.status == "applied"]
        before = [row for row in rows if row.applied_at < start]
        opening = before[-1].balance_after if before else Decimal(0)
        closing = applied[-1].balance_after if applied else opening

        data = json.loads(body_of(statement(api, busy_wallet, start, end)))
        assert Decimal(data["opening_balance"]) == opening
        assert [row["operation_id"] for row in data["rows"]] == [str(row.id) for row in applied]
        changes = sum((Decimal(row["balance_change"]) for row in data["rows"]), Decimal(0))
        assert Decimal(data["opening_balance"]) + changes == Decimal(data["closing_balance"]) == closing
        assert data["row_count"] == len(applied)
        assert (data["from"], data["to"]) == (start.isoformat(), end.astimezone(UTC).isoformat())

        response = statement(api, busy_wallet, start, end, format="csv")
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        table = list(csv.DictReader(io.StringIO(body_of(response))))
        assert [line["type"] for line in (table[0], table[-1])] == ["OPENING_BALANCE", "CLOSING_BALANCE"]
        assert Decimal(table[0]["balance_after"]) == opening
        assert Decimal(table[-1]["balance_after"]) == closing
        lines = table[1:-1]
        assert [line["operation_id"] for line in lines] == [str(row.id) for row in applied]
        running = opening
        for line, row in zip(lines, applied, strict=True):
            running += Decimal(line["balance_change"])
            assert Decimal(line["balance_after"]) == running == row.balance_after
            assert line["type"] == row.operation_type
            assert line["reference"] == (row.reference or "")
            assert line["counterparty"] == (str(row.counterparty_id) if row.counterparty_id else "")


def test_csv_is_chosen_by_accept_and_a_formula_reference_is_defused(api: Api) -> None:
    wallet = api.create_wallet()
    sent = api.post_operation(wallet, {"operationType": "DEPOSIT", "amount": "2", "reference": "=HYPERLINK(1)"})
    assert sent.status_code == 200
    start, end = datetime.now(UTC) - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    response = api.client.get(f"/api/v1/wallets/{wallet}/statement", params, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="statement-{wallet}-')
    table = list(csv.DictReader(io.StringIO(body_of(response))))
    assert [line["reference"] for line in table] == ["", "'=HYPERLINK(1)", ""]
    as_json = json.loads(body_of(api.client.get(f"/api/v1/wallets/{wallet}/statement", params)))
    assert as_json["rows"][0]["reference"] == "=HYPERLINK(1)"  # JSON carries the client's text as sent


@pytest.mark.parametrize(
    ("params", "error", "code"),
    [
        (
            {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
            "Invalid range: from must be before to",
            "invalid_range",
        ),
        (
            {"from": "2025-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"},
            "Invalid range: from and to may be at most 366 days apart",
            "invalid_range",
        ),
        ({"to": "2026-03-01T00:00:00Z"}, "Invalid time: from must be", "invalid_time"),
        ({"from": "2026-03-01", "to": "2026-03-02T00:00:00Z"}, "Invalid time: from must be", "invalid_time"),
        (
            {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "format": "xml"},
            "Invalid filter: format must be csv or json",
            "invalid_filter",
        ),
        (
            {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "type": "DEPOSIT"},
            "Unknown query",
            "unknown_parameter",
        ),
    ],
)
def test_a_bad_span_is_400_naming_the_rule(api: Api, params: dict[str, str], error: str, code: str) -> None:
    wallet = api.create_wallet()
    response = api.client.get(f"/api/v1/wallets/{wallet}/statement", params)
    assert response.status_code == 400
    body = error_body(response)
    assert body["error"].startswith(error), body
    assert body["code"] == code


STREAMED_ROWS = 100_000


@pytest.fixture
def long_ledger(db: Engine) -> Iterator[uuid.UUID]:
    """A wallet with ``STREAMED_ROWS`` applied deposits of 1.00 over the last day, written
    straight into the ledger (a year of a busy wallet in a few seconds); removed afterwards so
    the audit after every later test does not read them again."""
    wallet = wallet_row(db)
    start = datetime.now(UTC) - timedelta(days=1)
    with db.begin() as conn:
        conn.execute(update(wallets).where(wallets.c.id == wallet).values(created_at=start - timedelta(seconds=1)))
        conn.execute(
            text(
                "INSERT INTO wallet_operations (id, wallet_id, operation_type, amount, status, balance_after,"
                " held_after, created_at, applied_at, currency)"
                " SELECT gen_random_uuid(), :wallet, :kind, 1, 'applied', i, 0, t, t, w.currency"
                " FROM generate_series(1, :rows) AS i, wallets w,"
                " LATERAL (SELECT :start + i * interval '1 millisecond' AS t) AS times"
                " WHERE w.id = :wallet ORDER BY i"
            ),
            {"wallet": wallet, "kind": OperationType.DEPOSIT.value, "rows": STREAMED_ROWS, "start": start},
        )
        conn.execute(update(wallets).where(wallets.c.id == wallet).values(balance=STREAMED_ROWS))
    yield wallet
    with db.begin() as conn:
        conn.execute(delete(wallet_operations).where(wallet_operations.c.wallet_id == wallet))
        conn.execute(delete(wallets).where(wallets.c.id == wallet))


def _streamed(response: Any) -> tuple[int, int, bytes]:
    """(bytes streamed, peak bytes allocated while streaming, the last piece)."""
    size, last = 0, b""
    tracemalloc.start()
    try:
        for piece in response.streaming_content:
            size += len(piece)
            last = piece
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return size, peak, last


def test_a_100000_row_statement_streams_in_flat_memory(api: Api, long_ledger: uuid.UUID) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    end = datetime.now(UTC)
    results = {}
    for shape in ("csv", "json"):
        response = statement(api, str(long_ledger), start, end, format=shape)
        results[shape] = _streamed(response)
    # A short one: what a statement holds whatever its length.
    short = statement(api, str(long_ledger), start, start + timedelta(days=1, seconds=10), format="csv")
    short_size, short_peak, _ = _streamed(short)
    for shape, (size, peak, _) in results.items():
        print(f"statement of {STREAMED_ROWS} rows as {shape}: {size / 1e6:.1f} MB streamed, peak {peak / 1e6:.2f} MB")
        assert size > 9_000_000
        assert peak < size / 4  # it never held the body
        assert peak < 1.5 * short_peak  # ten times the rows, the same memory
    print(f"statement of 10000 rows as csv: {short_size / 1e6:.1f} MB streamed, peak {short_peak / 1e6:.2f} MB")
    assert results["csv"][2].decode().splitlines()[-1].split(",")[1:5] == ["CLOSING_BALANCE", "", "", "100000.00"]
    assert json.loads("{" + results["json"][2].decode().rpartition("], ")[2]) == {
        "closing_balance": "100000.00",
        "row_count": STREAMED_ROWS,
    }
