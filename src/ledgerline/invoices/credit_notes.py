"""Credit notes set against open invoices of their vendor.

A credit note is an invoice of kind `credit_note` (positive amounts; its approval posts
Dr 2000 / Cr expenses and tax). Applying it allocates parts of it to approved invoices of
the same vendor and currency: each allocation raises the invoice's `amount_paid` (an
invoice settled in full is paid) and the credit note's (applied in full, it is paid
too). Accounts payable already holds both sides for the vendor, so an allocation posts
nothing.

Concurrent allocations: the credit note's row is locked first, then the invoices' rows
in the order of their ids, and the open amounts are checked under those locks;
PostgreSQL's `amount_paid <= total` check refuses what would slip past, and the
allocation's foreign keys name the vendor of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version, not_found
from ledgerline.invoices.models import (
    CreditNoteAllocation,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    InvoiceStatusChange,
)
from ledgerline.problems import Problem
from ledgerline.purchasing.models import MatchResolution


@dataclass(frozen=True, slots=True)
class Applied:
    credit_note: Invoice
    allocations: list[CreditNoteAllocation]


def _settled(session: AsyncSession, audit: AuditContext, invoice: Invoice) -> None:
    if invoice.amount_paid == invoice.total:
        session.add(
            InvoiceStatusChange(
                tenant_id=invoice.tenant_id,
                invoice_id=invoice.id,
                from_status=invoice.status,
                to_status=InvoiceStatus.PAID,
                reason="credit note applied",
                actor_type=audit.actor.type,
                actor_id=audit.actor.id,
            )
        )
        invoice.status = InvoiceStatus.PAID


async def _refuse_other_than_resolved(
    session: AsyncSession, credit_note_id: UUID, invoice_ids: Sequence[UUID]
) -> None:
    """A credit note that resolved an invoice's match exception stands for that invoice's
    excess over its order: it is applied to that invoice only (409 otherwise), or the
    invoice would be paid in full and the credit spent elsewhere."""
    resolved = await session.scalar(
        select(MatchResolution.invoice_id).where(MatchResolution.credit_note_id == credit_note_id)
    )
    if resolved is not None and any(invoice_id != resolved for invoice_id in invoice_ids):
        raise Problem(
            409,
            "credit_note_resolves_match",
            "This credit note resolved another invoice's match exception; it applies to"
            " that invoice only.",
            extra={"resolved_invoice_id": str(resolved)},
        )


async def apply_credit_note(
    session: AsyncSession,
    audit: AuditContext,
    credit_note_id: UUID,
    allocations: Sequence[tuple[UUID, Decimal]],
    *,
    if_match: str | None,
) -> Applied:
    """Allocate (invoice id, amount) pairs of an approved credit note."""
    note = await locked_at_version(session, Invoice, credit_note_id, if_match, what="credit_note")
    if note.kind != InvoiceKind.CREDIT_NOTE:
        raise not_found("credit_note")
    if note.status != InvoiceStatus.APPROVED:
        raise Problem(
            409,
            "illegal_transition",
            f"Cannot apply a credit note that is {note.status}.",
            extra={"current_status": note.status},
        )
    ids = [invoice_id for invoice_id, _ in allocations]
    if len(set(ids)) != len(ids):
        raise Problem(422, "invoice_listed_twice", "Name each invoice once.")
    await _refuse_other_than_resolved(session, note.id, ids)
    remaining = note.total - note.amount_paid
    wanted = sum((amount for _, amount in allocations), Decimal("0.00"))
    if wanted > remaining:
        raise Problem(
            422,
            "credit_exceeded",
            f"Only {remaining} of this credit note is left to apply.",
            extra={"remaining": str(remaining)},
        )
    locked = {
        invoice.id: invoice
        for invoice in await session.scalars(
            select(Invoice)
            .where(Invoice.id.in_(sorted(ids)))
            .order_by(Invoice.id)
            .with_for_update()
        )
    }
    made = []
    for invoice_id, amount in allocations:
        invoice = locked.get(invoice_id)
        if invoice is None:
            raise not_found("invoice")
        if (
            invoice.kind != InvoiceKind.INVOICE
            or invoice.vendor_id != note.vendor_id
            or invoice.currency != note.currency
        ):
            raise Problem(
                422,
                "allocation_mismatch",
                "A credit note applies to invoices of its own vendor and currency.",
                extra={"invoice_id": str(invoice_id)},
            )
        if invoice.status != InvoiceStatus.APPROVED:
            raise Problem(
                409,
                "invoice_not_open",
                f"Invoice {invoice.number} is {invoice.status}; only approved ones are open.",
                extra={"invoice_id": str(invoice_id), "current_status": invoice.status},
            )
        open_amount = invoice.total - invoice.amount_paid
        if amount > open_amount:
            raise Problem(
                422,
                "allocation_exceeds_open_amount",
                f"Invoice {invoice.number} has {open_amount} open.",
                extra={"invoice_id": str(invoice_id), "open_amount": str(open_amount)},
            )
        assert note.vendor_id is not None
        allocation = CreditNoteAllocation(
            tenant_id=note.tenant_id,
            id=new_id(),
            credit_note_id=note.id,
            invoice_id=invoice.id,
            vendor_id=note.vendor_id,
            amount=amount,
            created_by=audit.actor.id,
        )
        session.add(allocation)
        made.append(allocation)
        invoice.amount_paid += amount
        _settled(session, audit, invoice)
    note.amount_paid += wanted
    _settled(session, audit, note)
    await session.flush()
    audit.record(
        session,
        "credit_note.applied",
        target_type="invoice",
        target_id=note.id,
        changes={
            "allocations": [
                {"invoice_id": str(a.invoice_id), "amount": str(a.amount)} for a in made
            ],
            "applied": str(note.amount_paid),
        },
    )
    return Applied(note, made)


async def allocations_of(session: AsyncSession, invoice_id: UUID) -> list[CreditNoteAllocation]:
    """The allocations a credit note made, or an invoice received."""
    return list(
        await session.scalars(
            select(CreditNoteAllocation)
            .where(
                (CreditNoteAllocation.credit_note_id == invoice_id)
                | (CreditNoteAllocation.invoice_id == invoice_id)
            )
            .order_by(CreditNoteAllocation.id)
        )
    )
