from __future__ import annotations

from decimal import Decimal

import pytest

from shared.money import (
    MAX_AMOUNT,
    MONEY_SCALE,
    InvalidAmount,
    UnknownCurrency,
    amount_for,
    currency_known,
    decimals_rule,
    format_money,
    minor_units,
    parse_amount,
    wire_money,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1"), Decimal("1")),
        (Decimal("0.01"), Decimal("0.01")),
        (Decimal("12.5"), Decimal("12.5")),
        (Decimal("1.000"), Decimal("1")),
        (Decimal("1E+2"), Decimal("100")),
        (Decimal("0.0001"), Decimal("0.0001")),
        ("7", Decimal("7")),
        ("7.5", Decimal("7.5")),
        ("7.1234", Decimal("7.1234")),
        ("1000000000000.00", MAX_AMOUNT),
    ],
)
def test_valid_amounts(value: object, expected: Decimal) -> None:
    """Exact, whatever the currency: at most ``MONEY_SCALE`` decimals."""
    parsed = parse_amount(value)
    assert parsed == expected
    assert wire_money(parsed) == wire_money(parse_amount(wire_money(parsed)))  # the wire keeps it exact


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        1,
        1.5,
        [],
        {},
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("0"),
        Decimal("-0.01"),
        Decimal("0.00001"),
        Decimal("1.00005"),
        Decimal("1E-999999999"),
        Decimal("1E+999999999"),
        MAX_AMOUNT + Decimal("0.01"),
        "",
        "1.",
        ".5",
        "+1",
        "-1",
        "1e2",
        " 1",
        "1 ",
        "1.23456",
        "\u0661",
        "0x1",
        "12345678901234",
    ],
)
def test_invalid_amounts(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(value)


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (Decimal("6000"), "EUR", "6000.00"),
        (Decimal("0.1"), "EUR", "0.10"),
        (Decimal("1E+3"), "EUR", "1000.00"),
        (Decimal("6000.0000"), "JPY", "6000"),
        (Decimal("1.5"), "KWD", "1.500"),
        (Decimal("0.0001"), "CLF", "0.0001"),
        (Decimal("999999999999999999.9900"), "EUR", "999999999999999999.99"),
    ],
)
def test_money_is_shown_with_exactly_its_currencys_decimals(value: Decimal, currency: str, text: str) -> None:
    assert format_money(value, currency) == text


@pytest.mark.parametrize(
    ("currency", "units"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)]
)
def test_minor_units_come_from_the_iso_4217_data(currency: str, units: int) -> None:
    assert minor_units(currency) == units
    assert currency_known(currency)


@pytest.mark.parametrize("code", ["XAU", "XXX", "XTS", "XDR", "eur", "EURO", "ZZZ", "", None, 978])
def test_codes_with_no_minor_unit_or_none_at_all_are_not_currencies(code: object) -> None:
    assert not currency_known(code)
    if isinstance(code, str):
        with pytest.raises(UnknownCurrency):
            minor_units(code)


def test_no_currency_has_more_decimals_than_the_columns_keep() -> None:
    import iso4217

    assert max(c.exponent for c in iso4217.Currency if c.exponent is not None) == MONEY_SCALE


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("12.34", "EUR", True),
        ("12.345", "EUR", False),
        ("12.340", "EUR", True),
        ("1", "JPY", True),
        ("1.5", "JPY", False),
        ("1.0", "JPY", True),
        ("1.234", "KWD", True),
        ("1.2345", "KWD", False),
        ("1.2345", "CLF", True),
    ],
)
def test_an_amount_has_at_most_its_currencys_decimals(amount: str, currency: str, fits: bool) -> None:
    value = Decimal(amount)
    if fits:
        assert amount_for(value, currency) == value
        assert amount_for(value, currency).as_tuple().exponent == -minor_units(currency)
    else:
        with pytest.raises(InvalidAmount):
            amount_for(value, currency)


@pytest.mark.parametrize(
    ("currency", "rule"),
    [
        ("JPY", "JPY amounts have no decimals"),
        ("EUR", "EUR amounts have at most 2 decimals"),
        ("KWD", "KWD amounts have at most 3 decimals"),
    ],
)
def test_the_rule_is_said_in_words(currency: str, rule: str) -> None:
    assert decimals_rule(currency) == rule
