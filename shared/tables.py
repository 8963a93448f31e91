"""SQLAlchemy Core mirrors of the tables Django creates (``web/wallets/models/``).

Workers write through these. ``tests/shared/test_tables.py`` compares them with
the migrated database, so a migration that forgets this file fails the suite.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType

from shared.annotations import REFERENCE_MAX
from shared.money import MONEY_DIGITS, MONEY_SCALE
from shared.rates import Limit

metadata = MetaData()

MONEY = Numeric(MONEY_DIGITS, MONEY_SCALE, asdecimal=True)
CURRENCY = String(3)
"""An ISO 4217 alphabetic code (``shared.money``)."""
OBJECT = JSONB(none_as_null=True)
"""A JSON object, or SQL NULL when there is none: Python's None is never stored as JSON ``null``
(``shared.audit.json_nulls`` checks it), so ``IS NULL`` finds every row without one."""


def _annotations() -> tuple[Column[str], Column[Any]]:
    """The client's ``reference`` and ``metadata`` (``shared.annotations``), on every row a write
    makes."""
    return Column("reference", String(REFERENCE_MAX), nullable=True), Column("metadata", OBJECT, nullable=True)


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (``events.txid``), which SQLAlchemy does not know."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "XID8"


ischema_names["xid8"] = XID8  # so that reflecting the table (tests/shared/test_tables.py) knows it

tenants = Table(
    "tenants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("wallet_limit", Integer, nullable=False),
    Column("wallet_count", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default="now()"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, ForeignKey("tenants.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("scopes", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    *(Column(limit.field, String(32), nullable=True) for limit in Limit),
)

wallets = Table(
    "wallets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, ForeignKey("tenants.id"), nullable=True),
    Column("balance", MONEY, nullable=False, server_default="0"),
    Column("held", MONEY, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("currency", CURRENCY, nullable=False),
    Column("min_balance", MONEY, nullable=False, server_default="0"),
    Column("max_balance", MONEY, nullable=True),
    Column("status", String(8), nullable=False, server_default="active"),
    *_annotations(),
    Column("created_metadata", OBJECT, nullable=True),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("from_wallet_id", Uuid, ForeignKey("wallets.id"), nullable=False),
    Column("to_wallet_id", Uuid, ForeignKey("wallets.id"), nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("api_key_id", Uuid, ForeignKey("api_keys.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("swept_at", DateTime(timezone=True), nullable=True),
    Column("stalled", Text, nullable=True),
    Column("currency", CURRENCY, nullable=False),
    Column("reversal_of", Uuid, nullable=True),
    *_annotations(),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("wallet_id", Uuid, ForeignKey("wallets.id"), nullable=False),
    Column("to_wallet_id", Uuid, ForeignKey("wallets.id"), nullable=True),
    Column("amount", MONEY, nullable=False),
    Column("captured", MONEY, nullable=True),
    Column("resolved_by", Uuid, nullable=True),
    Column("state", String(16), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("api_key_id", Uuid, ForeignKey("api_keys.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("currency", CURRENCY, nullable=False),
    *_annotations(),
)

wallet_operations = Table(
    "wallet_operations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("wallet_id", Uuid, ForeignKey("wallets.id"), nullable=False),
    Column("operation_type", String(16), nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("status", String(8), nullable=False),
    Column("error", Text, nullable=True),
    Column("balance_after", MONEY, nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("api_key_id", Uuid, ForeignKey("api_keys.id"), nullable=True),
    Column("transfer_id", Uuid, ForeignKey("transfers.id"), nullable=True),
    Column("counterparty_id", Uuid, ForeignKey("wallets.id"), nullable=True),
    Column("hold_id", Uuid, ForeignKey("holds.id"), nullable=True),
    Column("held_after", MONEY, nullable=False, server_default="0"),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("currency", CURRENCY, nullable=False),
    Column("change", OBJECT, nullable=True),
    Column("reversal_of", Uuid, nullable=True),
    *_annotations(),
)

pending_operations = Table(
    "pending_operations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("wallet_id", Uuid, ForeignKey("wallets.id"), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("operation_type", String(16), nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("api_key_id", Uuid, ForeignKey("api_keys.id"), nullable=True),
    Column("counterparty_id", Uuid, ForeignKey("wallets.id"), nullable=True),
    Column("hold_id", Uuid, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    Column("currency", CURRENCY, nullable=False),
    Column("change", OBJECT, nullable=True),
    Column("reversal_of", Uuid, nullable=True),
    *_annotations(),
)

events = Table(
    "events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("type", String(32), nullable=False),
    Column("tenant_id", Uuid, nullable=True),
    Column("wallet_id", Uuid, nullable=False),
    Column("counterparty_id", Uuid, nullable=True),
    Column("operation_id", Uuid, nullable=True),
    Column("created", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("data", JSON, nullable=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column("txid", XID8, nullable=False, server_default="pg_current_xact_id()"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, ForeignKey("tenants.id"), nullable=True),
    Column("url", String(2048), nullable=False),
    Column("event_types", String(512), nullable=False),
    Column("status", String(16), nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("secret", String(128), nullable=False),
    Column("previous_secret", String(128), nullable=True),
    Column("previous_secret_until", DateTime(timezone=True), nullable=True),
    Column("api_key_id", Uuid, ForeignKey("api_keys.id"), nullable=True),
    Column("cursor_txid", BigInteger, nullable=False),
    Column("cursor_seq", BigInteger, nullable=False),
    Column("failing_since", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default="now()"),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("endpoint_id", Uuid, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("event_created", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("claim", Uuid, nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default="now()"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("endpoint_id", Uuid, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
)
