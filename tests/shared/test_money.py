from __future__ import annotations

from decimal import Decimal

import pytest

from shared.money import MAX_AMOUNT, InvalidAmount, format_money, parse_amount


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1"), Decimal("1.00")),
        (Decimal("0.01"), Decimal("0.01")),
        (Decimal("12.5"), Decimal("12.50")),
        (Decimal("1.000"), Decimal("1.00")),
        (Decimal("1E+2"), Decimal("100.00")),
        ("7", Decimal("7.00")),
        ("7.5", Decimal("7.50")),
        ("1000000000000.00", MAX_AMOUNT),
    ],
)
def test_valid_amounts(value: object, expected: Decimal) -> None:
    parsed = parse_amount(value)
    assert parsed == expected
    assert parsed.as_tuple().exponent == -2


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
        Decimal("0.001"),
        Decimal("1.005"),
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
        "1.234",
        "\u0661",
        "0x1",
        "12345678901234",
    ],
)
def test_invalid_amounts(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(value)


@pytest.mark.parametrize(
    ("value", "text"), [(Decimal("6000"), "6000.00"), (Decimal("0.1"), "0.10"), (Decimal("1E+3"), "1000.00")]
)
def test_format_money(value: Decimal, text: str) -> None:
    assert format_money(value) == text
