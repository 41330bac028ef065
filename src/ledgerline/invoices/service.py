"""Invoice rules: totals computed here, duplicates refused, a lifecycle of checked steps.

Rounding: each line's subtotal (quantity x unit price) and tax (subtotal x rate) are
rounded to cents half-up (commercial rounding, as invoices print them), and the invoice
totals are the sums of the rounded lines, so lines and totals always agree.

Lifecycle: draft -> submitted -> approved | rejected; approved -> paid (by payments that
settle the total); void from any status but paid. Every step takes the row lock and
the caller's If-Match version, so of two concurrent steps exactly one happens; an
illegal step is 409 naming the current status. Each step is kept in the status history
and the audit trail.

A draft made from an uploaded document is checked against it at submit: when the total
read from the document (amount, and currency when one was read) differs from what the
lines add up to, submit is refused unless the clerk gives a reason to override, which
is audited (`invoice.document_total_overridden`) and kept in the status history. A PDF
not read yet holds the submit back (409) until it has been.

Approval posts the invoice to the ledger, a void after approval reverses that entry, and
each payment posts too, all in the step's own transaction (`invoices/postings.py`).

Each endpoint makes one call here that does its whole step (lock, If-Match, change,
audit) and returns what the answer shows: the invoice with its lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db import driver
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version, not_found, record_by_id, row_by_id
from ledgerline.events.catalog import invoice_changed
from ledgerline.invoices import approvals, credit_notes, duplicates, postings, taxes
from ledgerline.invoices.filters import InvoiceFilter
from ledgerline.invoices.models import (
    CreditNoteAllocation,
    Invoice,
    InvoiceApproval,
    InvoiceDocument,
    InvoiceKind,
    InvoiceLine,
    InvoicePayment,
    InvoiceStatus,
    InvoiceStatusChange,
    ProcessingStatus,
    TaxRounding,
)
from ledgerline.pagination import PageRequest, SortKey, keyset_page
from ledgerline.problems import Problem
from ledgerline.purchasing import matching
from ledgerline.purchasing.models import MatchResolution
from ledgerline.values import cents, precise
from ledgerline.vendors.models import Vendor

TRANSITIONS: dict[str, tuple[frozenset[InvoiceStatus], InvoiceStatus]] = {
    "submit": (frozenset({InvoiceStatus.DRAFT}), InvoiceStatus.SUBMITTED),
    "approve": (frozenset({InvoiceStatus.SUBMITTED}), InvoiceStatus.APPROVED),
    "reject": (
        frozenset({InvoiceStatus.SUBMITTED, InvoiceStatus.MATCH_EXCEPTION}),
        InvoiceStatus.REJECTED,
    ),
    "reopen": (frozenset({InvoiceStatus.REJECTED}), InvoiceStatus.DRAFT),
    "void": (
        frozenset(
            {
                InvoiceStatus.DRAFT,
                InvoiceStatus.SUBMITTED,
                InvoiceStatus.MATCH_EXCEPTION,
                InvoiceStatus.APPROVED,
                InvoiceStatus.REJECTED,
            }
        ),
        InvoiceStatus.VOID,
    ),
}


@dataclass(frozen=True, slots=True)
class InvoiceWithLines:
    """An invoice as its endpoints answer it: the row (its version is the ETag) and its
    lines in order."""

    invoice: Invoice
    lines: list[InvoiceLine]


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal | None  # a bare rate (none: 0 unless a tax code is named)
    account_code: str | None = None  # posted to at approval; else the vendor's default
    tax_code: str | None = None
    purchase_order_line_id: UUID | None = None  # matched against at submit


def totals(lines: Sequence[Line]) -> tuple[list[tuple[Decimal, Decimal]], Decimal, Decimal]:
    """Per line (subtotal, tax), then the invoice's subtotal and tax."""
    per_line = []
    for line in lines:
        subtotal = cents(line.quantity * line.unit_price)
        per_line.append((subtotal, cents(subtotal * (line.tax_rate or Decimal("0")))))
    return (
        per_line,
        sum((s for s, _ in per_line), Decimal("0.00")),
        sum((t for _, t in per_line), Decimal("0.00")),
    )


