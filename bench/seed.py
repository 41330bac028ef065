"""Invoice rows for COPY: vendors' invoices with lines priced and totalled as the app does."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledgerline.db.base import new_id
from ledgerline.invoices import taxes
from ledgerline.invoices.models import TaxRounding
from ledgerline.invoices.service import Line, totals
from ledgerline.values import fold_invoice_number

STATUSES = ("draft", "submitted", "approved", "paid")
STATUS_WEIGHTS = (10, 15, 25, 50)
CURRENCIES = ("EUR",) * 18 + ("USD", "GBP")
TAX_RATES = tuple(Decimal(r) for r in ("0.19", "0.19", "0.07", "0.20", "0"))
DESCRIPTIONS = ("Consulting", "Office supplies", "Hosting", "Maintenance", "Freight", "Licences")
ZERO = Decimal("0.00")
TERMS = timedelta(days=30)
SHAPES = 4_096  # distinct lines, reused

INVOICE_COLUMNS = [
    "tenant_id",
    "id",
    "vendor_id",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "source",
    "subtotal",
    "tax_total",
    "total",
    "amount_paid",
    "status",
    "version",
    "kind",
    "tax_rounding",
    "tax_summary",
    "possible_duplicate_of",
    "submissions",
    "number_key",
]
LINE_COLUMNS = [
    "tenant_id",
    "id",
    "invoice_id",
    "position",
    "description",
    "quantity",
    "unit_price",
    "tax_rate",
    "line_subtotal",
    "line_tax",
]
VENDOR_COLUMNS = [
    "tenant_id",
    "id",
    "name",
    "tax_id",
    "default_currency",
    "payment_terms_days",
    "is_active",
    "version",
]

# (description, quantity, unit price, tax rate, line subtotal, line tax)
Shape = tuple[str, Decimal, Decimal, Decimal, Decimal, Decimal]


def shapes(rng: random.Random) -> list[Shape]:
    """Lines priced from 3.16 to about 3,160 a unit, totals computed as the app does."""
    made = []
    for _ in range(SHAPES):
        description = rng.choice(DESCRIPTIONS)
        quantity = Decimal(rng.choice((1, 1, 1, 2, 3, 5, 12)))
        unit_price = Decimal(int(10 ** rng.uniform(2.5, 5.5))).scaleb(-2)
        rate = rng.choice(TAX_RATES)
        [(subtotal, tax)], _, _ = totals([Line(description, quantity, unit_price, rate)])
        made.append((description, quantity, unit_price, rate, subtotal, tax))
    return made


def issue_and_due_dates(first: date = date(2024, 1, 1), days: int = 730) -> list[tuple[date, date]]:
    return [(first + timedelta(days=d), first + timedelta(days=d) + TERMS) for d in range(days)]


def vendor_rows(
    rng: random.Random, tenant: UUID, count: int
) -> tuple[list[tuple[UUID, str]], list[tuple[Any, ...]]]:
    """(vendor id, currency) pairs, and their rows in VENDOR_COLUMNS order."""
    vendors = [(new_id(), rng.choice(CURRENCIES)) for _ in range(count)]
    rows = [
        (tenant, vendor, f"Vendor {n}", f"TAX-{n:03d}", currency, 30, True, 1)
        for n, (vendor, currency) in enumerate(vendors)
    ]
    return vendors, rows


def invoice_rows(
    rng: random.Random,
    tenant: UUID,
    vendors: Sequence[tuple[UUID, str]],
    count: int,
    line_shapes: Sequence[Shape],
    days: Sequence[tuple[date, date]],
    *,
    lines: int = 1,
    status: str | None = None,
    version: int = 1,
    prefix: str = "INV",
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(invoice row, its line rows) for `count` invoices of `tenant`, numbered
    `<prefix>-000001` on. Statuses are drawn by STATUS_WEIGHTS unless `status` is given."""
    picked_vendors = rng.choices(vendors, k=count)
    drawn = rng.choices(line_shapes, k=count * lines)
    picked_days = rng.choices(days, k=count)
    statuses = [status] * count if status else rng.choices(STATUSES, STATUS_WEIGHTS, k=count)
    picks = zip(
        picked_vendors,
        (drawn[i : i + lines] for i in range(0, count * lines, lines)),
        picked_days,
        statuses,
        strict=True,
    )
    for n, ((vendor, currency), its_shapes, (issued, due), drawn_status) in enumerate(picks, 1):
        invoice = new_id()
        subtotal = sum((shape[4] for shape in its_shapes), ZERO)
        tax = sum((shape[5] for shape in its_shapes), ZERO)
        total = subtotal + tax
        paid = total if drawn_status == "paid" else ZERO
        yield (
            (
                tenant,
                invoice,
                vendor,
                f"{prefix}-{n:06d}",
                issued,
                due,
                currency,
                "api",
                subtotal,
                tax,
                total,
                paid,
                drawn_status,
                version,
                "invoice",
                "per_line",
                json.dumps(
                    taxes.compute(
                        [(shape[1], shape[2]) for shape in its_shapes],
                        [taxes.LineTax.bare(shape[3]) for shape in its_shapes],
                        TaxRounding.PER_LINE,
                    ).summary
                ),
                [],
                0 if drawn_status == "draft" else 1,
                fold_invoice_number(f"{prefix}-{n:06d}"),
            ),
            [
                (tenant, new_id(), invoice, position, *shape)
                for position, shape in enumerate(its_shapes)
            ],
        )
