"""Days read from a document stay within the days a request may send (1900-2199)."""

from __future__ import annotations

from ledgerline.invoices.extraction import fields_from_text


def test_a_document_day_outside_1900_to_2199_is_not_read() -> None:
    found = fields_from_text("Invoice date: 01.01.0001\nDue date: 9999-12-31\nTotal: 10.00 EUR")
    assert "issue_date" not in found
    assert "due_date" not in found
    assert found["total"] == "10.00"


def test_a_document_day_within_the_range_is_read() -> None:
    found = fields_from_text("Invoice date: 01.03.2026\nDue date: 2199-12-31")
    assert (found["issue_date"], found["due_date"]) == ("2026-03-01", "2199-12-31")


def test_a_document_amount_is_read_only_from_ascii_digits() -> None:
    found = fields_from_text("Total: \u0661\u0662\u0663,\u0664\u0665 EUR")
    assert "total" not in found