async def _set_lines(
    session: AsyncSession, invoice: Invoice, lines: Sequence[Line]
) -> list[InvoiceLine]:
    """The invoice's lines, their tax (by code or bare rate, rounded as the invoice says),
    its tax summary and totals. The lines are returned as they will be stored (four
    decimals, as their columns keep them), so the caller need not read them back."""
    state_code = None
    if invoice.vendor_id is not None and any(line.tax_code for line in lines):
        state_code = await session.scalar(
            select(Vendor.state_code).where(Vendor.id == invoice.vendor_id)
        )
    line_taxes = await taxes.line_taxes(
        session, [(line.tax_code, line.tax_rate) for line in lines], state_code
    )
    computed = taxes.compute(
        [(line.quantity, line.unit_price) for line in lines],
        line_taxes,
        TaxRounding(invoice.tax_rounding or TaxRounding.PER_LINE),
    )
    per_line = zip(computed.line_subtotals, computed.line_taxes, line_taxes, strict=True)
    stored = [
        InvoiceLine(
            tenant_id=invoice.tenant_id,
            invoice_id=invoice.id,
            position=position,
            description=line.description,
            quantity=precise(line.quantity),
            unit_price=precise(line.unit_price),
            tax_rate=precise(tax.rate),
            line_subtotal=line_subtotal,
            line_tax=line_tax,
            account_code=line.account_code,
            tax_code=line.tax_code,
            purchase_order_line_id=line.purchase_order_line_id,
        )
        for position, (line, (line_subtotal, line_tax, tax)) in enumerate(
            zip(lines, per_line, strict=True)
        )
    ]
    session.add_all(stored)
    invoice.subtotal, invoice.tax_total = computed.subtotal, computed.tax_total
    invoice.total = computed.subtotal + computed.tax_total
    invoice.tax_summary = computed.summary
    return stored


def _check_claimed_total(claimed: Decimal | None, invoice: Invoice) -> None:
    if claimed is not None and cents(claimed) != invoice.total:
        raise Problem(
            422,
            "total_mismatch",
            f"The lines add up to {invoice.total}, not {cents(claimed)}.",
            extra={"computed_total": str(invoice.total)},
        )


async def create_invoice(
    session: AsyncSession, audit: AuditContext, **fields: Any
) -> InvoiceWithLines:
    """A draft invoice (see `add_invoice`), answered with its lines."""
    return await _add_invoice(session, audit, **fields)


async def add_invoice(session: AsyncSession, audit: AuditContext, **fields: Any) -> Invoice:
    """A draft invoice (or credit note) whose totals come from its lines; a claimed
    `total` must agree."""
    return (await _add_invoice(session, audit, **fields)).invoice


async def _add_invoice(
    session: AsyncSession,
    audit: AuditContext,
    *,
    vendor_id: UUID,
    number: str,
    issue_date: date,
    lines: Sequence[Line],
    due_date: date | None = None,
    currency: str | None = None,
    po_number: str | None = None,
    notes: str | None = None,
    total: Decimal | None = None,
    source: str = "api",
    kind: InvoiceKind = InvoiceKind.INVOICE,
    tax_rounding: TaxRounding = TaxRounding.PER_LINE,
    original_invoice_id: UUID | None = None,
) -> InvoiceWithLines:
    vendor = await _active_vendor(session, vendor_id)
    await _check_original(session, kind, original_invoice_id, vendor_id)
    await duplicates.refuse_same_number(session, vendor_id, number, None)
    invoice = Invoice(
        tenant_id=audit.tenant_id,
        id=new_id(),
        vendor_id=vendor_id,
        number=number,
        issue_date=issue_date,
        due_date=due_date or issue_date + timedelta(days=vendor.payment_terms_days),
        currency=currency or vendor.default_currency,
        po_number=po_number,
        notes=notes,
        source=source,
        kind=kind,
        tax_rounding=tax_rounding,
        original_invoice_id=original_invoice_id,
        possible_duplicate_of=[],
    )
    _dates_in_order(invoice)
    await _known_account_codes(session, lines)
    await matching.check_references(
        session, vendor_id, [line.purchase_order_line_id for line in lines]
    )
    stored_lines = await _set_lines(session, invoice, lines)  # totals before the row
    _check_claimed_total(total, invoice)
    await duplicates.mark(session, invoice)
    session.add(invoice)
    _history(session, audit, invoice, None, InvoiceStatus.DRAFT, None)
    audit.record(
        session,
        "invoice.created",
        target_type="invoice",
        target_id=invoice.id,
        changes={
            "number": number,
            "total": str(invoice.total),
            **({"kind": str(kind)} if kind != InvoiceKind.INVOICE else {}),
            **(
                {"possible_duplicate_of": [str(i) for i in invoice.possible_duplicate_of]}
                if invoice.possible_duplicate_of
                else {}
            ),
        },
    )
    await _flush_unique(session)  # the invoice, its lines, history and audit: one flush
    await invoice_changed(session, invoice, "create")
    return InvoiceWithLines(invoice, stored_lines)


