"""What the bench and its row-lock peer (``deploy.bench.rowlock``) agree on, apart from the
peer's Django configuration (which importing it would install in the bench): its table, how it
is made, and how many threads each of its processes runs."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from sqlalchemy import Column, Engine, MetaData, Numeric, Table, Uuid, insert

THREADS = 8
"""Threads per gunicorn process of the peer (the seed's 2 x 8)."""

ROWLOCK_WALLETS = Table(
    "rowlock_wallets",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("balance", Numeric(20, 2), nullable=False),
)


def rowlock_prepare(db: Engine, wallets: list[str], funds: Decimal) -> None:
    """The peer's table, made anew with ``wallets`` holding ``funds`` each."""
    ROWLOCK_WALLETS.drop(db, checkfirst=True)
    ROWLOCK_WALLETS.create(db)
    with db.begin() as conn:
        conn.execute(insert(ROWLOCK_WALLETS), [{"id": UUID(wallet), "balance": funds} for wallet in wallets])
