"""Concurrent clients against real gunicorn and shard worker processes, over HTTP."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from deploy.processes import free_port, start_gunicorn, stop, wait_until
from shared.wallet_controls import Controls
from tests.support.api import NO_ANNOTATIONS, settled
from tests.support.http_client import call_json, exchange
from tests.support.stack import pending_transfers, wallets_create

pytestmark = pytest.mark.live


class Http:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        status, answer = call_json(self.base, method, path, body)
        assert isinstance(answer, dict), answer
        return status, answer

    def settle(self, status: int, body: dict[str, Any]) -> str:
        """The final outcome of an operation answer: 'applied' or the rejection text."""
        if status == 200:
            return "applied"
        if status == 202:
            state = settled(lambda path: self.call("GET", path)[1], f"/api/v1/operations/{body['operation_id']}")
            return "applied" if state["status"] == "applied" else str(state["error"])
        assert status == 400, (status, body)
        return str(body["error"])


@pytest.fixture(scope="module")
def http(shard_worker: None) -> Iterator[Http]:
    port = free_port()
    proc = start_gunicorn(port)
    yield Http(f"http://127.0.0.1:{port}")
    stop(proc)


def new_wallet(http: Http, balance: int) -> str:
    return wallets_create(http.base, 1, funds=str(balance) if balance else None)[0]


def test_200_concurrent_withdrawals_exactly_5_succeed(http: Http) -> None:
    wallet = new_wallet(http, 1000)
    withdraw = {"operationType": "WITHDRAW", "amount": 200}
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: http.call("POST", f"/api/v1/wallets/{wallet}/operation", withdraw), range(200))
        )
    outcomes = Counter(http.settle(status, body) for status, body in answers)
    assert outcomes == {"applied": 5, "Insufficient funds": 195}
    assert http.call("GET", f"/api/v1/wallets/{wallet}") == (
        200,
        {
            "id": wallet,
            "currency": "EUR",
            "balance": "0.00",
            "available": "0.00",
            "held": "0.00",
            **Controls().to_json("EUR"),
            **NO_ANNOTATIONS,
        },
    )


def limited_wallet(http: Http, funds: str, **limits: str) -> str:
    """A new wallet with ``limits`` (``min_balance``, ``max_balance``), funded with ``funds``."""
    status, made = http.call("POST", "/api/v1/wallets", limits)
    assert status == 201, made
    deposit = {"operationType": "DEPOSIT", "amount": funds}
    assert http.call("POST", f"/api/v1/wallets/{made['id']}/operation", deposit)[0] == 200
    return str(made["id"])


def test_200_concurrent_withdrawals_against_an_overdraft_line_end_exactly_at_it_holds_counted(http: Http) -> None:
    wallet = limited_wallet(http, "100.00", min_balance="-50.00")
    assert http.call("POST", f"/api/v1/wallets/{wallet}/holds", {"amount": "30.00"})[0] == 201
    withdraw = {"operationType": "WITHDRAW", "amount": "1.00"}
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: http.call("POST", f"/api/v1/wallets/{wallet}/operation", withdraw), range(200))
        )
    outcomes = Counter(http.settle(status, body) for status, body in answers)
    assert outcomes == {"applied": 120, "Insufficient funds": 80}  # 100 + 50 of line - 30 held
    _, body = http.call("GET", f"/api/v1/wallets/{wallet}")
    assert (body["balance"], body["available"], body["held"], body["min_balance"]) == (
        "-20.00",
        "-50.00",
        "30.00",
        "-50.00",
    )


def test_concurrent_deposits_racing_to_the_maximum_stop_exactly_there(http: Http) -> None:
    wallet = limited_wallet(http, "0.50", max_balance="100.00")
    deposit = {"operationType": "DEPOSIT", "amount": "0.50"}
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: http.call("POST", f"/api/v1/wallets/{wallet}/operation", deposit), range(300))
        )
    outcomes = Counter(http.settle(status, body) for status, body in answers)
    assert outcomes == {"applied": 199, "Balance limit exceeded": 101}
    assert http.call("GET", f"/api/v1/wallets/{wallet}")[1]["balance"] == "100.00"


def test_concurrent_partial_reversals_stop_exactly_at_the_original_amount(http: Http) -> None:
    wallet = new_wallet(http, 0)
    status, deposit = http.call(
        "POST", f"/api/v1/wallets/{wallet}/operation", {"operationType": "DEPOSIT", "amount": "100.00"}
    )
    assert status == 200
    reversal = f"/api/v1/operations/{deposit['operation_id']}/reversal"
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: http.call("POST", reversal, {"amount": "3.00"}), range(60)))
    outcomes = Counter(http.settle(status, body) for status, body in answers)
    assert outcomes == {"applied": 33, "Reversal exceeds the amount left to reverse": 27}
    assert http.call("GET", f"/api/v1/operations/{deposit['operation_id']}")[1]["reversed_amount"] == "99.00"
    assert http.call("POST", reversal, {})[0] == 200  # the rest: 1.00
    assert http.call("GET", f"/api/v1/wallets/{wallet}")[1]["balance"] == "0.00"


def test_concurrent_deposits_add_up_exactly(http: Http) -> None:
    wallets = [new_wallet(http, 0) for _ in range(3)]
    amounts = [Decimal("0.01") * (i % 97 + 1) + i for i in range(600)]
    jobs = [(wallets[i % 3], amount) for i, amount in enumerate(amounts)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(
            pool.map(
                lambda job: http.call(
                    "POST", f"/api/v1/wallets/{job[0]}/operation", {"operationType": "DEPOSIT", "amount": str(job[1])}
                ),
                jobs,
            )
        )
    assert all(http.settle(status, body) == "applied" for status, body in answers)
    for index, wallet in enumerate(wallets):
        expected = sum(amount for i, amount in enumerate(amounts) if i % 3 == index)
        _status, body = http.call("GET", f"/api/v1/wallets/{wallet}")
        assert Decimal(body["balance"]) == expected


def test_mixed_concurrent_operations_on_many_wallets(http: Http) -> None:
    wallets = [new_wallet(http, 100) for _ in range(20)]
    plan = [(wallets[i % 20], "WITHDRAW" if i % 3 else "DEPOSIT", 30) for i in range(400)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(
            pool.map(
                lambda p: http.call(
                    "POST", f"/api/v1/wallets/{p[0]}/operation", {"operationType": p[1], "amount": p[2]}
                ),
                plan,
            )
        )
    outcomes = [http.settle(status, body) for status, body in answers]
    assert set(outcomes) <= {"applied", "Insufficient funds"}
    expected = dict.fromkeys(wallets, 100)
    for (wallet, kind, amount), outcome in zip(plan, outcomes, strict=True):
        if outcome == "applied":
            expected[wallet] += amount if kind == "DEPOSIT" else -amount
    for wallet in wallets:
        assert http.call("GET", f"/api/v1/wallets/{wallet}")[1]["balance"] == f"{expected[wallet]}.00"


def _hold_outcome(http: Http, status: int, body: dict[str, Any]) -> str:
    """'active' or the rejection text of a hold request, once it settled."""
    if status == 201:
        return "active"
    if status == 202:
        location = f"/api/v1/holds/{body['hold_id']}"
        wait_until(lambda: http.call("GET", location)[1]["state"] != "pending", timeout=30, what="the hold")
        state = http.call("GET", location)[1]
        return str(state["state"] if state["state"] == "active" else state["error"])
    assert status == 400, (status, body)
    return str(body["error"])


def test_100_concurrent_holds_of_10_on_100_exactly_10_succeed(http: Http) -> None:
    wallet = new_wallet(http, 100)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: http.call("POST", f"/api/v1/wallets/{wallet}/holds", {"amount": "10.00"}), range(100))
        )
    outcomes = Counter(_hold_outcome(http, status, body) for status, body in answers)
    assert outcomes == {"active": 10, "Insufficient funds": 90}
    assert http.call("GET", f"/api/v1/wallets/{wallet}") == (
        200,
        {
            "id": wallet,
            "currency": "EUR",
            "balance": "100.00",
            "available": "0.00",
            "held": "100.00",
            **Controls().to_json("EUR"),
            **NO_ANNOTATIONS,
        },
    )
    refused = http.call("POST", f"/api/v1/wallets/{wallet}/operation", {"operationType": "WITHDRAW", "amount": "0.01"})
    assert refused == (400, {"error": "Insufficient funds", "code": "insufficient_funds"})


def test_50_concurrent_captures_and_voids_of_one_hold_exactly_one_wins(http: Http) -> None:
    wallet = new_wallet(http, 100)
    status, made = http.call("POST", f"/api/v1/wallets/{wallet}/holds", {"amount": "40.00"})
    assert status == 201, made
    hold_id = made["hold_id"]
    actions = ["capture" if i % 2 else "void" for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda a: (a, *http.call("POST", f"/api/v1/holds/{hold_id}/{a}")), actions))
    winners = [(action, body) for action, status, body in answers if status == 200]
    losers = Counter(status for _, status, _ in answers if status != 200)
    assert set(losers) <= {409, 202}, losers

    def changes() -> list[dict[str, Any]]:
        history = http.call("GET", f"/api/v1/wallets/{wallet}/operations?limit=500")[1]["results"]
        return [row for row in history if row["operationType"] in ("HOLD_CAPTURE", "HOLD_VOID")]

    # Every request decided by the worker (a 202 a little later), one applied.
    wait_until(lambda: len(changes()) == 50, timeout=30, what="every capture and void decided")
    decided = changes()
    assert len(decided) == 50
    applied = [row for row in decided if row["status"] == "applied"]
    assert len(applied) == 1
    assert len(winners) <= 1
    if winners:
        assert winners[0][1]["operation_id"] == applied[0]["operation_id"]
    won_by_capture = applied[0]["operationType"] == "HOLD_CAPTURE"
    final = http.call("GET", f"/api/v1/holds/{hold_id}")[1]
    assert final["state"] == ("captured" if won_by_capture else "voided")
    assert {row["error"] for row in decided if row["status"] == "rejected"} == {
        "Hold was already captured" if won_by_capture else "Hold was voided"
    }
    balance = "60.00" if won_by_capture else "100.00"
    assert http.call("GET", f"/api/v1/wallets/{wallet}") == (
        200,
        {
            "id": wallet,
            "currency": "EUR",
            "balance": balance,
            "available": balance,
            "held": "0.00",
            **Controls().to_json("EUR"),
            **NO_ANNOTATIONS,
        },
    )


def test_head_answers_where_get_does_with_its_headers_and_no_body(http: Http) -> None:
    wallet = new_wallet(http, 5)
    for path in (f"/api/v1/wallets/{wallet}", f"/api/v1/wallets/{wallet}/operations", "/healthz", "/readyz"):
        get_status, get_headers, get_body = exchange(http.base, "GET", path)
        status, headers, body = exchange(http.base, "HEAD", path)
        assert (status, body) == (get_status, b""), path
        assert headers["Content-Type"] == get_headers["Content-Type"] == "application/json"
        assert isinstance(json.loads(get_body), dict), path
    _, _, balance = exchange(http.base, "GET", f"/api/v1/wallets/{wallet}")
    assert json.loads(balance) == {
        "id": wallet,
        "currency": "EUR",
        "balance": "5.00",
        "available": "5.00",
        "held": "0.00",
        **Controls().to_json("EUR"),
        **NO_ANNOTATIONS,
    }
    assert exchange(http.base, "HEAD", f"/api/v1/wallets/{wallet}/operation")[0] == 405


def test_money_is_conserved_in_each_currency_under_a_mixed_concurrent_load(http: Http, db: Engine) -> None:
    """Deposits, withdrawals and transfers in three currencies of 0, 2 and 3 decimals, with
    transfers across currencies among them (each refused before anything is queued), all at
    once: in each currency the wallets end with what came in less what went out, and the
    audit (``db``) finds each currency conserved on its own."""
    units = {"JPY": Decimal(1), "EUR": Decimal("0.01"), "KWD": Decimal("0.001")}
    funds = {currency: unit * 100_000 for currency, unit in units.items()}
    wallets = {c: wallets_create(http.base, 3, funds=str(funds[c]), currency=c) for c in units}
    rng = random.Random(26)
    plan: list[tuple[str, str, dict[str, Any]]] = []
    for _ in range(300):
        currency = rng.choice(list(units))
        amount = str(units[currency] * rng.randint(1, 30_000))
        source, destination = rng.sample(wallets[currency], 2)
        kind = rng.choice(["DEPOSIT", "WITHDRAW", "transfer", "across"])
        if kind == "transfer":
            plan.append((currency, "/api/v1/transfers", {"from": source, "to": destination, "amount": amount}))
        elif kind == "across":
            other = rng.choice([c for c in units if c != currency])
            plan.append((currency, "/api/v1/transfers", {"from": source, "to": wallets[other][0], "amount": amount}))
        else:
            plan.append((currency, f"/api/v1/wallets/{source}/operation", {"operationType": kind, "amount": amount}))
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda item: http.call("POST", item[1], item[2]), plan))
    net = dict.fromkeys(units, Decimal(0))
    for (currency, _path, body), (status, answer) in zip(plan, answers, strict=True):
        if "to" in body:
            if body["to"] not in wallets[currency]:
                assert (status, answer["error"]) == (400, "Currency mismatch")
            continue
        if http.settle(status, answer) == "applied":
            net[currency] += Decimal(body["amount"]) * (1 if body["operationType"] == "DEPOSIT" else -1)
    wait_until(lambda: pending_transfers(db) == 0, timeout=30, what="every transfer settled")
    for currency, ids in wallets.items():
        shown = [http.call("GET", f"/api/v1/wallets/{wallet}")[1] for wallet in ids]
        assert {body["currency"] for body in shown} == {currency}
        assert all(len(body["balance"].partition(".")[2]) == units[currency].as_tuple().exponent * -1 for body in shown)
        assert sum(Decimal(body["balance"]) for body in shown) == 3 * funds[currency] + net[currency]