async def _check_original(
    session: AsyncSession, kind: InvoiceKind, original_id: UUID | None, vendor_id: UUID
) -> None:
    """A credit note's original is an invoice of the same vendor (404, 422 otherwise)."""
    if original_id is None:
        return
    if kind != InvoiceKind.CREDIT_NOTE:
        raise Problem(
            422, "original_only_for_credit_notes", "Only a credit note names an original."
        )
    original = await row_by_id(session, Invoice, original_id, what="invoice")
    if original.kind != InvoiceKind.INVOICE or original.vendor_id != vendor_id:
        raise Problem(
            422,
            "original_invoice_invalid",
            "A credit note's original is an invoice of the same vendor.",
        )


async def _known_account_codes(session: AsyncSession, lines: Sequence[Line]) -> None:
    """Every account code a line names is one of the tenant's accounts (422 otherwise)."""
    codes = {line.account_code for line in lines if line.account_code is not None}
    if codes:
        await postings.accounts_by_code(session, codes)


@dataclass(frozen=True, slots=True)
class VendorTerms:
    """What an invoice takes from its vendor: the currency and the payment terms."""

    default_currency: str
    payment_terms_days: int


# Sent with asyncpg itself (db/driver.py): every create reads it.
_VENDOR_TERMS = "SELECT is_active, default_currency, payment_terms_days FROM vendors WHERE id = $1"


async def _active_vendor(session: AsyncSession, vendor_id: UUID) -> VendorTerms:
    connection = await driver.driver_connection(session)
    vendor = await connection.fetchrow(_VENDOR_TERMS, vendor_id)
    if vendor is None:
        raise Problem(404, "vendor_not_found", "No such vendor.")
    if not vendor["is_active"]:
        raise Problem(409, "vendor_inactive", "This vendor is deactivated.")
    return VendorTerms(vendor["default_currency"], vendor["payment_terms_days"])


async def new_document_draft(session: AsyncSession, audit: AuditContext) -> Invoice:
    """An empty draft for an uploaded document: its fields come from the document's
    processing or from a person; it cannot be submitted until they are complete."""
    invoice = Invoice(
        tenant_id=audit.tenant_id,
        id=new_id(),
        source="upload",
        subtotal=Decimal("0.00"),
        tax_total=Decimal("0.00"),
        total=Decimal("0.00"),
    )
    session.add(invoice)
    await session.flush()
    _history(session, audit, invoice, None, InvoiceStatus.DRAFT, None)
    return invoice


async def get_invoice(session: AsyncSession, invoice_id: UUID) -> Invoice:
    return await row_by_id(session, Invoice, invoice_id, what="invoice")


async def read_invoice(session: AsyncSession, invoice_id: UUID) -> InvoiceWithLines:
    return await _with_lines(session, await get_invoice(session, invoice_id))


# An invoice with its lines as GET /invoices/{id} shows it, in one round trip, read with
# asyncpg itself (db/driver.py). Line amounts travel as text inside the JSON, exactly.
_INVOICE_WITH_LINES = """
SELECT i.id, i.vendor_id, i.number, i.issue_date, i.due_date, i.currency, i.source,
       i.po_number, i.notes, i.subtotal, i.tax_total, i.total, i.amount_paid, i.status,
       i.rejection_reason, i.created_at, i.updated_at, i.version, i.kind,
       i.original_invoice_id, i.tax_rounding, i.tax_summary, i.possible_duplicate_of,
       i.match_differences,
       (SELECT coalesce(json_agg(json_build_object(
                   'description', l.description, 'quantity', l.quantity::text,
                   'unit_price', l.unit_price::text, 'tax_rate', l.tax_rate::text,
                   'line_subtotal', l.line_subtotal::text, 'line_tax', l.line_tax::text,
                   'account_code', l.account_code, 'tax_code', l.tax_code,
                   'purchase_order_line_id', l.purchase_order_line_id
               ) ORDER BY l.position), '[]')
          FROM invoice_lines AS l
         WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) AS lines
  FROM invoices AS i
 WHERE i.id = $1
"""


