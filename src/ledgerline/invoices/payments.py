"""Payments of invoices as a resource of their own: listed, read, and reversed.

A payment is recorded and posted by `service.pay`. Reversing one posts the mirror of its
entry, marks it reversed and takes its amount off the invoice, which returns to approved
(or stays approved, partly paid), all under the payment's and the invoice's row locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.invoices import postings
from ledgerline.invoices.models import Invoice, InvoicePayment, InvoiceStatus, InvoiceStatusChange
from ledgerline.ledger.models import JournalEntry, JournalLine
from ledgerline.ledger.posting import entry_lines
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem


@dataclass(frozen=True, slots=True)
class PaymentWithEntry:
    """A payment and the journal entry that posted it (none for one recorded before the
    ledger existed)."""

    payment: InvoicePayment
    entry: JournalEntry | None
    lines: list[JournalLine]


async def list_payments(
    session: AsyncSession,
    page: PageRequest,
    *,
    vendor_id: UUID | None,
    invoice_id: UUID | None,
    paid_from: date | None,
    paid_to: date | None,
) -> tuple[Sequence[InvoicePayment], str | None]:
    """A page of payments, newest first."""
    statement = select(InvoicePayment)
    if vendor_id is not None:
        statement = statement.where(InvoicePayment.vendor_id == vendor_id)
    if invoice_id is not None:
        statement = statement.where(InvoicePayment.invoice_id == invoice_id)
    if paid_from is not None:
        statement = statement.where(InvoicePayment.paid_on >= paid_from)
    if paid_to is not None:
        statement = statement.where(InvoicePayment.paid_on <= paid_to)
    return await keyset_page(session, statement, InvoicePayment.id, page)


async def read_payment(session: AsyncSession, payment_id: UUID) -> PaymentWithEntry:
    payment = await row_by_id(session, InvoicePayment, payment_id, what="payment")
    return await _with_entry(session, payment)


async def _with_entry(session: AsyncSession, payment: InvoicePayment) -> PaymentWithEntry:
    if payment.entry_id is None:
        return PaymentWithEntry(payment, None, [])
    entry = await session.scalar(select(JournalEntry).where(JournalEntry.id == payment.entry_id))
    return PaymentWithEntry(payment, entry, await entry_lines(session, payment.entry_id))


async def payments_of_invoice(session: AsyncSession, invoice_id: UUID) -> list[InvoicePayment]:
    """The invoice's payments in the order they were recorded."""
    await row_by_id(session, Invoice, invoice_id, what="invoice")
    return list(
        await session.scalars(
            select(InvoicePayment)
            .where(InvoicePayment.invoice_id == invoice_id)
            .order_by(InvoicePayment.id)
        )
    )


async def reverse_payment(
    session: AsyncSession, audit: AuditContext, payment_id: UUID, *, if_match: str | None
) -> PaymentWithEntry:
    """Undo a payment at the version read: its mirror entry is posted (dated today), the
    invoice's paid amount goes down and a paid invoice is approved again."""
    payment = await locked_at_version(session, InvoicePayment, payment_id, if_match, what="payment")
    if payment.reversed_at is not None:
        raise Problem(409, "payment_reversed", "This payment has been reversed already.")
    if payment.entry_id is None:
        raise Problem(
            409, "payment_not_posted", "This payment predates the ledger; it cannot be reversed."
        )
    invoice = await row_by_id(session, Invoice, payment.invoice_id, what="invoice", for_update=True)
    reversal = await postings.post_payment_reversal(
        session, audit, payment, datetime.now(UTC).date()
    )
    payment.reversed_at = datetime.now(UTC)
    payment.reversal_entry_id = reversal.id
    before = invoice.status
    invoice.amount_paid -= payment.amount
    if invoice.status == InvoiceStatus.PAID:
        invoice.status = InvoiceStatus.APPROVED
        session.add(
            InvoiceStatusChange(
                tenant_id=invoice.tenant_id,
                invoice_id=invoice.id,
                from_status=before,
                to_status=InvoiceStatus.APPROVED,
                reason="payment reversed",
                actor_type=audit.actor.type,
                actor_id=audit.actor.id,
            )
        )
    await session.flush()
    audit.record(
        session,
        "payment.reversed",
        target_type="payment",
        target_id=payment.id,
        changes={
            "invoice_id": str(invoice.id),
            "amount": str(payment.amount),
            "paid": str(invoice.amount_paid),
            "status": {"before": before, "after": invoice.status},
            "reversal_entry_id": str(reversal.id),
        },
    )
    return await _with_entry(session, payment)
