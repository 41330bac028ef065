"""The events services emit, each built in one place (README: "Event catalogue")."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets.models import Asset
from ledgerline.events.channels import asset_channels, comment_channels, invoice_channels
from ledgerline.events.outbox import emit
from ledgerline.financing.models import FinancingOffer
from ledgerline.invoices.models import Invoice, InvoiceDocument
from ledgerline.ledger.models import Transfer
from ledgerline.purchasing.models import GoodsReceipt, PurchaseOrder
from ledgerline.security.permissions import Permission
from ledgerline.threads.models import Comment

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
    "resolve_match": "invoice.match_resolved",
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


COMMENT_EVENTS = {
    "create": "comment.created",
    "edit": "comment.edited",
    "delete": "comment.deleted",
}


def _comment_data(comment: Comment) -> dict[str, Any]:
    subject_type, subject_id = comment_subject(comment)
    author_type, author_id = (
        ("user", comment.author_user_id)
        if comment.author_user_id is not None
        else ("api_key", comment.author_api_key_id)
    )
    return {
        "comment_id": str(comment.id),
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "author": {"type": author_type, "id": str(author_id)},
        "body": comment.body,
        "version": comment.version,
    }


def comment_subject(comment: Comment) -> tuple[str, UUID]:
    """("invoice" | "asset", its id): what the comment is about."""
    if comment.invoice_id is not None:
        return "invoice", comment.invoice_id
    assert comment.asset_id is not None  # the table's one_subject check
    return "asset", comment.asset_id


async def comment_changed(session: AsyncSession, comment: Comment, step: str) -> None:
    """A comment written, edited or deleted: on `comments` and its subject's channel
    (`invoice:<id>` or `asset:<id>`), for callers who may read comments."""
    subject_type, subject_id = comment_subject(comment)
    await emit(
        session,
        comment.tenant_id,
        COMMENT_EVENTS[step],
        subject_type="comment",
        subject_id=comment.id,
        channels=comment_channels(subject_type, subject_id),
        permission=Permission.COMMENTS_READ,
        data=_comment_data(comment),
    )


async def comment_mention(session: AsyncSession, comment: Comment, user_id: UUID) -> None:
    """A user mentioned in a comment: on `me`, delivered to that user only."""
    await emit(
        session,
        comment.tenant_id,
        "comment.mentioned",
        subject_type="comment",
        subject_id=comment.id,
        channels=["me"],
        permission=Permission.COMMENTS_READ,
        data=_comment_data(comment),
        recipient_id=user_id,
    )


# The asset step that happened -> the event's type.
ASSET_EVENTS = {
    "create": "asset.created",
    "dispose": "asset.disposed",
    "reverse_disposal": "asset.disposal_reversed",
}


async def asset_changed(session: AsyncSession, asset: Asset, step: str) -> None:
    """An asset event: on `assets`, `asset:<id>` and `dashboard`, for callers who may read
    assets; its data is the asset's state after the step."""
    await emit(
        session,
        asset.tenant_id,
        ASSET_EVENTS[step],
        subject_type="asset",
        subject_id=asset.id,
        channels=asset_channels(asset.id),
        permission=Permission.ASSETS_READ,
        data={
            "tag": asset.tag,
            "name": asset.name,
            "status": asset.status,
            "currency": asset.currency,
            "cost": str(asset.cost),
            "version": asset.version,
        },
    )


async def depreciation_run_posted(
    session: AsyncSession,
    tenant_id: UUID,
    run_id: UUID,
    *,
    period: str,
    assets: int,
    months: int,
    totals: dict[str, str],
) -> None:
    """A depreciation run: on `assets` and `dashboard`, for callers who may read assets."""
    await emit(
        session,
        tenant_id,
        "asset.depreciation_run_posted",
        subject_type="depreciation_run",
        subject_id=run_id,
        channels=["assets", "dashboard"],
        permission=Permission.ASSETS_READ,
        data={"period": period, "assets": assets, "months": months, "totals": totals},
    )


async def transfer_posted(session: AsyncSession, transfer: Transfer) -> None:
    """A transfer between asset accounts: on `ledger` and `dashboard`, for callers who may
    read the ledger."""
    await emit(
        session,
        transfer.tenant_id,
        "ledger.transfer_posted",
        subject_type="transfer",
        subject_id=transfer.id,
        channels=["ledger", "dashboard"],
        permission=Permission.LEDGER_READ,
        data={
            "from_account_id": str(transfer.from_account_id),
            "to_account_id": str(transfer.to_account_id),
            "amount": str(transfer.amount),
            "currency": transfer.currency,
            "on": transfer.transfer_on.isoformat(),
            "journal_entry_id": str(transfer.entry_id),
        },
    )


async def financing_offer_accepted(
    session: AsyncSession, offer: FinancingOffer, acceptance_id: UUID
) -> None:
    """A vendor accepted an early-payment offer: on `financing`, the invoice's channel and
    `dashboard`, for callers who may read financing."""
    await emit(
        session,
        offer.tenant_id,
        "financing.offer_accepted",
        subject_type="financing_offer",
        subject_id=offer.id,
        channels=["financing", f"invoice:{offer.invoice_id}", "dashboard"],
        permission=Permission.FINANCING_READ,
        data={
            "invoice_id": str(offer.invoice_id),
            "program_id": str(offer.program_id),
            "acceptance_id": str(acceptance_id),
            "net_amount": str(offer.net_amount),
            "currency": offer.currency,
            "status": offer.status,
        },
    )


# A document's processing status after a step -> the event's type.
DOCUMENT_EVENTS = {
    "queued": "document.queued",
    "extracted": "document.extracted",
    "needs_review": "document.extracted",
    "failed": "document.failed",
}


async def document_changed(session: AsyncSession, document: InvoiceDocument) -> None:
    """A document queued, read (`extracted`, or `needs_review` with a note) or failed: on
    its invoice's channels and its batch's, for callers who may read invoices."""
    await emit(
        session,
        document.tenant_id,
        DOCUMENT_EVENTS[document.processing_status],
        subject_type="document",
        subject_id=document.id,
        channels=invoice_channels(document.invoice_id, batch_id=document.batch_id),
        permission=Permission.INVOICES_READ,
        data={
            "invoice_id": str(document.invoice_id),
            "batch_id": str(document.batch_id) if document.batch_id else None,
            "filename": document.filename,
            "processing_status": document.processing_status,
            "failure_reason": document.failure_reason,
        },
    )


async def batch_progress(
    session: AsyncSession, tenant_id: UUID, batch_id: UUID, counts: dict[str, dict[str, int]]
) -> None:
    """How far a batch's documents are, after one of them changed: on `batch:<id>`."""
    await emit(
        session,
        tenant_id,
        "batch.progress",
        subject_type="batch",
        subject_id=batch_id,
        channels=[f"batch:{batch_id}"],
        permission=Permission.INVOICES_READ,
        data=counts,
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