async def read_invoice_view(session: AsyncSession, invoice_id: UUID) -> dict[str, Any]:
    """The invoice's fields, `version` and `lines` (a list of dicts: the engine's
    connections decode JSON, as SQLAlchemy's asyncpg dialect sets them up), for the
    response."""
    return dict(await record_by_id(session, _INVOICE_WITH_LINES, invoice_id, what="invoice"))


async def list_invoices(
    session: AsyncSession, filtered: InvoiceFilter, page: PageRequest, sort: SortKey | None
) -> tuple[Sequence[Invoice], str | None]:
    """A page of the invoices the filters select, and the cursor of the next one."""
    return await keyset_page(session, filtered.invoices(), Invoice.id, page, sort)


async def status_history(session: AsyncSession, invoice_id: UUID) -> list[InvoiceStatusChange]:
    await get_invoice(session, invoice_id)
    return list(
        await session.scalars(
            select(InvoiceStatusChange)
            .where(InvoiceStatusChange.invoice_id == invoice_id)
            .order_by(InvoiceStatusChange.id)
        )
    )


async def approvals_of_invoice(session: AsyncSession, invoice_id: UUID) -> list[InvoiceApproval]:
    await get_invoice(session, invoice_id)
    return await approvals.approvals_of(session, invoice_id)


async def allocations_of_invoice(
    session: AsyncSession, invoice_id: UUID
) -> list[CreditNoteAllocation]:
    await get_invoice(session, invoice_id)
    return await credit_notes.allocations_of(session, invoice_id)


async def lines_of(session: AsyncSession, invoice: Invoice) -> list[InvoiceLine]:
    return list(
        await session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        )
    )


async def _with_lines(session: AsyncSession, invoice: Invoice) -> InvoiceWithLines:
    return InvoiceWithLines(invoice, await lines_of(session, invoice))


def _dates_in_order(invoice: Invoice) -> None:
    if invoice.due_date and invoice.issue_date and invoice.due_date < invoice.issue_date:
        raise Problem(422, "due_before_issue", "The due date precedes the issue date.")


async def _flush_unique(session: AsyncSession) -> None:
    """Flush; a number another request took meanwhile is the duplicate it is (409)."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise Problem(
            409, "duplicate_invoice", "This vendor's invoice with this number exists."
        ) from error


def _draft_only(invoice: Invoice) -> None:
    if invoice.status != InvoiceStatus.DRAFT:
        raise Problem(
            409,
            "invoice_not_draft",
            "Only a draft can change.",
            extra={"current_status": invoice.status},
        )


async def update_invoice(
    session: AsyncSession,
    audit: AuditContext,
    invoice_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> InvoiceWithLines:
    """Drafts only; `lines` in the changes replace the invoice's lines."""
    invoice = await locked_at_version(session, Invoice, invoice_id, if_match, what="invoice")
    _draft_only(invoice)
    lines: Sequence[Line] | None = changes.pop("lines", None)
    claimed = changes.pop("total", None)
    vendor = None
    if changes.get("vendor_id") is not None:
        vendor = await _active_vendor(session, changes["vendor_id"])
    if "number" in changes or "vendor_id" in changes:
        await duplicates.refuse_same_number(
            session,
            changes.get("vendor_id", invoice.vendor_id),
            changes.get("number", invoice.number),
            invoice.id,
        )
    for key, value in changes.items():
        setattr(invoice, key, value)
    if vendor is not None:
        # A draft that gets its vendor (an uploaded one) takes the vendor's defaults.
        invoice.currency = invoice.currency or vendor.default_currency
        if invoice.due_date is None and invoice.issue_date is not None:
            invoice.due_date = invoice.issue_date + timedelta(days=vendor.payment_terms_days)
    _dates_in_order(invoice)
    if lines is None and ("vendor_id" in changes or "tax_rounding" in changes):
        # The vendor's state and the rounding decide the tax: computed again.
        lines = [_as_line(line) for line in await lines_of(session, invoice)]
    if lines is not None:
        await _known_account_codes(session, lines)
        await matching.check_references(
            session, invoice.vendor_id, [line.purchase_order_line_id for line in lines]
        )
        await session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
        await _set_lines(session, invoice, lines)
        # New lines are a new version even when the totals stay the same.
        invoice.updated_at = func.now()
    _check_claimed_total(claimed, invoice)
    await duplicates.mark(session, invoice)
    await _flush_unique(session)
    audit.record(
        session,
        "invoice.updated",
        target_type="invoice",
        target_id=invoice.id,
        changes={key: str(value) for key, value in changes.items()},
    )
    return await _with_lines(session, invoice)


