"""Ledger audit: does the ledger explain every balance, and is money conserved?

Twelve checks, each empty when all is well:

- every balance equals the sum of its applied operations (``ledger_mismatches``);
- every ledger row's ``balance_after`` is the running sum of its wallet's applied operations
  in ledger order (``chain_breaks``);
- money is conserved, in each currency apart (balances of different currencies are never
  summed): all balances plus the money of transfers still ``pending`` (debited, not yet
  credited or refunded) equal all deposits minus all withdrawals (``conservation_gaps``);
- every ledger row, transfer and hold is in its wallets' currency (``currency_mismatches``);
- every transfer's state is what its legs in the ledger say (``transfer_mismatches``);
- every wallet's held money is the sum of its active holds (``held_mismatches``);
- no applied row took a wallet past its limits as they stood then (``limit_crossings``): a
  debit or a hold left its available money at ``min_balance`` or above (so held money stays
  within the balance and its overdraft line), and a credit (but a refund, never refused) left
  its balance at ``max_balance`` or below; the limits at each row are those of the wallet's last
  applied ``WALLET_UPDATE`` before it that named them (the defaults before any);
- no wallet passes the service's limit: its balance plus the money of its transfers still
  ``pending`` (which may come back as refunds, never refused) is at most ``MAX_BALANCE``
  (``limit_breaches``);
- no operation or transfer was reversed by more than its amount, nor by what may not reverse it
  (``reversal_excesses``);
- along each wallet's ledger, ``applied_at`` never goes back (``time_reversals``);
- every wallet's metadata is what its changes say: the last applied ``WALLET_UPDATE`` that named
  metadata, else the metadata it was made with (``metadata_mismatches``);
- no JSON object column (``shared.tables.OBJECT``: metadata, changes) holds JSON ``null`` for
  none (``json_nulls``).

The test suite runs them after every test that touches the database; ``make bench`` after
every run.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, text

from shared.holds import HoldState
from shared.money import MAX_BALANCE
from shared.operations import KINDS, TRANSFER_LEGS, TransferLeg
from shared.outcomes import OperationStatus
from shared.reversed import operation_reversal_counts, transfer_reversal_counts
from shared.tables import OBJECT
from shared.tables import metadata as schema
from shared.transfers import TransferState

APPLIED, REJECTED = OperationStatus.APPLIED.value, OperationStatus.REJECTED.value
PENDING, COMPLETED, FAILED = TransferState.PENDING.value, TransferState.COMPLETED.value, TransferState.FAILED.value
ACTIVE = HoldState.ACTIVE.value
CREDIT, REFUND = TRANSFER_LEGS[TransferLeg.CREDIT].value, TRANSFER_LEGS[TransferLeg.REFUND].value
_TAKES = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.sign < 0)
_HOLDS = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.sign == 0)
SIGNED_AMOUNT = (
    f"CASE WHEN o.operation_type IN ({_TAKES}) THEN -o.amount WHEN o.operation_type IN ({_HOLDS}) THEN 0"
    " ELSE o.amount END"
)
"""A ledger row's effect on its wallet's balance (``o`` is the row), from each kind's ``sign``."""

_ENTERS = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.crosses_edge and k.sign > 0)
_LEAVES = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.crosses_edge and k.sign < 0)
EDGE_AMOUNT = (
    f"CASE WHEN o.transfer_id IS NOT NULL THEN 0 WHEN o.operation_type IN ({_ENTERS}) THEN o.amount"
    f" WHEN o.operation_type IN ({_LEAVES}) THEN -o.amount ELSE 0 END"
)
"""The money a ledger row (``o``) brought into the service (negative: took out of it), from each
kind's ``crosses_edge``: a transfer's debit only moves money between wallets."""

# Built from the constants above only (no input reaches these strings).
LEDGER_CHECK = text(
    f"""
    SELECT w.id, w.balance, COALESCE(SUM({SIGNED_AMOUNT}) FILTER (WHERE o.status = '{APPLIED}'), 0) AS ledger
    FROM wallets w LEFT JOIN wallet_operations o ON o.wallet_id = w.id
    GROUP BY w.id, w.balance
    HAVING w.balance <> COALESCE(SUM({SIGNED_AMOUNT}) FILTER (WHERE o.status = '{APPLIED}'), 0)
    """  # noqa: S608
)


