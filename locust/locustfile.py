"""Load test: each simulated user creates and funds its own wallet, then mixes
balance reads, deposits and withdrawals 1:2:2, as the seed's locustfile did, transfers
to the wallets of the other users of its process (weight 1), and holds it then captures
or voids (weight 1).

Every request carries the API key in ``WALLET_API_KEY`` (``make load`` makes one of tenant
``load`` with load-test rate limits of its own; a key of yours keeps its limits).
An "Insufficient funds" 400 is the protocol working, so it counts as a success.
Run headless:
    WALLET_API_KEY=wk_... locust -f locust/locustfile.py --host http://127.0.0.1:8000 --headless -u 50 -r 10 -t 30s
"""

from __future__ import annotations

import os
import random
from typing import Any

from locust import FastHttpUser, between, task

OPERATION_URL = "/api/v1/wallets/[id]/operation"


API_KEY = os.environ.get("WALLET_API_KEY", "")


class WalletUser(FastHttpUser):
    wait_time = between(0.0, 0.05)
    default_headers = {"Authorization": f"Bearer {API_KEY}"}  # noqa: RUF012 (Locust reads a class attribute)
    wallets: list[str] = []  # noqa: RUF012 (the wallets of this process's users, to transfer to)

    def on_start(self) -> None:
        if not API_KEY:
            raise RuntimeError("set WALLET_API_KEY to an API key (`make load` makes one)")
        response = self.client.post("/api/v1/wallets", name="/api/v1/wallets")
        if response.status_code != 201:
            raise RuntimeError(f"cannot create a wallet: {response.status_code}")
        self.wallet_id = response.json()["id"]
        WalletUser.wallets.append(self.wallet_id)
        self.client.post(
            f"/api/v1/wallets/{self.wallet_id}/operation",
            json={"operationType": "DEPOSIT", "amount": "1000.00"},
            name=OPERATION_URL,
        )

    @task(1)
    def balance(self) -> None:
        self.client.get(f"/api/v1/wallets/{self.wallet_id}", name="/api/v1/wallets/[id]")

    @task(2)
    def deposit(self) -> None:
        self._operate("DEPOSIT")

    @task(2)
    def withdraw(self) -> None:
        self._operate("WITHDRAW")

    @task(1)
    def transfer(self) -> None:
        others = [w for w in WalletUser.wallets if w != self.wallet_id]
        if not others:
            return
        body = {"from": self.wallet_id, "to": random.choice(others), "amount": f"{random.randint(1, 5000) / 100:.2f}"}
        with self.client.post(
            "/api/v1/transfers", json=body, name="/api/v1/transfers", catch_response=True
        ) as response:
            refused = response.status_code == 400 and response.json().get("error") == "Insufficient funds"
            if response.status_code in (200, 202) or refused:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(1)
    def hold(self) -> None:
        """Hold, then capture part of it or void it (a request each)."""
        cents = random.randint(1, 5000)
        body = {"amount": f"{cents / 100:.2f}", "expires_in": 300}
        with self.client.post(
            f"/api/v1/wallets/{self.wallet_id}/holds", json=body, name="/api/v1/wallets/[id]/holds", catch_response=True
        ) as response:
            _judge(response)
            if response.status_code != 201:
                return
            hold_id = response.json()["hold_id"]
        if random.random() < 0.5:
            action, change = "capture", {"amount": f"{random.randint(1, cents) / 100:.2f}"}
        else:
            action, change = "void", {}
        with self.client.post(
            f"/api/v1/holds/{hold_id}/{action}", json=change, name=f"/api/v1/holds/[id]/{action}", catch_response=True
        ) as response:
            _judge(response)

    def _operate(self, kind: str) -> None:
        amount = f"{random.randint(1, 20000) / 100:.2f}"
        with self.client.post(
            f"/api/v1/wallets/{self.wallet_id}/operation",
            json={"operationType": kind, "amount": amount},
            name=f"{OPERATION_URL} {kind}",
            catch_response=True,
        ) as response:
            _judge(response)


def _judge(response: Any) -> None:
    """200, 201 and 202 succeed, and so does "Insufficient funds" (the protocol working)."""
    refused = response.status_code == 400 and response.json().get("error") == "Insufficient funds"
    if response.status_code in (200, 201, 202) or refused:
        response.success()
    else:
        response.failure(f"{response.status_code}: {response.text[:200]}")