def _as_line(line: InvoiceLine) -> Line:
    rate = None if line.tax_code is not None else line.tax_rate
    return Line(
        line.description,
        line.quantity,
        line.unit_price,
        rate,
        line.account_code,
        line.tax_code,
        line.purchase_order_line_id,
    )


async def delete_invoice(
    session: AsyncSession, audit: AuditContext, invoice_id: UUID, *, if_match: str | None
) -> None:
    """Drafts only."""
    invoice = await locked_at_version(session, Invoice, invoice_id, if_match, what="invoice")
    _draft_only(invoice)
    audit.record(
        session,
        "invoice.deleted",
        target_type="invoice",
        target_id=invoice.id,
        changes={"number": invoice.number},
    )
    await session.delete(invoice)


def _history(
    session: AsyncSession,
    audit: AuditContext,
    invoice: Invoice,
    before: InvoiceStatus | None,
    after: InvoiceStatus,
    reason: str | None,
) -> None:
    session.add(
        InvoiceStatusChange(
            tenant_id=invoice.tenant_id,
            invoice_id=invoice.id,
            from_status=before,
            to_status=after,
            reason=reason,
            actor_type=audit.actor.type,
            actor_id=audit.actor.id,
        )
    )


REQUIRED_TO_LEAVE_DRAFT = ("vendor_id", "number", "issue_date", "due_date", "currency")


def _complete(invoice: Invoice, step: str) -> None:
    """Only a draft may lack fields (the table's check says so too): a draft leaves draft,
    submitted or voided, only when complete."""
    missing = [field for field in REQUIRED_TO_LEAVE_DRAFT if getattr(invoice, field) is None]
    if missing:
        raise Problem(
            422,
            "invoice_incomplete",
            f"Set {', '.join(missing)} before you {step} this invoice.",
            extra={"missing": missing},
        )


async def _agrees_with_document(
    session: AsyncSession,
    audit: AuditContext,
    invoice: Invoice,
    override_reason: str | None,
) -> str | None:
    """Refuse (422 `document_total_mismatch`) an invoice whose lines disagree with the
    total read from its document, unless `override_reason` says why; an override is
    audited. A PDF still waiting to be read is 409 `document_being_read`: submitting
    first would skip the comparison. Returns the reason when it overrode a disagreement."""
    document = (
        await session.execute(
            select(
                InvoiceDocument.content_type,
                InvoiceDocument.processing_status,
                InvoiceDocument.extracted_fields,
            ).where(InvoiceDocument.invoice_id == invoice.id)
        )
    ).one_or_none()
    if document is None:
        return None
    if document.content_type == "application/pdf" and document.processing_status in (
        ProcessingStatus.QUEUED,
        ProcessingStatus.PROCESSING,
    ):
        raise Problem(
            409,
            "document_being_read",
            "The invoice's document is still being read; submit once it has been.",
            extra={"processing_status": document.processing_status},
        )
    read = document.extracted_fields
    if not read or "total" not in read:
        return None
    document_total = Decimal(read["total"])
    document_currency = read.get("currency")
    if document_total == invoice.total and document_currency in (None, invoice.currency):
        return None
    disagreement = {
        "document_total": str(document_total),
        "document_currency": document_currency,
        "computed_total": str(invoice.total),
        "currency": invoice.currency,
    }
    if not override_reason:
        said = f"{document_currency or ''} {document_total}".strip()
        raise Problem(
            422,
            "document_total_mismatch",
            f"The document says {said}; the lines add up to {invoice.currency} "
            f"{invoice.total}. Correct the lines, or submit with a total_override_reason.",
            extra=disagreement,
        )
    audit.record(
        session,
        "invoice.document_total_overridden",
        target_type="invoice",
        target_id=invoice.id,
        changes={**disagreement, "reason": override_reason},
    )
    return override_reason