def ledger_mismatches(engine: Engine) -> list[tuple[object, ...]]:
    """Wallets whose balance the ledger does not explain (empty when all is well)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(LEDGER_CHECK)]


CHAIN_CHECK = text(
    f"""
    SELECT id, wallet_id, balance_after, running FROM (
        SELECT o.id, o.wallet_id, o.balance_after, o.status, SUM(
            CASE WHEN o.status <> '{APPLIED}' THEN 0 ELSE {SIGNED_AMOUNT} END
        ) OVER (PARTITION BY o.wallet_id ORDER BY o.seq) AS running
        FROM wallet_operations o
    ) steps
    WHERE balance_after <> running
    """  # noqa: S608
)


def chain_breaks(engine: Engine) -> list[tuple[object, ...]]:
    """Ledger rows whose ``balance_after`` is not the running sum in ledger order."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(CHAIN_CHECK)]


CONSERVATION_CHECK = text(
    f"""
    SELECT currency, SUM(held) - SUM(net) AS gap FROM (
        SELECT currency, balance AS held, 0 AS net FROM wallets
        UNION ALL SELECT currency, amount, 0 FROM transfers WHERE state = '{PENDING}'
        UNION ALL SELECT o.currency, 0, {EDGE_AMOUNT} FROM wallet_operations o WHERE o.status = '{APPLIED}'
    ) money
    GROUP BY currency
    HAVING SUM(held) <> SUM(net)
    """  # noqa: S608
)


def conservation_gaps(engine: Engine) -> dict[str, Decimal]:
    """Each currency whose balances plus pending transfers' money are not its deposits less
    withdrawals, with the difference (empty when no money was created or lost)."""
    with engine.connect() as conn:
        return {currency: Decimal(gap) for currency, gap in conn.execute(CONSERVATION_CHECK)}


# A transfer is in its source's currency; only a completed one reached its destination (a
# failed one may have been refused for naming a wallet of another currency).
CURRENCY_CHECK = text(
    f"""
    SELECT 'operation', o.id FROM wallet_operations o JOIN wallets w ON w.id = o.wallet_id
    WHERE o.currency <> w.currency
    UNION ALL SELECT 'transfer', t.id FROM transfers t
    JOIN wallets s ON s.id = t.from_wallet_id JOIN wallets d ON d.id = t.to_wallet_id
    WHERE t.currency <> s.currency OR (t.state = '{COMPLETED}' AND t.currency <> d.currency)
    UNION ALL SELECT 'hold', h.id FROM holds h JOIN wallets w ON w.id = h.wallet_id
    LEFT JOIN wallets d ON d.id = h.to_wallet_id
    WHERE h.currency <> w.currency OR h.currency <> d.currency
    """  # noqa: S608
)


def currency_mismatches(engine: Engine) -> list[tuple[object, ...]]:
    """Ledger rows, transfers and holds not in their wallets' currency (empty when all is well)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(CURRENCY_CHECK)]


# A transfer's legs: its debit (id = the transfer's), its credit and refund (by transfer_id).
TRANSFER_CHECK = text(
    f"""
    SELECT t.id, t.state, d.status AS debit, c.status AS credit, r.status AS refund FROM transfers t
    LEFT JOIN wallet_operations d ON d.id = t.id
    LEFT JOIN wallet_operations c ON c.transfer_id = t.id AND c.operation_type = '{CREDIT}'
    LEFT JOIN wallet_operations r ON r.transfer_id = t.id AND r.operation_type = '{REFUND}'
    WHERE NOT (
        (t.state = '{COMPLETED}' AND d.status = '{APPLIED}' AND c.status = '{APPLIED}' AND r.id IS NULL)
        OR (t.state = '{PENDING}' AND d.status = '{APPLIED}' AND c.status IS DISTINCT FROM '{APPLIED}' AND r.id IS NULL)
        OR (t.state = '{FAILED}' AND d.status = '{REJECTED}' AND c.id IS NULL AND r.id IS NULL)
        OR (t.state = '{FAILED}' AND d.status = '{APPLIED}' AND c.status = '{REJECTED}' AND r.status = '{APPLIED}')
    )
    """  # noqa: S608
)


def transfer_mismatches(engine: Engine) -> list[tuple[object, ...]]:
    """Transfers whose state their legs in the ledger do not explain (empty when all is well)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(TRANSFER_CHECK)]


