"""Invoices as CSV: a streamed export, and an import that checks every row first.

One row per invoice line (an invoice without lines has one row with empty line
cells); invoice columns repeat on each of its rows. Money and quantities are plain
decimals, dates ISO 8601. A line carries its tax code (its `tax_rate` is then the
code's, for reading) and account; an invoice its kind, tax rounding and tax summary (one
JSON cell: a list of rows per code, rate and component, as the API answers it). The
import reads the same columns, so an export imports into another tenant as the same
invoices, tax summary included, provided that tenant has the same tax codes: vendors
are found by tax id, else by name, and created when missing; invoices arrive as drafts
(their approvals and payments belong to the tenant they happened in). An invoice whose
vendor already has its number is skipped, so importing a file twice makes nothing
twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Text, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.csvfiles import csv_chunk, field_errors, read_rows, refuse_if_invalid, summary
from ledgerline.db.engine import Database
from ledgerline.db.timeouts import allow_long_statements
from ledgerline.invoices import service, taxes
from ledgerline.invoices.filters import VENDOR_OF_INVOICE, InvoiceFilter
from ledgerline.invoices.models import Invoice, InvoiceKind, InvoiceLine, TaxRounding
from ledgerline.invoices.schemas import LineIn
from ledgerline.problems import Problem
from ledgerline.values import Currency, Day, NonBlankStr, SignedMoney, TaxId
from ledgerline.vendors import service as vendor_service
from ledgerline.vendors.models import Vendor

EXPORT_COLUMNS = (
    ("invoice_id", Invoice.id),
    ("vendor_name", Vendor.name),
    ("vendor_tax_id", Vendor.tax_id),
    ("number", Invoice.number),
    ("issue_date", Invoice.issue_date),
    ("due_date", Invoice.due_date),
    ("currency", Invoice.currency),
    ("kind", Invoice.kind),
    ("tax_rounding", Invoice.tax_rounding),
    ("status", Invoice.status),
    ("po_number", Invoice.po_number),
    ("notes", Invoice.notes),
    ("line", InvoiceLine.position),
    ("description", InvoiceLine.description),
    ("quantity", InvoiceLine.quantity),
    ("unit_price", InvoiceLine.unit_price),
    ("tax_rate", InvoiceLine.tax_rate),
    ("tax_code", InvoiceLine.tax_code),
    ("account_code", InvoiceLine.account_code),
    ("line_subtotal", InvoiceLine.line_subtotal),
    ("line_tax", InvoiceLine.line_tax),
    ("subtotal", Invoice.subtotal),
    ("tax_total", Invoice.tax_total),
    ("tax_summary", cast(Invoice.tax_summary, Text)),
    ("total", Invoice.total),
    ("amount_paid", Invoice.amount_paid),
)
PARTITION_ROWS = 2_000
MAX_IMPORT_ROWS = 5_000
REQUIRED = ("vendor_name", "number", "issue_date", "description", "quantity", "unit_price")
# Exported for reading, recomputed on import (`total` is checked instead).
INFORMATIONAL = frozenset(
    {"invoice_id", "status", "line", "line_subtotal", "line_tax", "subtotal", "tax_total"}
    | {"amount_paid", "tax_summary"}
)
INVOICE_FIELDS = (
    *("vendor_name", "vendor_tax_id", "issue_date", "due_date", "currency"),
    *("kind", "tax_rounding", "po_number", "notes", "total"),
)


async def export_rows(
    database: Database, tenant_id: UUID, filters: InvoiceFilter
) -> AsyncIterator[str]:
    """The CSV, streamed from a server-side cursor in its own tenant transaction:
    memory stays flat however many rows (the request's transaction has ended when a
    streamed body is sent; the caller's permission was checked before)."""
    yield csv_chunk([[name for name, _ in EXPORT_COLUMNS]])
    statement = (
        select(*(column for _, column in EXPORT_COLUMNS))
        .select_from(Invoice)
        .outerjoin(Vendor, VENDOR_OF_INVOICE)
        .outerjoin(
            InvoiceLine,
            and_(InvoiceLine.tenant_id == Invoice.tenant_id, InvoiceLine.invoice_id == Invoice.id),
        )
        .where(*filters.conditions)
        .order_by(Invoice.id, InvoiceLine.position)
        .execution_options(yield_per=PARTITION_ROWS)
    )
    async with database.tenant_transaction(tenant_id) as session:
        await allow_long_statements(session)
        result = await session.stream(statement)
        async for partition in result.partitions(PARTITION_ROWS):
            yield csv_chunk(partition)


class ImportRow(LineIn):
    """One line of an invoice, with its invoice's fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    vendor_name: NonBlankStr = Field(max_length=200)
    vendor_tax_id: TaxId | None = None
    number: NonBlankStr = Field(max_length=64)
    issue_date: Day
    due_date: Day | None = None
    currency: Currency | None = None
    po_number: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=5000)
    total: SignedMoney | None = None
    kind: InvoiceKind = InvoiceKind.INVOICE
    tax_rounding: TaxRounding = TaxRounding.PER_LINE

    @model_validator(mode="after")
    def _rate_of_the_code_is_for_reading(self) -> ImportRow:
        """An exported line with a tax code shows the code's rate too; the code decides."""
        if self.tax_code is not None:
            self.tax_rate = None
        return self


@dataclass
class PendingInvoice:
    """The rows of one invoice in the file, gathered by (vendor, number)."""

    first: ImportRow
    lines: list[int] = field(default_factory=list)
    items: list[service.Line] = field(default_factory=list)


def _failed(invoice: PendingInvoice, error: str) -> list[dict[str, Any]]:
    return [{"line": n, "status": "failed", "errors": [error]} for n in invoice.lines]


def _vendor_key(row: ImportRow) -> str:
    return f"tax:{row.vendor_tax_id}" if row.vendor_tax_id else f"name:{row.vendor_name}"


async def _vendors(session: AsyncSession) -> dict[str, Vendor]:
    known: dict[str, Vendor] = {}
    for vendor in await session.scalars(select(Vendor)):
        known.setdefault(f"name:{vendor.name}", vendor)
        if vendor.tax_id:
            known[f"tax:{vendor.tax_id}"] = vendor
    return known


async def import_invoices(
    session: AsyncSession, audit: AuditContext, text: str, *, partial: bool
) -> dict[str, Any]:
    rows = read_rows(text, required=REQUIRED, max_rows=MAX_IMPORT_ROWS)
    await allow_long_statements(session)
    report: list[dict[str, Any]] = []
    pending: dict[tuple[str, str], PendingInvoice] = {}
    broken: set[tuple[str, str]] = set()
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        try:
            row = ImportRow.model_validate({k: v for k, v in raw.items() if k not in INFORMATIONAL})
        except ValidationError as error:
            report.append({"line": line, "status": "failed", "errors": field_errors(error)})
            continue
        if row.due_date is not None and row.due_date < row.issue_date:
            report.append(
                {"line": line, "status": "failed", "errors": ["due_date: precedes the issue date"]}
            )
            continue
        key = (_vendor_key(row), row.number)
        invoice = pending.setdefault(key, PendingInvoice(row))
        differing = [
            name for name in INVOICE_FIELDS if getattr(row, name) != getattr(invoice.first, name)
        ]
        if differing:
            report.append(
                {
                    "line": line,
                    "status": "failed",
                    "errors": [
                        f"{name}: differs from the invoice's first row (line {invoice.lines[0]})"
                        for name in differing
                    ],
                }
            )
            broken.add(key)
            continue
        invoice.lines.append(line)
        invoice.items.append(
            service.Line(
                row.description,
                row.quantity,
                row.unit_price,
                row.tax_rate,
                account_code=row.account_code,
                tax_code=row.tax_code,
            )
        )
    vendors = await _vendors(session)
    ready: list[PendingInvoice] = []
    for key, invoice in pending.items():
        if key in broken:
            report.extend(_failed(invoice, "another row of this invoice is invalid"))
            continue
        claimed = invoice.first.total
        computed = _bare_rate_total(invoice)
        if claimed is not None and computed is not None and claimed != computed:
            report.extend(_failed(invoice, f"total: the lines add up to {computed}, not {claimed}"))
            continue
        vendor = vendors.get(key[0])
        problem = (
            "vendor: deactivated"
            if vendor is not None and not vendor.is_active
            else "currency: needed to create the vendor"
            if vendor is None and invoice.first.currency is None
            else None
        )
        if problem:
            report.extend(_failed(invoice, problem))
            continue
        ready.append(invoice)
    refuse_if_invalid(report, len(rows), partial=partial)
    # One import at a time per tenant: a retried upload racing the first would otherwise
    # miss the vendors and invoices the first is creating, and make them twice.
    lock_key = func.hashtextextended(f"invoice-import:{audit.tenant_id}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(lock_key)))
    vendors = await _vendors(session)
    existing = await _existing_numbers(session, {invoice.first.number for invoice in ready})
    for invoice in ready:
        row = invoice.first
        vendor = vendors.get(_vendor_key(row))
        if vendor is not None and (vendor.id, row.number) in existing:
            report.extend(
                {"line": n, "status": "skipped", "reason": "this vendor's invoice exists"}
                for n in invoice.lines
            )
            continue
        try:
            async with session.begin_nested():
                if vendor is None:
                    vendor = await vendor_service.create_vendor(
                        session,
                        audit,
                        may_set_bank_details=False,
                        name=row.vendor_name,
                        tax_id=row.vendor_tax_id,
                        default_currency=row.currency,
                    )
                created = await service.add_invoice(
                    session,
                    audit,
                    vendor_id=vendor.id,
                    number=row.number,
                    issue_date=row.issue_date,
                    due_date=row.due_date,
                    currency=row.currency,
                    po_number=row.po_number,
                    notes=row.notes,
                    lines=invoice.items,
                    total=row.total,
                    kind=row.kind,
                    tax_rounding=row.tax_rounding,
                    source="import",
                )
        except Problem as problem:
            if not partial:
                raise
            report.extend(_failed(invoice, problem.detail))
            continue
        vendors[_vendor_key(row)] = vendor  # kept only once its savepoint held
        report.extend(
            {"line": n, "status": "imported", "invoice_id": str(created.id)} for n in invoice.lines
        )
    return summary(report)


def _bare_rate_total(invoice: PendingInvoice) -> Decimal | None:
    """The total of an invoice whose lines all have bare rates, as it will be computed;
    None when a line names a tax code (resolved in the database: `add_invoice` checks
    the claimed total then)."""
    if any(line.tax_code is not None for line in invoice.items):
        return None
    computed = taxes.compute(
        [(line.quantity, line.unit_price) for line in invoice.items],
        [taxes.LineTax.bare(line.tax_rate or Decimal("0")) for line in invoice.items],
        invoice.first.tax_rounding,
    )
    return computed.subtotal + computed.tax_total


async def _existing_numbers(
    session: AsyncSession, numbers: set[str]
) -> set[tuple[UUID | None, str | None]]:
    rows = await session.execute(
        select(Invoice.vendor_id, Invoice.number).where(Invoice.number.in_(numbers))
    )
    return {(vendor_id, number) for vendor_id, number in rows}