async def transition(
    session: AsyncSession,
    audit: AuditContext,
    invoice_id: UUID,
    step: str,
    *,
    if_match: str | None,
    reason: str | None = None,
    total_override_reason: str | None = None,
    role: str | None = None,
    duplicate_override_reason: str | None = None,
) -> InvoiceWithLines:
    """One lifecycle step (a key of TRANSITIONS) on the invoice at the version read.
    Submit checks the lines against the document's total (`total_override_reason`).
    Approve records the caller's approval (in `role`) under the tenant's policy; the
    invoice is approved once the last one required lands. A possible duplicate needs
    `duplicate_override_reason`."""
    invoice = await locked_at_version(session, Invoice, invoice_id, if_match, what="invoice")
    allowed_from, target = TRANSITIONS[step]
    if invoice.status not in allowed_from:
        raise Problem(
            409,
            "illegal_transition",
            f"Cannot {step} an invoice that is {invoice.status}.",
            extra={"current_status": invoice.status},
        )
    if invoice.status == InvoiceStatus.DRAFT:
        _complete(invoice, step)
    if step == "submit" and not await lines_of(session, invoice):
        raise Problem(422, "invoice_without_lines", "An invoice needs at least one line.")
    if step == "reject" and not reason:
        raise Problem(422, "reason_required", "A rejection needs a reason.")
    if step == "void" and invoice.amount_paid > 0:
        raise Problem(
            409,
            "invoice_has_payments",
            f"{invoice.amount_paid} is paid on this invoice; it cannot be voided.",
            extra={"current_status": invoice.status},
        )
    if step == "void" and invoice.kind == InvoiceKind.CREDIT_NOTE:
        resolved = await session.scalar(
            select(MatchResolution.invoice_id).where(MatchResolution.credit_note_id == invoice.id)
        )
        if resolved is not None:
            raise Problem(
                409,
                "credit_note_resolves_match",
                "This credit note resolved an invoice's match exception; it cannot be voided.",
                extra={"invoice_id": str(resolved), "current_status": invoice.status},
            )
    if step == "void" and await postings.assets_bought_on(session, invoice):
        raise Problem(
            409,
            "invoice_has_assets",
            "Assets were bought on lines of this invoice; it cannot be voided.",
            extra={"current_status": invoice.status},
        )
    if step == "submit" and invoice.total <= 0:
        raise Problem(422, "zero_total", "An invoice of 0.00 has nothing to approve or pay.")
    if step == "submit":
        reason = await _agrees_with_document(session, audit, invoice, total_override_reason)
        invoice.submissions += 1
        await duplicates.mark(session, invoice)
        # A credit note's lines may name order lines (to resolve a match exception);
        # they credit, so they match nothing.
        if invoice.kind == InvoiceKind.INVOICE:
            invoice.match_differences = await matching.match_on_submit(
                session, invoice, await lines_of(session, invoice)
            )
        if invoice.match_differences:
            target = InvoiceStatus.MATCH_EXCEPTION
    if step == "approve":
        await _unless_duplicate(session, audit, invoice, duplicate_override_reason)
        if not await approvals.record_approval(
            session, audit, invoice, role, duplicate_override_reason
        ):
            audit.record(
                session,
                "invoice.approval_recorded",
                target_type="invoice",
                target_id=invoice.id,
                changes={"submission": invoice.submissions, "role": role},
            )
            return await _with_lines(session, invoice)
    if step == "reopen":
        invoice.rejection_reason = None
    before = invoice.status
    invoice.status = target
    if step == "reject":
        invoice.rejection_reason = reason
    _history(session, audit, invoice, before, target, reason)
    lines = await lines_of(session, invoice)
    # Purchase order lines are taken before the ledger's balances, as receipts take them.
    if step in ("reject", "void"):
        await matching.release_matches(session, invoice)
    # The approval entry's id is chosen here so that the audit row is written before the
    # posting: the posting locks the balances of busy accounts (accounts payable) until
    # the commit, and what follows it is only the event and the commit.
    entry_id = new_id() if step == "approve" else None
    release = None
    # Only lines that name a purchase order line were matched, so only they can release.
    if step == "approve" and any(line.purchase_order_line_id for line in lines):
        release = await matching.accrual_release(session, invoice)
    elif step == "void" and before == InvoiceStatus.APPROVED:
        voided = await postings.post_void(session, audit, invoice, datetime.now(UTC).date())
        entry_id = voided.id if voided else None
        await matching.reverse_accrual_release(session, audit, invoice, datetime.now(UTC).date())
    audit.record(
        session,
        f"invoice.{step}",
        target_type="invoice",
        target_id=invoice.id,
        changes={
            "status": {"before": before, "after": target},
            **({"reason": reason} if reason else {}),
            **({"journal_entry_id": str(entry_id)} if entry_id else {}),
            **({"accrual_release_entry_id": str(release.entry_id)} if release else {}),
            **({"match_differences": invoice.match_differences} if step == "submit" else {}),
        },
    )
    if step == "approve":
        await postings.post_approval(
            session, audit, invoice, lines, entry_id=entry_id, along=[release] if release else []
        )
    await invoice_changed(session, invoice, step, **({"reason": reason} if reason else {}))
    return InvoiceWithLines(invoice, lines)