HELD_CHECK = text(
    f"""
    SELECT w.id, w.held, COALESCE(SUM(h.amount) FILTER (WHERE h.state = '{ACTIVE}'), 0) AS active
    FROM wallets w LEFT JOIN holds h ON h.wallet_id = w.id
    GROUP BY w.id, w.held
    HAVING w.held <> COALESCE(SUM(h.amount) FILTER (WHERE h.state = '{ACTIVE}'), 0)
    """  # noqa: S608
)


def held_mismatches(engine: Engine) -> list[tuple[object, ...]]:
    """Wallets whose held money is not the sum of their active holds (whether it is within
    their money is ``limit_crossings``' question, at each hold)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(HELD_CHECK)]


_SPENDS = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.spends_available)
_CREDITS = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.sign > 0 and not k.returns_money)
# Each row's limits: a group per limit starts at each applied change naming it (counted along the
# wallet's rows); the group's first row is that change, whose value holds for the group.
CROSSING_CHECK = text(
    f"""
    WITH steps AS (
        SELECT o.id, o.wallet_id, o.seq, o.operation_type, o.status, o.balance_after, o.held_after, o.change,
            COUNT(o.change -> 'min_balance') FILTER (WHERE o.status = '{APPLIED}') OVER w AS min_group,
            COUNT(o.change -> 'max_balance') FILTER (WHERE o.status = '{APPLIED}') OVER w AS max_group
        FROM wallet_operations o
        WINDOW w AS (PARTITION BY o.wallet_id ORDER BY o.seq)
    ), limits AS (
        SELECT id, wallet_id, operation_type, status, balance_after, held_after,
            CASE WHEN min_group = 0 THEN 0 ELSE (FIRST_VALUE(change ->> 'min_balance')
                OVER (PARTITION BY wallet_id, min_group ORDER BY seq))::numeric END AS min_balance,
            CASE WHEN max_group = 0 THEN NULL ELSE (FIRST_VALUE(change ->> 'max_balance')
                OVER (PARTITION BY wallet_id, max_group ORDER BY seq))::numeric END AS max_balance
        FROM steps
    )
    SELECT id, wallet_id, operation_type, balance_after, held_after, min_balance, max_balance FROM limits
    WHERE status = '{APPLIED}' AND (
        (operation_type IN ({_SPENDS}) AND balance_after - held_after < min_balance)
        OR (operation_type IN ({_CREDITS}) AND balance_after > max_balance)
    )
    """  # noqa: S608
)


def limit_crossings(engine: Engine) -> list[tuple[object, ...]]:
    """Applied ledger rows that took their wallet past its limits as they stood then: below
    ``min_balance`` (a debit or a hold) or above ``max_balance`` (a credit)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(CROSSING_CHECK)]


LIMIT_CHECK = text(
    f"""
    SELECT w.id, w.balance, COALESCE(SUM(t.amount), 0) AS outgoing
    FROM wallets w LEFT JOIN transfers t ON t.from_wallet_id = w.id AND t.state = '{PENDING}'
    GROUP BY w.id, w.balance
    HAVING w.balance + COALESCE(SUM(t.amount), 0) > {MAX_BALANCE}
    """  # noqa: S608
)


