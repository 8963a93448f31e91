"""A keyed load of every kind of money movement for failover tests: deposits and withdrawals,
transfers across shards, new holds and captures of holds made before, each request with its
Idempotency-Key, from many clients at once (``stack.keyed_load``: every key settled and replayed
byte for byte); then every balance and held amount checked against what the answers said. And
a probe beside it: unkeyed deposits that show when writes work again after a fault, and that
a 503 applied nothing (``stack.answers_true``)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine

from deploy.processes import wait_until
from tests.support.stack import (
    PROBE_DEPOSIT,
    Keyed,
    Stack,
    answers_true,
    call,
    keyed_load,
    keyed_post,
    one_ledger_row_per_key,
    pending_transfers,
    wallets_create,
)

FUNDS = Decimal("100.00")
TRANSFERS = "/api/v1/transfers"


@dataclass
class MixedLoad:
    """Funded wallets and what the answers say each holds, over one or more rounds of load."""

    stack: Stack
    shards: int
    rng: random.Random
    wallets: list[str] = field(default_factory=list)
    balance: dict[str, Decimal] = field(default_factory=dict)
    held: dict[str, Decimal] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    def create(self, count: int) -> None:
        self.wallets = wallets_create(self.stack.base, count, funds=str(FUNDS))
        self.balance = dict.fromkeys(self.wallets, FUNDS)
        self.held = dict.fromkeys(self.wallets, Decimal(0))
        self.keys = [f"fund-{w}" for w in self.wallets]

    def _other_shard(self, wallet: str) -> str:
        shard = uuid.UUID(wallet).int % self.shards
        return self.rng.choice([w for w in self.wallets if uuid.UUID(w).int % self.shards != shard])

    def plan(
        self, *, operations: int, transfers: int, holds: int, captures: int
    ) -> tuple[list[Keyed], dict[str, tuple[str, str]]]:
        """A shuffled plan, and the holds its captures name (made now, before any fault): hold
        id -> its wallet and the wallet it is captured to."""
        made: dict[str, tuple[str, str]] = {}
        for _ in range(captures):
            wallet = self.rng.choice(self.wallets)
            body = {"amount": "1.00", "to": self._other_shard(wallet)}
            key = f"h0-{uuid.uuid4()}"
            status, content = keyed_post(self.stack.base, f"/api/v1/wallets/{wallet}/holds", body, key)
            assert status == 201, content
            made[json.loads(content)["hold_id"]] = (wallet, body["to"])
            self.held[wallet] += Decimal("1.00")
            self.keys.append(key)
        plan: list[Keyed] = []
        for hold_id in made:
            amount = f"{self.rng.randint(1, 100) / 100:.2f}"
            plan.append((f"/api/v1/holds/{hold_id}/capture", {"amount": amount}, f"c-{uuid.uuid4()}"))
        for _ in range(transfers):
            source = self.rng.choice(self.wallets)
            body = {"from": source, "to": self._other_shard(source), "amount": f"{self.rng.randint(1, 800) / 100:.2f}"}
            plan.append((TRANSFERS, body, f"t-{uuid.uuid4()}"))
        for _ in range(holds):
            wallet = self.rng.choice(self.wallets)
            body = {"amount": f"{self.rng.randint(1, 300) / 100:.2f}", "to": self._other_shard(wallet)}
            plan.append((f"/api/v1/wallets/{wallet}/holds", body, f"h-{uuid.uuid4()}"))
        for i in range(operations):
            kind = "DEPOSIT" if i % 2 else "WITHDRAW"
            body = {"operationType": kind, "amount": f"{self.rng.randint(1, 1500) / 100:.2f}"}
            plan.append((f"/api/v1/wallets/{self.rng.choice(self.wallets)}/operation", body, f"op-{uuid.uuid4()}"))
        self.rng.shuffle(plan)
        return plan, made

    def run(
        self, plan: list[Keyed], made: dict[str, tuple[str, str]], fault: Callable[[], None], *, clients: int = 24
    ) -> None:
        """Send ``plan`` with ``fault`` a third of the way in; settle, replay, and account for
        every final answer."""
        finals = keyed_load(self.stack.base, plan, fault, clients=clients, decided=(200, 201, 400))
        self.keys += [key for _, _, key in plan]
        for (path, body, _), (status, content) in zip(plan, finals, strict=True):
            answer = json.loads(content)
            wallet = path.split("/")[4] if path.startswith("/api/v1/wallets/") else None
            if path.endswith("/capture"):
                assert status == 200, answer  # a hold made before the load is captured once
                assert (answer["state"], answer["transfer_state"]) == ("captured", "completed"), answer
                source, to = made[path.split("/")[4]]
                self.balance[source] -= Decimal(body["amount"])
                self.balance[to] += Decimal(body["amount"])
                self.held[source] -= Decimal("1.00")
            elif path == TRANSFERS:
                if status == 200:
                    assert answer["state"] == "completed", answer
                    self.balance[body["from"]] -= Decimal(body["amount"])
                    self.balance[body["to"]] += Decimal(body["amount"])
                else:
                    assert answer["error"] == "Insufficient funds", answer
            elif path.endswith("/holds"):
                assert wallet is not None
                if status == 201:
                    self.held[wallet] += Decimal(body["amount"])
                else:
                    assert answer["error"] == "Insufficient funds", answer
            else:
                assert wallet is not None
                if status == 200:
                    sign = 1 if body["operationType"] == "DEPOSIT" else -1
                    self.balance[wallet] += sign * Decimal(body["amount"])
                else:
                    assert answer["error"] == "Insufficient funds", answer

    def check(self, engine: Engine) -> None:
        """Every key one ledger row; every transfer decided; every wallet as the answers say."""
        wait_until(lambda: pending_transfers(engine) == 0, timeout=30, what="every transfer decided")
        one_ledger_row_per_key(engine, self.keys)
        for wallet in self.wallets:
            status, content = call(self.stack.base, "GET", f"/api/v1/wallets/{wallet}")
            assert status == 200, content
            money = json.loads(content)
            assert (Decimal(money["balance"]), Decimal(money["held"])) == (self.balance[wallet], self.held[wallet])


@dataclass
class Probe:
    """Unkeyed deposits (``PROBE_DEPOSIT``) on wallets of its own from a few clients, while a load runs:
    when the first write after a fault succeeded, and whether every answer was true."""

    stack: Stack
    wallets: list[str] = field(default_factory=list)
    answers: list[tuple[float, float, int, bytes]] = field(default_factory=list)
    """(sent, answered, status, body): times of ``time.monotonic``."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, clients: int = 4) -> None:
        self.wallets = wallets_create(self.stack.base, clients)
        self._stop.clear()
        for wallet in self.wallets:
            thread = threading.Thread(target=self._deposit, args=(wallet,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _deposit(self, wallet: str) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            status, content = call(self.stack.base, "POST", f"/api/v1/wallets/{wallet}/operation", PROBE_DEPOSIT)
            self.answers.append((sent, time.monotonic(), status, content))
            if status != 200:
                time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads.clear()

    def recovered_after(self, moment: float) -> float:
        """Seconds from ``moment`` to the first deposit answered 200 that was sent after it."""
        return min(answered - moment for sent, answered, status, _ in self.answers if status == 200 and sent > moment)

    def check(self, engine: Engine) -> None:
        answers_true(self.stack, engine, self.wallets, [(status, body) for _, _, status, body in self.answers])
