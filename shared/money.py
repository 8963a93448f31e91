"""Exact money: currencies, parsing client amounts and formatting balances.

A wallet holds one currency (an ISO 4217 alphabetic code); its amounts have at most the
currency's minor units (its decimals, from the ``iso4217`` data package: 2 for EUR, 0 for JPY,
3 for KWD) and are shown with exactly that many. The database keeps every amount with
``MONEY_SCALE`` decimals, enough for any currency. Amounts are ``Decimal`` from the JSON
parser onwards (never ``float``)::

    parse_amount(Decimal("10.5"))        # Decimal("10.5")
    parse_amount("0.00001")              # raises InvalidAmount: never rounded silently
    amount_for(Decimal("10.5"), "EUR")   # Decimal("10.50")
    amount_for(Decimal("1.5"), "JPY")    # raises InvalidAmount: JPY has no decimals
    format_money(Decimal("6000"), "EUR") # "6000.00"
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache

import iso4217

MONEY_DIGITS = 22
"""Digits of a money column (``numeric(22,4)``): 18 before the point, as before currencies."""

MONEY_SCALE = 4
"""Decimals of a money column: the most minor units of any ISO 4217 currency (CLF, UYW)."""

MAX_AMOUNT = Decimal("1000000000000")
"""Largest amount of one operation, in any currency."""

MAX_BALANCE = Decimal("999999999999999999.99")
"""Largest balance, in any currency (the columns hold 18 digits before the point)."""

_AMOUNT_STRING = re.compile(rf"[0-9]{{1,13}}(\.[0-9]{{1,{MONEY_SCALE}}})?")
LEDGER_UNIT = Decimal(1).scaleb(-MONEY_SCALE)
"""The smallest amount a money column holds (``Decimal("0.0001")``)."""


class InvalidAmount(ValueError):
    """The value is not a positive amount within limits, with no more decimals than allowed."""


class UnknownCurrency(ValueError):
    """Not the code of an ISO 4217 currency that has minor units."""


@cache
def minor_units(currency: str) -> int:
    """The decimals of ``currency`` (``UnknownCurrency`` for a code that is not an ISO 4217
    currency, or one with no minor unit: gold, SDRs, the testing code)."""
    try:
        exponent = iso4217.Currency(currency).exponent
    except ValueError:
        raise UnknownCurrency(currency) from None
    if exponent is None:
        raise UnknownCurrency(currency)
    return int(exponent)


def currency_known(currency: object) -> bool:
    """Whether ``currency`` is a code a wallet may hold."""
    if not isinstance(currency, str):
        return False
    try:
        minor_units(currency)
    except UnknownCurrency:
        return False
    return True


@cache
def _unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` (``Decimal("0.01")`` for EUR, ``Decimal("1")`` for JPY)."""
    return Decimal(1).scaleb(-minor_units(currency))


def parse_amount(value: object) -> Decimal:
    """Return ``value`` as an exact positive Decimal, or raise ``InvalidAmount``.

    Accepts a Decimal (a JSON number parsed with ``parse_float=Decimal``) or a plain decimal
    string such as ``"100.50"``. Refuses booleans, floats, NaN, infinities, zero, negatives,
    more than ``MONEY_SCALE`` decimals and anything above ``MAX_AMOUNT``. Whether the
    decimals suit a currency is ``amount_for``'s question.
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
        exact = value.quantize(LEDGER_UNIT)
    except InvalidOperation:
        raise InvalidAmount(value) from None
    if exact != value:
        raise InvalidAmount(value)
    return value


def amount_for(value: Decimal, currency: str) -> Decimal:
    """``value`` (already a ``parse_amount``) with exactly ``currency``'s decimals, or
    ``InvalidAmount`` if it has more."""
    unit = _unit(currency)
    exact = value.quantize(unit)
    if exact != value:
        raise InvalidAmount(value)
    return exact


def decimals_rule(currency: str) -> str:
    """What ``amount_for`` allows, in words: ``"EUR amounts have at most 2 decimals"``."""
    units = minor_units(currency)
    if units == 0:
        return f"{currency} amounts have no decimals"
    return f"{currency} amounts have at most {units} decimal{'s' if units > 1 else ''}"


def format_money(value: Decimal, currency: str) -> str:
    """Render a balance or amount the way the API shows it, with exactly ``currency``'s
    decimals: ``"6000.00"`` (EUR), ``"6000"`` (JPY)."""
    return f"{value.quantize(_unit(currency)):f}"


def wire_money(value: Decimal) -> str:
    """An amount as messages carry it: exact, whatever its currency (``"10.5000"``)."""
    return f"{value:f}"
