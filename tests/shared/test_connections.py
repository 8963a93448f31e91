from __future__ import annotations

import dataclasses
import time
import uuid
from decimal import Decimal

import pytest
import redis
from redis.connection import Connection
from sqlalchemy import Engine, text

from deploy.processes import free_port
from shared.config import Settings
from shared.connections import engine_from_settings, redis_from_settings
from shared.errors import ServiceUnavailable
from tests.support.databases import terminate_backends
from tests.support.factories import seed_applied_deposit, wallet_row
from web.database import get_engine, read_one

BALANCE = "SELECT balance FROM wallets WHERE id = %s"


def test_read_one_returns_the_row_or_none(db: Engine) -> None:
    wallet = wallet_row(db)
    seed_applied_deposit(db, wallet, Decimal("7.50"))
    assert read_one(BALANCE, (str(wallet),)) == (Decimal("7.50"),)
    assert read_one(BALANCE, (str(uuid.uuid4()),)) is None


def test_read_one_leaves_no_transaction_open(db: Engine) -> None:
    # Autocommit: no BEGIN before the read and nothing to roll back after it.
    assert read_one("SELECT 1", ()) == (1,)
    with db.connect() as conn:
        states = conn.execute(
            text(
                "SELECT state FROM pg_stat_activity"
                " WHERE application_name = 'wallet-web' AND datname = current_database()"
            )
        ).scalars()
        assert set(states) == {"idle"}


def test_read_one_survives_a_restart_that_drops_every_pooled_connection(db: Engine) -> None:
    pool = get_engine()
    held = [pool.raw_connection() for _ in range(3)]  # three connections now sit in the pool
    for conn in held:
        conn.close()
    assert terminate_backends(db, "wallet-web") >= 3
    # The first read meets a dead connection; the retry must not take another dead one from the pool.
    assert read_one("SELECT 1", ()) == (1,)
    assert read_one("SELECT 2", ()) == (2,)


def test_read_one_without_a_database_is_service_unavailable_quickly(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = engine_from_settings(
        dataclasses.replace(settings, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/wallet_test"),
        pre_ping=False,
    )
    monkeypatch.setattr("web.database.get_engine", lambda: dead)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        read_one("SELECT 1", ())
    assert time.monotonic() - started < 3


def _client_id(conn: Connection) -> int:
    conn.send_command("CLIENT", "ID")  # type: ignore[no-untyped-call]
    return int(conn.read_response())


def test_a_pooled_redis_connection_is_kept_while_idle_and_replaced_once_the_server_hung_up(
    local_settings: Settings, local_redis: redis.Redis
) -> None:
    pool = redis_from_settings(local_settings).connection_pool
    conn = pool.get_connection()
    first = _client_id(conn)
    pool.release(conn)
    conn = pool.get_connection()
    assert _client_id(conn) == first  # idle and clean: kept
    pool.release(conn)
    local_redis.client_kill_filter(_id=first)  # the server hangs up (as on a restart)
    conn = pool.get_connection()
    assert _client_id(conn) != first  # found closed on checkout, and connected again
    pool.release(conn)
    pool.disconnect()
