"""The shared value types: what a client may send as money, decimals, days and names."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from ledgerline import values
from ledgerline.values import (
    Day,
    Money,
    NonBlankStr,
    Percent,
    Quantity,
    Rate,
    SignedMoney,
    TrimmedStr,
    UnitPrice,
    cents,
    refuse_null,
)

MONEY: TypeAdapter[Decimal] = TypeAdapter(Money)
SIGNED_MONEY: TypeAdapter[Decimal] = TypeAdapter(SignedMoney)
QUANTITY: TypeAdapter[Decimal] = TypeAdapter(Quantity)
UNIT_PRICE: TypeAdapter[Decimal] = TypeAdapter(UnitPrice)
RATE: TypeAdapter[Decimal] = TypeAdapter(Rate)
PERCENT: TypeAdapter[Decimal] = TypeAdapter(Percent)
DAY: TypeAdapter[date] = TypeAdapter(Day)
NON_BLANK: TypeAdapter[str] = TypeAdapter(NonBlankStr)
TRIMMED: TypeAdapter[str] = TypeAdapter(TrimmedStr)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("0", "0.00"),
        ("12", "12.00"),
        ("12.5", "12.50"),
        ("0012.34", "12.34"),
        ("1250.00", "1250.00"),
    ],
)
def test_money_reads_plain_digits_and_keeps_cents(sent: str, kept: str) -> None:
    assert str(MONEY.validate_python(sent)) == kept


@pytest.mark.parametrize(
    "sent",
    [
        "\u0661\u0662\u0663",  # Arabic-Indic digits: Decimal reads them as 123
        "\uff11\uff12",  # fullwidth digits
        "1E+2",
        "1e2",
        " 12.00",
        "12.00 ",
        "12.00\n",
        "1 000.00",
        "12.345",
        "-0.00",
        "-0",
        "-1.00",
        "+1.00",
        ".50",
        "5.",
        "",
        "NaN",
        "Infinity",
        "0x10",
        "1_000",
        12.5,
        12,
        True,
        None,
    ],
)
def test_money_refuses_what_a_person_does_not_write_as_an_amount(sent: Any) -> None:
    with pytest.raises(ValidationError):
        MONEY.validate_python(sent)


def test_money_from_python_is_taken_as_it_is() -> None:
    assert MONEY.validate_python(Decimal("7.5")) == Decimal("7.50")


def test_signed_money_takes_a_minus_but_not_on_zero() -> None:
    assert SIGNED_MONEY.validate_python("-12.5") == Decimal("-12.50")
    for sent in ("-0", "-0.00", "-00.0", "- 1", "--1", "-1E+2", "-\u0661"):
        with pytest.raises(ValidationError):
            SIGNED_MONEY.validate_python(sent)


@pytest.mark.parametrize("adapter", [QUANTITY, UNIT_PRICE, RATE])
def test_four_decimal_values_take_four_decimals_and_no_more(adapter: TypeAdapter[Decimal]) -> None:
    assert adapter.validate_python("0.1234") == Decimal("0.1234")
    for sent in ("0.12345", "1E-1", " 0.1", "\u0660.\u0661", "-0.1", 0.1):
        with pytest.raises(ValidationError):
            adapter.validate_python(sent)


def test_rates_and_percentages_keep_their_bounds() -> None:
    assert RATE.validate_python("1") == Decimal("1")
    assert PERCENT.validate_python("100.00") == Decimal("100.00")
    for adapter, sent in ((RATE, "1.0001"), (PERCENT, "100.01"), (PERCENT, "1.234")):
        with pytest.raises(ValidationError):
            adapter.validate_python(sent)


def test_money_is_a_string_with_a_pattern_in_the_schema() -> None:
    schema = MONEY.json_schema()
    assert schema["type"] == "string"
    assert schema["pattern"] == r"^[0-9]+(\.[0-9]{1,2})?$"
    assert SIGNED_MONEY.json_schema()["pattern"] == r"^-?[0-9]+(\.[0-9]{1,2})?$"


def test_cents_round_half_up() -> None:
    assert cents(Decimal("1.005")) == Decimal("1.01")
    assert cents(Decimal("-1.005")) == Decimal("-1.01")
    assert cents(Decimal("2")) == Decimal("2.00")


@pytest.mark.parametrize("sent", ["1900-01-01", "2026-02-28", "2199-12-31"])
def test_days_from_1900_to_2199_are_read(sent: str) -> None:
    assert DAY.validate_python(sent) == date.fromisoformat(sent)


@pytest.mark.parametrize("sent", ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"])
def test_days_outside_1900_to_2199_are_refused(sent: str) -> None:
    with pytest.raises(ValidationError):
        DAY.validate_python(sent)


@pytest.mark.parametrize("sent", ["", " ", "\t\n", "\u00a0", "\u3000"])
def test_blank_text_is_refused(sent: str) -> None:
    for adapter in (NON_BLANK, TRIMMED):
        with pytest.raises(ValidationError):
            adapter.validate_python(sent)


def test_non_blank_text_is_kept_as_sent_and_trimmed_text_is_stripped() -> None:
    assert NON_BLANK.validate_python(" Acme ") == " Acme "
    assert TRIMMED.validate_python(" Acme ") == "Acme"


def test_null_is_refused_where_a_field_may_only_be_omitted() -> None:
    with pytest.raises(ValueError, match="not null"):
        refuse_null(None)
    assert refuse_null("x") == "x"


def test_values_import_no_feature() -> None:
    """The value types sit below every feature: they import plumbing at most."""
    tree = ast.parse(Path(values.__file__).read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    ours = {name for name in imported if name.split(".")[0] == "ledgerline"}
    assert ours <= {"ledgerline.problems"}, ours
