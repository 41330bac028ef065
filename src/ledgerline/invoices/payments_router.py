"""Payment endpoints: the payments of the tenant and of an invoice, and their reversal.

Each endpoint makes one `payments` call and translates the answer to HTTP.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.invoices import payments
from ledgerline.invoices.schemas import (
    PaymentDetailOut,
    PaymentEntry,
    PaymentEntryLine,
    PaymentOut,
)
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.security.permissions import Permission
from ledgerline.values import Day

router = APIRouter(tags=["payments"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.INVOICES_READ)]
Reverse = Annotated[TenantRequest, tenant_request(Permission.INVOICES_APPROVE, idempotent=True)]


def _detail(found: payments.PaymentWithEntry, response: Response) -> PaymentDetailOut:
    set_etag(response, found.payment.version)
    entry = found.entry
    journal = (
        PaymentEntry(
            id=entry.id,
            posted_on=entry.posted_on,
            occurred_on=entry.occurred_on,
            lines=[PaymentEntryLine.model_validate(line) for line in found.lines],
        )
        if entry is not None
        else None
    )
    base = PaymentOut.model_validate(found.payment)
    return PaymentDetailOut(**base.model_dump(), journal_entry=journal)


@router.get("/payments", operation_id="list_payments")
async def list_payments(
    context: Read,
    page: Annotated[PageRequest, Depends(page_request)],
    vendor_id: UUID | None = None,
    invoice_id: UUID | None = None,
    paid_from: Day | None = None,
    paid_to: Day | None = None,
) -> Page[PaymentOut]:
    """Payments, newest first; filters by vendor, invoice and `paid_on` range."""
    rows, cursor = await payments.list_payments(
        context.session,
        page,
        vendor_id=vendor_id,
        invoice_id=invoice_id,
        paid_from=paid_from,
        paid_to=paid_to,
    )
    return Page(items=[PaymentOut.model_validate(p) for p in rows], next_cursor=cursor)


@router.get("/payments/{payment_id}", operation_id="get_payment")
async def get_payment(payment_id: UUID, context: Read, response: Response) -> PaymentDetailOut:
    """The payment with the journal entry that posted it."""
    return _detail(await payments.read_payment(context.session, payment_id), response)


@router.get("/invoices/{invoice_id}/payments", operation_id="list_invoice_payments")
async def invoice_payments(invoice_id: UUID, context: Read) -> list[PaymentOut]:
    """The invoice's payments, oldest first."""
    found = await payments.payments_of_invoice(context.session, invoice_id)
    return [PaymentOut.model_validate(p) for p in found]


@router.post("/payments/{payment_id}/reverse", operation_id="reverse_payment")
async def reverse_payment(
    payment_id: UUID, context: Reverse, response: Response, if_match: IfMatch = None
) -> PaymentDetailOut:
    """Undo a payment (takes If-Match): a reversal entry is posted and the invoice returns
    to approved, partly paid or not at all."""
    reversed_payment = await payments.reverse_payment(
        context.session, context.audit_context, payment_id, if_match=sent_if_match(if_match)
    )
    return _detail(reversed_payment, response)
