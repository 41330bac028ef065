"""The events services emit, each built in one place (README: "Event catalogue")."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.events.channels import invoice_channels
from ledgerline.events.outbox import emit
from ledgerline.invoices.models import Invoice
from ledgerline.purchasing.models import GoodsReceipt, PurchaseOrder
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
    "override_match": "invoice.match_overridden",
}

# The purchase order step that happened -> the event's type.
PURCHASE_ORDER_EVENTS = {
    "create": "purchase_order.created",
    "update": "purchase_order.updated",
    "approve": "purchase_order.approved",
    "close": "purchase_order.closed",
    "cancel": "purchase_order.cancelled",
    "receive": "goods_receipt.recorded",
    "reverse_receipt": "goods_receipt.reversed",
}
PURCHASE_ORDER_CHANNELS = ["purchase-orders"]


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


async def purchase_order_changed(
    session: AsyncSession, order: PurchaseOrder, step: str, **data: Any
) -> None:
    """A purchase order event: on `purchase-orders`, for callers who may read purchasing;
    its data is the order's state after the step."""
    await emit(
        session,
        order.tenant_id,
        PURCHASE_ORDER_EVENTS[step],
        subject_type="purchase_order",
        subject_id=order.id,
        channels=PURCHASE_ORDER_CHANNELS,
        permission=Permission.PURCHASING_READ,
        data={
            "number": order.number,
            "vendor_id": str(order.vendor_id),
            "status": order.status,
            "currency": order.currency,
            "total": str(order.total),
            "version": order.version,
            **data,
        },
    )


async def goods_receipt_changed(
    session: AsyncSession, order: PurchaseOrder, receipt: GoodsReceipt, step: str
) -> None:
    """A goods receipt recorded or reversed: a purchase order event naming the receipt."""
    await purchase_order_changed(
        session,
        order,
        step,
        receipt_id=str(receipt.id),
        received_on=receipt.received_on.isoformat(),
        reference=receipt.reference,
    )
