"""The events services emit, each built in one place (README: "Event catalogue")."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.events.channels import invoice_channels
from ledgerline.events.outbox import emit
from ledgerline.invoices.models import Invoice
from ledgerline.security.permissions import Permission

# The invoice step that happened -> the event's type.
INVOICE_EVENTS = {
    "create": "invoice.created",
    "submit": "invoice.submitted",
    "approve": "invoice.approved",
    "reject": "invoice.rejected",
    "reopen": "invoice.reopened",
    "void": "invoice.voided",
    "pay": "invoice.payment_recorded",
}


async def invoice_changed(session: AsyncSession, invoice: Invoice, step: str, **data: Any) -> None:
    """An invoice event: on `invoices`, `invoice:<id>` and `dashboard`, for callers who
    may read invoices; its data is the invoice's state after the step."""
    await emit(
        session,
        invoice.tenant_id,
        INVOICE_EVENTS[step],
        subject_type="invoice",
        subject_id=invoice.id,
        channels=invoice_channels(invoice.id),
        permission=Permission.INVOICES_READ,
        data={
            "number": invoice.number,
            "status": invoice.status,
            "currency": invoice.currency,
            "total": str(invoice.total),
            "amount_paid": str(invoice.amount_paid),
            "version": invoice.version,
            **data,
        },
    )
