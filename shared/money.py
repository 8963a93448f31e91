"""Exact money: parsing client amounts and formatting balances.

Amounts are ``Decimal`` from the JSON parser onwards (never ``float``)::

    parse_amount(Decimal("10.5"))  # Decimal("10.50")
    parse_amount("0.001")          # raises InvalidAmount: never rounded silently
    format_money(Decimal("6000"))  # "6000.00"
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
"""The smallest unit: amounts and balances have two decimal places."""

MAX_AMOUNT = Decimal("1000000000000.00")
"""Largest amount of one operation."""

MAX_BALANCE = Decimal("999999999999999999.99")
"""Largest balance the numeric(20,2) column holds."""

_AMOUNT_STRING = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")


class InvalidAmount(ValueError):
    """The value is not a positive amount of at most two decimals within limits."""


def parse_amount(value: object) -> Decimal:
    """Return ``value`` as a Decimal with two places, or raise ``InvalidAmount``.

    Accepts a Decimal (a JSON number parsed with ``parse_float=Decimal``) or a
    plain decimal string such as ``"100.50"``. Refuses booleans, floats, NaN,
    infinities, zero, negatives, more than two decimals and anything above
    ``MAX_AMOUNT``.
    """
    if isinstance(value, str):
        if not _AMOUNT_STRING.fullmatch(value):
            raise InvalidAmount(value)
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidAmount(value)
    # Compare before quantize: quantize raises on huge exponents.
    if not Decimal(0) < value <= MAX_AMOUNT:
        raise InvalidAmount(value)
    try:
        cents = value.quantize(CENT)
    except InvalidOperation:
        raise InvalidAmount(value) from None
    if cents != value:
        raise InvalidAmount(value)
    return cents


def format_money(value: Decimal) -> str:
    """Render a balance or amount the way the API shows it: ``"6000.00"``."""
    return f"{value.quantize(CENT):f}"