async def override_match(
    session: AsyncSession,
    audit: AuditContext,
    invoice_id: UUID,
    *,
    if_match: str | None,
    reason: str,
) -> InvoiceWithLines:
    """An owner lets an invoice in `match_exception` go on to approval despite its
    differences, with a reason (audited): what can be matched is, and it is submitted."""
    invoice = await locked_at_version(session, Invoice, invoice_id, if_match, what="invoice")
    if invoice.status != InvoiceStatus.MATCH_EXCEPTION:
        raise Problem(
            409,
            "illegal_transition",
            f"Only an invoice in match_exception is overridden; this one is {invoice.status}.",
            extra={"current_status": invoice.status},
        )
    await matching.match_overridden(session, invoice, await lines_of(session, invoice))
    return await _matched_after_all(
        session,
        audit,
        invoice,
        reason,
        step="override_match",
        action="invoice.match_overridden",
        audited={"reason": reason},
        event={"reason": reason},
    )


async def _matched_after_all(
    session: AsyncSession,
    audit: AuditContext,
    invoice: Invoice,
    reason: str,
    *,
    step: str,
    action: str,
    audited: dict[str, Any],
    event: dict[str, Any],
) -> InvoiceWithLines:
    """An invoice in match_exception goes on to `submitted` (by an override or a credit
    note): history, audit record and event of the step."""
    before = invoice.status
    invoice.status = InvoiceStatus.SUBMITTED
    _history(session, audit, invoice, before, InvoiceStatus.SUBMITTED, reason)
    await session.flush()
    audit.record(
        session,
        action,
        target_type="invoice",
        target_id=invoice.id,
        changes={
            "status": {"before": before, "after": InvoiceStatus.SUBMITTED},
            **audited,
            "match_differences": invoice.match_differences,
        },
    )
    await invoice_changed(session, invoice, step, **event)
    return await _with_lines(session, invoice)


async def resolve_match(
    session: AsyncSession,
    audit: AuditContext,
    invoice_id: UUID,
    *,
    if_match: str | None,
    credit_note_id: UUID,
) -> InvoiceWithLines:
    """An owner resolves an invoice in `match_exception` by a credit note: an approved
    credit note of the same vendor and currency that credits this invoice
    (`original_invoice_id`) and resolved no other. Net of its lines, the invoice's lines
    must fall within tolerance (`matching.resolve_by_credit_note`); then they are matched
    and the invoice is submitted, as after an override. Rows are locked as credit-note
    allocations lock them, the credit note, then the invoice; the invoice is answered
    for first (404, 428, 412)."""
    note = await session.scalar(
        select(Invoice).where(Invoice.id == credit_note_id).with_for_update()
    )
    invoice = await locked_at_version(session, Invoice, invoice_id, if_match, what="invoice")
    if note is None or note.kind != InvoiceKind.CREDIT_NOTE:
        raise not_found("credit_note")
    if invoice.status != InvoiceStatus.MATCH_EXCEPTION:
        raise Problem(
            409,
            "illegal_transition",
            f"Only an invoice in match_exception is resolved; this one is {invoice.status}.",
            extra={"current_status": invoice.status},
        )
    if note.vendor_id != invoice.vendor_id or note.currency != invoice.currency:
        raise Problem(
            409,
            "credit_note_mismatch",
            "The credit note is of another vendor or currency than the invoice.",
        )
    if note.original_invoice_id != invoice.id:
        raise Problem(
            409,
            "credit_note_mismatch",
            "The credit note does not credit this invoice (its original_invoice_id).",
        )
    if note.status != InvoiceStatus.APPROVED:
        raise Problem(
            409,
            "credit_note_not_approved",
            f"Only an approved credit note resolves a match; this one is {note.status}.",
            extra={"current_status": note.status},
        )
    used = await session.scalar(
        select(MatchResolution.invoice_id).where(MatchResolution.credit_note_id == note.id)
    )
    if used is not None:
        raise _credit_note_used(used)
    figures = await matching.resolve_by_credit_note(
        session, invoice, await lines_of(session, invoice), await lines_of(session, note)
    )
    assert invoice.vendor_id is not None
    session.add(
        MatchResolution(
            tenant_id=invoice.tenant_id,
            id=new_id(),
            invoice_id=invoice.id,
            credit_note_id=note.id,
            vendor_id=invoice.vendor_id,
            created_by=audit.actor.id,
        )
    )
    try:
        await session.flush()
    except IntegrityError as error:
        raise _credit_note_used(None) from error
    return await _matched_after_all(
        session,
        audit,
        invoice,
        f"resolved by credit note {note.number}",
        step="resolve_match",
        action="invoice.match_resolved",
        audited={"credit_note_id": str(note.id), "netted": figures},
        event={"credit_note_id": str(note.id)},
    )


