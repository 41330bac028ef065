"""Purchasing endpoints: orders, their approval, closing and cancelling, goods receipts
and their reversal, the matching settings, and the reports.

Each endpoint makes one `service` call and translates the answer to HTTP.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, OptionalIfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.purchasing import service, settings
from ledgerline.purchasing.models import PurchaseOrderStatus, PurchasingSettings
from ledgerline.purchasing.schemas import (
    AmountsOut,
    ApprovalOut,
    Closing,
    CommitmentOut,
    HistoryItemOut,
    HistoryKind,
    MatchOut,
    OrderLineIn,
    OrderLineOut,
    PurchaseOrderCreate,
    PurchaseOrderOut,
    PurchaseOrderUpdate,
    ReceiptCreate,
    ReceiptLineOut,
    ReceiptOut,
    ReceivedNotInvoicedOut,
    SettingsIn,
    SettingsOut,
    StatusChangeOut,
)
from ledgerline.security.permissions import Permission

router = APIRouter(tags=["purchasing"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.PURCHASING_READ)]
Manage = Annotated[TenantRequest, tenant_request(Permission.PURCHASING_MANAGE)]
Create = Annotated[TenantRequest, tenant_request(Permission.PURCHASING_MANAGE, idempotent=True)]
Approve = Annotated[TenantRequest, tenant_request(Permission.PURCHASING_APPROVE)]
Paging = Annotated[PageRequest, Depends(page_request)]


def _lines(items: list[OrderLineIn]) -> list[service.OrderLine]:
    return [
        service.OrderLine(i.description, i.quantity, i.unit_price, i.tax_code, i.account_code)
        for i in items
    ]


def _order_out(found: service.OrderWithLines, response: Response | None = None) -> PurchaseOrderOut:
    if response is not None:
        set_etag(response, found.order.version)
    out = PurchaseOrderOut.model_validate(found.order)
    return out.model_copy(update={"lines": [OrderLineOut.model_validate(x) for x in found.lines]})


def _receipt_out(found: service.ReceiptWithLines) -> ReceiptOut:
    receipt = found.receipt
    return ReceiptOut(
        id=receipt.id,
        purchase_order_id=receipt.purchase_order_id,
        received_on=receipt.received_on,
        reference=receipt.reference,
        entry_id=receipt.entry_id,
        reversed_at=receipt.reversed_at,
        reversal_entry_id=receipt.reversal_entry_id,
        created_at=receipt.created_at,
        lines=[ReceiptLineOut.model_validate(line) for line in found.lines],
    )


def _settings_out(row: PurchasingSettings, response: Response) -> SettingsOut:
    set_etag(response, row.version)
    return SettingsOut.model_validate(row)


# --- orders ------------------------------------------------------------------------------


@router.post("/purchase-orders", operation_id="create_purchase_order", status_code=201)
async def create_purchase_order(
    body: PurchaseOrderCreate, context: Create, response: Response
) -> PurchaseOrderOut:
    """A draft purchase order: vendor, number (unique in the tenant), currency (else the
    vendor's), lines. Its matching mode and receipt limits come from the tenant's
    purchasing settings as they are now."""
    created = await service.create_order(
        context.session,
        context.audit_context,
        vendor_id=body.vendor_id,
        number=body.number,
        ordered_on=body.ordered_on,
        lines=_lines(body.lines),
        currency=body.currency,
        notes=body.notes,
    )
    return _order_out(created, response)


@router.get("/purchase-orders", operation_id="list_purchase_orders")
async def list_purchase_orders(
    context: Read,
    page: Paging,
    vendor_id: UUID | None = None,
    status: PurchaseOrderStatus | None = None,
) -> Page[PurchaseOrderOut]:
    """Purchase orders, newest first (without their lines), by vendor or status."""
    rows, cursor = await service.list_orders(
        context.session, page, vendor_id=vendor_id, status=status
    )
    return Page(items=[PurchaseOrderOut.model_validate(row) for row in rows], next_cursor=cursor)


@router.get("/purchase-orders/{purchase_order_id}", operation_id="get_purchase_order")
async def get_purchase_order(
    purchase_order_id: UUID, context: Read, response: Response
) -> PurchaseOrderOut:
    """One purchase order with its lines and what was received and matched of each; its
    ETag is its version."""
    return _order_out(await service.read_order(context.session, purchase_order_id), response)


@router.patch("/purchase-orders/{purchase_order_id}", operation_id="update_purchase_order")
async def update_purchase_order(
    purchase_order_id: UUID,
    body: PurchaseOrderUpdate,
    context: Manage,
    response: Response,
    if_match: IfMatch = None,
) -> PurchaseOrderOut:
    """Change a draft (number, date, notes; `lines` replace its lines). Takes If-Match."""
    changes = body.model_dump(exclude_unset=True, exclude={"lines"})
    if body.lines is not None:
        changes["lines"] = _lines(body.lines)
    updated = await service.update_order(
        context.session,
        context.audit_context,
        purchase_order_id,
        changes,
        if_match=sent_if_match(if_match),
    )
    return _order_out(updated, response)


@router.post("/purchase-orders/{purchase_order_id}/approve", operation_id="approve_purchase_order")
async def approve_purchase_order(
    purchase_order_id: UUID, context: Approve, response: Response, if_match: IfMatch = None
) -> PurchaseOrderOut:
    """The caller's approval of a draft under the tenant's approval policy (403
    `approval_policy` naming the rule it breaks); approved when the last approval its
    total asks for lands. Takes If-Match."""
    approved = await service.approve_order(
        context.session,
        context.audit_context,
        purchase_order_id,
        if_match=sent_if_match(if_match),
        role=context.principal.role,
    )
    return _order_out(approved, response)


@router.post("/purchase-orders/{purchase_order_id}/close", operation_id="close_purchase_order")
async def close_purchase_order(
    purchase_order_id: UUID,
    context: Manage,
    response: Response,
    body: Annotated[Closing, Body(default_factory=Closing)],
    if_match: IfMatch = None,
) -> PurchaseOrderOut:
    """Close an approved order: nothing more is received or matched against it. Takes
    If-Match."""
    closed = await service.close_order(
        context.session,
        context.audit_context,
        purchase_order_id,
        "close",
        if_match=sent_if_match(if_match),
        reason=body.reason,
    )
    return _order_out(closed, response)


@router.post("/purchase-orders/{purchase_order_id}/cancel", operation_id="cancel_purchase_order")
async def cancel_purchase_order(
    purchase_order_id: UUID,
    context: Manage,
    response: Response,
    body: Annotated[Closing, Body(default_factory=Closing)],
    if_match: IfMatch = None,
) -> PurchaseOrderOut:
    """Cancel a draft, or an approved order nothing was received or matched against.
    Takes If-Match."""
    cancelled = await service.close_order(
        context.session,
        context.audit_context,
        purchase_order_id,
        "cancel",
        if_match=sent_if_match(if_match),
        reason=body.reason,
    )
    return _order_out(cancelled, response)


@router.get("/purchase-orders/{purchase_order_id}/history", operation_id="purchase_order_history")
async def purchase_order_history(
    purchase_order_id: UUID, context: Read, page: Paging
) -> Page[HistoryItemOut]:
    """The order's history, newest first, in keyset pages: its status changes, approvals,
    receipts (reversed ones too) and the invoice lines matched against it (released ones
    too); each item's `kind` says which it is."""
    items, cursor = await service.history(context.session, purchase_order_id, page)
    return Page(items=[_history_item_out(item) for item in items], next_cursor=cursor)


def _history_item_out(item: service.HistoryItem) -> HistoryItemOut:
    return HistoryItemOut(
        id=item.id,
        kind=HistoryKind(item.kind),
        status_change=StatusChangeOut.model_validate(item.status_change)
        if item.status_change
        else None,
        approval=ApprovalOut.model_validate(item.approval) if item.approval else None,
        receipt=_receipt_out(item.receipt) if item.receipt else None,
        match=MatchOut.model_validate(item.match) if item.match else None,
    )


# --- receipts ----------------------------------------------------------------------------


@router.post(
    "/purchase-orders/{purchase_order_id}/receipts",
    operation_id="create_goods_receipt",
    status_code=201,
)
async def create_goods_receipt(
    purchase_order_id: UUID, body: ReceiptCreate, context: Create, if_match: OptionalIfMatch = None
) -> ReceiptOut:
    """Record what was delivered per order line. Past a line's receipt limit (ordered
    plus the over-receipt tolerance) 409 `over_receipt`. With accrual on, posts
    Dr each line's account / Cr 2150 at the order's price. If-Match of the order is
    optional (412 when stale): concurrent receipts are safe without it."""
    received = await service.receive(
        context.session,
        context.audit_context,
        purchase_order_id,
        received_on=body.received_on,
        reference=body.reference,
        lines=[(line.purchase_order_line_id, line.quantity) for line in body.lines],
        if_match=sent_if_match(if_match),
    )
    return _receipt_out(received)


@router.get("/purchase-orders/{purchase_order_id}/receipts", operation_id="list_goods_receipts")
async def list_goods_receipts(purchase_order_id: UUID, context: Read) -> list[ReceiptOut]:
    """The order's receipts, oldest first."""
    found = await service.receipts_of(context.session, purchase_order_id)
    return [_receipt_out(r) for r in found]


@router.get(
    "/purchase-orders/{purchase_order_id}/receipts/{receipt_id}",
    operation_id="get_goods_receipt",
)
async def get_goods_receipt(purchase_order_id: UUID, receipt_id: UUID, context: Read) -> ReceiptOut:
    """One receipt of the order with its lines (where a new receipt's `Location`
    points)."""
    return _receipt_out(await service.read_receipt(context.session, purchase_order_id, receipt_id))


@router.post(
    "/purchase-orders/{purchase_order_id}/receipts/{receipt_id}/reverse",
    operation_id="reverse_goods_receipt",
)
async def reverse_goods_receipt(
    purchase_order_id: UUID, receipt_id: UUID, context: Create, if_match: OptionalIfMatch = None
) -> ReceiptOut:
    """Take a receipt back (its accrual is mirrored). 409 `receipt_matched` when invoices
    matched what it brought on a three-way order; 409 `receipt_reversed` the second time.
    If-Match of the order is optional (412 when stale)."""
    reversed_receipt = await service.reverse_receipt(
        context.session,
        context.audit_context,
        purchase_order_id,
        receipt_id,
        if_match=sent_if_match(if_match),
    )
    return _receipt_out(reversed_receipt)


# --- settings and reports ----------------------------------------------------------------


@router.get("/purchasing/settings", operation_id="get_purchasing_settings")
async def get_purchasing_settings(context: Read, response: Response) -> SettingsOut:
    """The tenant's matching mode, tolerances and accrual switch; its ETag is its
    version."""
    return _settings_out(await settings.read_settings(context.session), response)


@router.put("/purchasing/settings", operation_id="replace_purchasing_settings")
async def replace_purchasing_settings(
    body: SettingsIn, context: Approve, response: Response, if_match: IfMatch = None
) -> SettingsOut:
    """Replace the settings. The matching mode and over-receipt tolerance apply to
    orders made afterwards; tolerances and accrual to what happens afterwards. Takes
    If-Match (the defaults are version 1)."""
    row = await settings.replace_settings(
        context.session,
        context.audit_context,
        if_match=sent_if_match(if_match),
        fields=body.model_dump(),
    )
    return _settings_out(row, response)


def _amounts_out(amounts: service.Amounts) -> AmountsOut:
    return AmountsOut(net=amounts.net, tax=amounts.tax, gross=amounts.gross)


@router.get("/purchasing/open-commitments", operation_id="purchasing_open_commitments")
async def purchasing_open_commitments(context: Read, page: Paging) -> Page[CommitmentOut]:
    """Per vendor and currency: what open orders ordered, what invoices matched of it
    (at the orders' prices), and what is still open, each net, tax and gross. A page
    holds `limit` vendors, newest first, each with a row per currency."""
    found, cursor = await service.open_commitments(context.session, page)
    return Page(
        items=[
            CommitmentOut(
                vendor_id=c.vendor_id,
                currency=c.currency,
                ordered=_amounts_out(c.ordered),
                invoiced=_amounts_out(c.invoiced),
                open=_amounts_out(c.open),
            )
            for c in found
        ],
        next_cursor=cursor,
    )


@router.get("/purchasing/received-not-invoiced", operation_id="purchasing_received_not_invoiced")
async def purchasing_received_not_invoiced(
    context: Read, page: Paging
) -> Page[ReceivedNotInvoicedOut]:
    """Order lines received past what invoices matched, with the amount at the order's
    price, newest line first, in keyset pages."""
    found, cursor = await service.received_not_invoiced(context.session, page)
    return Page(
        items=[
            ReceivedNotInvoicedOut(
                purchase_order_id=item.order.id,
                number=item.order.number,
                vendor_id=item.order.vendor_id,
                currency=item.order.currency,
                purchase_order_line_id=item.line.id,
                description=item.line.description,
                quantity_received=item.line.quantity_received,
                quantity_matched=item.line.quantity_matched,
                unit_price=item.line.unit_price,
                amount=item.amount,
            )
            for item in found
        ],
        next_cursor=cursor,
    )