def limit_breaches(engine: Engine) -> list[tuple[object, ...]]:
    """Wallets whose balance, with the money of their pending transfers, passes ``MAX_BALANCE``."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(LIMIT_CHECK)]


_REVERSALS = ", ".join(f"'{t.value}'" for t, k in KINDS.items() if k.reverses is not None)
_PAIRS = ", ".join(f"'{k.reverses.value}>{t.value}'" for t, k in KINDS.items() if k.reverses is not None)
"""Each reversible kind with the kind that reverses it, as ``REVERSAL_CHECK`` writes them."""
# What each reversal names, and what it may name: an applied operation of its own wallet, of the
# kind it reverses; a completed transfer the other way, no reversal itself.
REVERSAL_CHECK = text(
    f"""
    SELECT r.reversal_of, sum(r.amount) AS reversed, max(o.amount) FROM wallet_operations r
    LEFT JOIN wallet_operations o ON o.id = r.reversal_of
    WHERE {operation_reversal_counts("r")} AND r.operation_type IN ({_REVERSALS})
    GROUP BY r.reversal_of
    HAVING bool_or(o.id IS NULL) OR sum(r.amount) > max(o.amount) OR bool_or(o.status <> '{APPLIED}'
        OR o.wallet_id <> r.wallet_id OR o.operation_type || '>' || r.operation_type NOT IN ({_PAIRS}))
    UNION ALL
    SELECT r.reversal_of, sum(r.amount), max(t.amount) FROM transfers r
    LEFT JOIN transfers t ON t.id = r.reversal_of
    WHERE r.reversal_of IS NOT NULL AND {transfer_reversal_counts("r")}
    GROUP BY r.reversal_of
    HAVING bool_or(t.id IS NULL) OR sum(r.amount) > max(t.amount) OR bool_or(t.state <> '{COMPLETED}'
        OR t.reversal_of IS NOT NULL OR r.from_wallet_id <> t.to_wallet_id OR r.to_wallet_id <> t.from_wallet_id)
    """  # noqa: S608
)


def reversal_excesses(engine: Engine) -> list[tuple[object, ...]]:
    """Operations and transfers reversed by more than their amount, or by what may not reverse
    them (a reversal of another kind or wallet; of what was not applied or completed, or was a
    reversal itself, or is not there; a transfer not the other way): (id, reversed, amount)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(REVERSAL_CHECK)]


TIME_CHECK = text(
    """
    SELECT id, wallet_id, applied_at, earlier FROM (
        SELECT id, wallet_id, applied_at, lag(applied_at) OVER (PARTITION BY wallet_id ORDER BY seq) AS earlier
        FROM wallet_operations
    ) steps
    WHERE applied_at < earlier
    """
)


def time_reversals(engine: Engine) -> list[tuple[object, ...]]:
    """Ledger rows decided at an earlier time than the row before them of their wallet: the
    balance at an instant and statements read a span of time as a span of ledger positions
    (``web.wallets.money.history``), which holds only while each wallet's times keep to its
    ledger's order."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(TIME_CHECK)]


# Only a wallet update has a change (as CROSSING_CHECK reads them too).
METADATA_CHECK = text(
    f"""
    SELECT w.id, w.metadata, w.created_metadata, named.metadata FROM wallets w
    LEFT JOIN LATERAL (
        SELECT o.change -> 'metadata' AS metadata FROM wallet_operations o
        WHERE o.wallet_id = w.id AND o.status = '{APPLIED}' AND o.change ? 'metadata'
        ORDER BY o.seq DESC LIMIT 1
    ) named ON true
    WHERE w.metadata IS DISTINCT FROM
        CASE WHEN named.metadata IS NULL THEN w.created_metadata ELSE nullif(named.metadata, 'null') END
    """  # noqa: S608
)


def metadata_mismatches(engine: Engine) -> list[tuple[object, ...]]:
    """Wallets whose metadata is not what their changes made it (a change naming ``metadata``
    replaces it; JSON null removes it): (id, metadata, created_metadata, last named)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(METADATA_CHECK)]


JSON_NULL_CHECK = text(
    " UNION ALL ".join(
        f"SELECT '{table.name}', '{column.name}', count(*) FROM {table.name} WHERE {column.name} = 'null'::jsonb"  # noqa: S608 (shared.tables' names)
        " HAVING count(*) > 0"
        for table in schema.sorted_tables
        for column in table.columns
        if column.type is OBJECT
    )
)


def json_nulls(engine: Engine) -> list[tuple[object, ...]]:
    """Object columns holding JSON ``null`` where none is SQL NULL: (table, column, rows)."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(JSON_NULL_CHECK)]


def ledger_sound(engine: Engine) -> bool:
    """Whether every check of this module passes."""
    return (
        not ledger_mismatches(engine)
        and not chain_breaks(engine)
        and not conservation_gaps(engine)
        and not currency_mismatches(engine)
        and not transfer_mismatches(engine)
        and not held_mismatches(engine)
        and not limit_crossings(engine)
        and not limit_breaches(engine)
        and not reversal_excesses(engine)
        and not time_reversals(engine)
        and not metadata_mismatches(engine)
        and not json_nulls(engine)
    )