def _credit_note_used(invoice_id: UUID | None) -> Problem:
    return Problem(
        409,
        "credit_note_used",
        "This credit note has resolved a match already.",
        extra={"invoice_id": str(invoice_id)} if invoice_id else None,
    )


async def _unless_duplicate(
    session: AsyncSession, audit: AuditContext, invoice: Invoice, override_reason: str | None
) -> None:
    """409 `possible_duplicate` when the invoice has likely twins, unless the approver
    gives a reason, which is audited."""
    found = await duplicates.mark(session, invoice)
    if not found:
        return
    twins = [str(i) for i in found]
    if not override_reason:
        raise Problem(
            409,
            "possible_duplicate",
            "This vendor has an invoice of the same total issued within 7 days under another"
            " number; approve with a duplicate_override_reason if it is not a duplicate.",
            extra={"possible_duplicate_of": twins},
        )
    audit.record(
        session,
        "invoice.duplicate_overridden",
        target_type="invoice",
        target_id=invoice.id,
        changes={"possible_duplicate_of": twins, "reason": override_reason},
    )


async def pay(
    session: AsyncSession,
    audit: AuditContext,
    invoice_id: UUID,
    *,
    if_match: str | None,
    paid_on: date,
    amount: Decimal,
    reference: str | None,
    paying_account_id: UUID | None = None,
) -> InvoiceWithLines:
    """Record and post a payment of an approved invoice; it is paid once the total is
    settled. The invoice's row lock orders concurrent payments, so what is paid never
    exceeds the total."""
    invoice = await locked_at_version(session, Invoice, invoice_id, if_match, what="invoice")
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise Problem(
            409,
            "credit_note_not_payable",
            "A credit note is applied to invoices (POST /credit-notes/{id}/apply), not paid.",
        )
    if invoice.status != InvoiceStatus.APPROVED:
        raise Problem(
            409,
            "illegal_transition",
            f"Cannot pay an invoice that is {invoice.status}.",
            extra={"current_status": invoice.status},
        )
    await approvals.refuse_approver_paying(session, audit, invoice)
    outstanding = invoice.total - invoice.amount_paid
    if amount > outstanding:
        raise Problem(
            422,
            "overpayment",
            f"Only {outstanding} is outstanding.",
            extra={"outstanding": str(outstanding)},
        )
    if paid_on > datetime.now(UTC).date():
        raise Problem(422, "payment_in_future", "A payment is recorded once it happened.")
    assert invoice.issue_date is not None
    assert invoice.currency is not None
    assert invoice.vendor_id is not None
    if paid_on < invoice.issue_date:
        raise Problem(
            422,
            "payment_before_issue",
            f"The invoice was issued on {invoice.issue_date}; it cannot be paid before.",
        )
    paying = await postings.paying_account(session, paying_account_id, invoice.currency)
    payment = InvoicePayment(
        tenant_id=invoice.tenant_id,
        id=new_id(),
        invoice_id=invoice.id,
        vendor_id=invoice.vendor_id,
        currency=invoice.currency,
        paid_on=paid_on,
        amount=amount,
        reference=reference,
        paying_account_id=paying.id,
    )
    entry = await postings.post_payment(session, audit, invoice, payment, paying)
    payment.entry_id = entry.id
    session.add(payment)
    invoice.amount_paid += amount
    if invoice.amount_paid == invoice.total:
        _history(session, audit, invoice, invoice.status, InvoiceStatus.PAID, reference)
        invoice.status = InvoiceStatus.PAID
    await session.flush()
    audit.record(
        session,
        "invoice.payment_recorded",
        target_type="invoice",
        target_id=invoice.id,
        changes={
            "payment_id": str(payment.id),
            "amount": str(amount),
            "paid": str(invoice.amount_paid),
            "status": invoice.status,
            "journal_entry_id": str(entry.id),
        },
    )
    await invoice_changed(session, invoice, "pay", payment_id=str(payment.id), amount=str(amount))
    return await _with_lines(session, invoice)
