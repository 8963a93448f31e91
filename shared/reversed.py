"""What counts as reversed, in one place: the writer refuses a reversal past its original
(``worker.reversals``), the web shows ``reversed_amount`` and what is left to reverse
(``web.wallets.money.selectors``), and the audit checks the ledger (``shared.audit``), all
by these conditions.

- An operation's reversals (``REVERSE_*`` rows naming it) count once applied; a refused one
  moved nothing.
- A transfer's reversing transfers count unless they failed: a pending one counts until its
  credit is refused and the money refunded (its record then ``failed``).

Each is SQL text over a table alias the caller names, so a correlated subquery (the writer's),
a statement of its own (the web's) and a grouped check (the audit's) read the same rule.
"""

from __future__ import annotations

from shared.outcomes import OperationStatus
from shared.transfers import TransferState


def operation_reversal_counts(alias: str) -> str:
    """Whether the ``wallet_operations`` row ``alias`` counts as reversing what it names."""
    return f"{alias}.status = '{OperationStatus.APPLIED.value}'"


def transfer_reversal_counts(alias: str) -> str:
    """Whether the ``transfers`` row ``alias`` counts as reversing the transfer it names."""
    return f"{alias}.state <> '{TransferState.FAILED.value}'"


def operation_reversed(original: str) -> str:
    """The money reversed of the operation whose id is the SQL ``original`` (a column, or a
    ``%s`` parameter); by the partial index ``wallet_operations_reversals``."""
    return (
        "(SELECT coalesce(sum(reversal.amount), 0) FROM wallet_operations reversal"  # noqa: S608 (constants)
        f" WHERE reversal.reversal_of = {original} AND {operation_reversal_counts('reversal')})"
    )


def transfer_reversed(original: str) -> str:
    """The money reversed of the transfer whose id is the SQL ``original`` (a column, or a
    ``%s`` parameter); by the partial index ``transfers_reversals``."""
    return (
        "(SELECT coalesce(sum(reversing.amount), 0) FROM transfers reversing"  # noqa: S608 (constants)
        f" WHERE reversing.reversal_of = {original} AND {transfer_reversal_counts('reversing')})"
    )
