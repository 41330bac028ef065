"""Purchase orders and goods receipts: their lifecycle, the receipts' accruals, reports.

Lifecycle: draft -> approved (under the tenant's approval policy: the threshold the
order's total reaches asks for a number of distinct approvals, and roles; with
segregation of duties its creator may not approve) -> partially_received -> received
(by receipts; a reversed receipt moves it back) -> closed; a draft or an approved order
nothing was received against may be cancelled. Every change takes the order's row lock
and its If-Match version; an illegal step is 409.

A receipt locks the order, then raises each line's received quantity with one
conditional statement (`quantity_received + q <= receipt_limit`: none is 409
`over_receipt`; the limit is the ordered quantity plus the tenant's over-receipt
tolerance, and a check on the line refuses the rest). With accrual on, it posts
Dr each line's account (else 6000) / Cr 2150 at the order's price, source
("goods_receipt", id, "accrual"); its reversal posts the mirror. A receipt whose
quantities invoices matched on a three-way order cannot be reversed (409
`receipt_matched`; the line's check refuses it too).

A receipt and its reversal take an optional If-Match of the order (412 when stale):
what they must never break is held by the statements above, not by what the caller read.
An order's lines carry their tax, computed when they are written by the invoices' tax
function; the reports and an order's history are keyset pages.

Lock order: order, then its lines by id, then the ledger's balances; invoice submits
take invoice, then order lines by id, never the order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ledgerline.audit.service import AuditContext
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.etags import check_if_match
from ledgerline.events.catalog import goods_receipt_changed, purchase_order_changed
from ledgerline.invoices import approvals, taxes
from ledgerline.invoices.models import InvoiceLine, TaxRounding
from ledgerline.invoices.postings import accounts_by_code
from ledgerline.ledger import chart
from ledgerline.ledger.models import JournalEntry
from ledgerline.ledger.posting import PostingLine, post, reverse
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem
from ledgerline.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    Matching,
    PurchaseOrder,
    PurchaseOrderApproval,
    PurchaseOrderLine,
    PurchaseOrderMatch,
    PurchaseOrderStatus,
    PurchaseOrderStatusChange,
)
from ledgerline.purchasing.settings import read_settings
from ledgerline.values import cents, precise
from ledgerline.vendors.models import Vendor

RECEIPT = "goods_receipt"
ACCRUAL = "accrual"
REVERSAL = "reversal"
RECEIVABLE = frozenset(
    {
        PurchaseOrderStatus.APPROVED,
        PurchaseOrderStatus.PARTIALLY_RECEIVED,
        PurchaseOrderStatus.RECEIVED,
    }
)
OPEN = RECEIVABLE
ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class OrderLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_code: str | None = None
    account_code: str | None = None


@dataclass(frozen=True, slots=True)
class OrderWithLines:
    order: PurchaseOrder
    lines: list[PurchaseOrderLine]


@dataclass(frozen=True, slots=True)
class ReceiptWithLines:
    receipt: GoodsReceipt
    lines: list[GoodsReceiptLine]


def today() -> date:
    return datetime.now(UTC).date()


# --- orders ------------------------------------------------------------------------------


async def _lines_of(session: AsyncSession, order_id: UUID) -> list[PurchaseOrderLine]:
    return list(
        await session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == order_id)
            .order_by(PurchaseOrderLine.position)
        )
    )


async def _locked_lines_of(session: AsyncSession, order_id: UUID) -> list[PurchaseOrderLine]:
    """The order's lines, locked in the order of their ids (as invoice submits lock
    them), read as they are once the lock is held."""
    return list(
        await session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == order_id)
            .order_by(PurchaseOrderLine.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


async def _with_lines(session: AsyncSession, order: PurchaseOrder) -> OrderWithLines:
    return OrderWithLines(order, await _lines_of(session, order.id))


async def _known_accounts(session: AsyncSession, lines: Sequence[OrderLine]) -> None:
    """Account codes the lines name exist in the tenant (422 otherwise)."""
    accounts = {line.account_code for line in lines if line.account_code}
    if accounts:
        await accounts_by_code(session, accounts)


async def _set_lines(
    session: AsyncSession, order: PurchaseOrder, lines: Sequence[OrderLine], over_receipt: Decimal
) -> None:
    """The order's lines with their net amount and tax, computed by the invoices' tax
    function (`invoices/taxes.py`: the code resolved for the vendor's state, rounded per
    line), and the order's net and tax totals. An unknown or inactive tax code is 422
    `unknown_tax_code`, as on an invoice."""
    await _known_accounts(session, lines)
    state_code = None
    if any(line.tax_code for line in lines):
        state_code = await session.scalar(
            select(Vendor.state_code).where(Vendor.id == order.vendor_id)
        )
    line_taxes = await taxes.line_taxes(
        session, [(line.tax_code, None) for line in lines], state_code
    )
    computed = taxes.compute(
        [(line.quantity, line.unit_price) for line in lines], line_taxes, TaxRounding.PER_LINE
    )
    three_way = order.matching == Matching.THREE_WAY
    for position, (line, amount, tax) in enumerate(
        zip(lines, computed.line_subtotals, computed.line_taxes, strict=True)
    ):
        session.add(
            PurchaseOrderLine(
                tenant_id=order.tenant_id,
                id=new_id(),
                purchase_order_id=order.id,
                vendor_id=order.vendor_id,
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=amount,
                tax_amount=tax,
                tax_code=line.tax_code,
                account_code=line.account_code,
                three_way=three_way,
                receipt_limit=precise(line.quantity * (1 + over_receipt / 100)),
                quantity_received=ZERO,
                quantity_matched=ZERO,
                quantity_accrued=ZERO,
                quantity_released=ZERO,
            )
        )
    order.total = computed.subtotal
    order.tax_total = sum(computed.line_taxes, Decimal("0.00"))


async def _flush_number(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise Problem(
            409, "purchase_order_number_taken", "A purchase order with this number exists."
        ) from error


def _history(
    session: AsyncSession,
    audit: AuditContext,
    order: PurchaseOrder,
    before: str | None,
    after: str,
    reason: str | None = None,
) -> None:
    session.add(
        PurchaseOrderStatusChange(
            tenant_id=order.tenant_id,
            id=new_id(),
            purchase_order_id=order.id,
            from_status=before,
            to_status=after,
            reason=reason,
            actor_type=audit.actor.type,
            actor_id=audit.actor.id,
        )
    )


async def create_order(
    session: AsyncSession,
    audit: AuditContext,
    *,
    vendor_id: UUID,
    number: str,
    ordered_on: date,
    lines: Sequence[OrderLine],
    currency: str | None = None,
    notes: str | None = None,
) -> OrderWithLines:
    """A draft order of the vendor; its matching mode and receipt limits come from the
    tenant's settings as they are now."""
    vendor = await session.scalar(select(Vendor).where(Vendor.id == vendor_id))
    if vendor is None:
        raise Problem(404, "vendor_not_found", "No such vendor.")
    if not vendor.is_active:
        raise Problem(409, "vendor_inactive", "This vendor is deactivated.")
    settings = await read_settings(session)
    order = PurchaseOrder(
        tenant_id=audit.tenant_id,
        id=new_id(),
        vendor_id=vendor_id,
        number=number,
        currency=currency or vendor.default_currency,
        ordered_on=ordered_on,
        notes=notes,
        status=PurchaseOrderStatus.DRAFT,
        matching=settings.matching,
        total=ZERO,
        tax_total=ZERO,
        created_by=audit.actor.id,
    )
    session.add(order)
    await _set_lines(session, order, lines, settings.over_receipt_percent)
    await _flush_number(session)
    _history(session, audit, order, None, PurchaseOrderStatus.DRAFT)
    await session.flush()
    audit.record(
        session,
        "purchase_order.created",
        target_type="purchase_order",
        target_id=order.id,
        changes={
            "number": number,
            "total": str(order.total),
            "tax_total": str(order.tax_total),
            "matching": str(order.matching),
        },
    )
    await purchase_order_changed(session, order, "create")
    return await _with_lines(session, order)


async def read_order(session: AsyncSession, order_id: UUID) -> OrderWithLines:
    order = await row_by_id(session, PurchaseOrder, order_id, what="purchase_order")
    return await _with_lines(session, order)


async def list_orders(
    session: AsyncSession,
    page: PageRequest,
    *,
    vendor_id: UUID | None = None,
    status: PurchaseOrderStatus | None = None,
) -> tuple[Sequence[PurchaseOrder], str | None]:
    statement = select(PurchaseOrder)
    if vendor_id is not None:
        statement = statement.where(PurchaseOrder.vendor_id == vendor_id)
    if status is not None:
        statement = statement.where(PurchaseOrder.status == status)
    return await keyset_page(session, statement, PurchaseOrder.id, page)


def _illegal(order: PurchaseOrder, step: str) -> Problem:
    return Problem(
        409,
        "illegal_transition",
        f"Cannot {step} a purchase order that is {order.status}.",
        extra={"current_status": order.status},
    )


async def update_order(
    session: AsyncSession,
    audit: AuditContext,
    order_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> OrderWithLines:
    """Drafts only; `lines` replace the order's lines."""
    order = await locked_at_version(
        session, PurchaseOrder, order_id, if_match, what="purchase_order"
    )
    if order.status != PurchaseOrderStatus.DRAFT:
        raise _illegal(order, "change")
    lines: Sequence[OrderLine] | None = changes.pop("lines", None)
    for key, value in changes.items():
        setattr(order, key, value)
    if lines is not None:
        await _refuse_if_invoiced(session, order)
        await session.execute(
            delete(PurchaseOrderLine).where(PurchaseOrderLine.purchase_order_id == order.id)
        )
        settings = await read_settings(session)
        await _set_lines(session, order, lines, settings.over_receipt_percent)
        order.updated_at = func.now()
    await _flush_number(session)
    audit.record(
        session,
        "purchase_order.updated",
        target_type="purchase_order",
        target_id=order.id,
        changes={
            **{key: str(value) for key, value in changes.items()},
            **(
                {"lines": len(lines), "total": str(order.total), "tax_total": str(order.tax_total)}
                if lines is not None
                else {}
            ),
        },
    )
    await purchase_order_changed(session, order, "update")
    return await _with_lines(session, order)


async def _refuse_if_invoiced(session: AsyncSession, order: PurchaseOrder) -> None:
    """Lines an invoice line names stay (409): the invoice would lose what it bills."""
    named = await session.scalar(
        select(InvoiceLine.invoice_id)
        .join(PurchaseOrderLine, PurchaseOrderLine.id == InvoiceLine.purchase_order_line_id)
        .where(PurchaseOrderLine.purchase_order_id == order.id)
        .limit(1)
    )
    if named is not None:
        raise Problem(
            409,
            "purchase_order_lines_invoiced",
            "An invoice names lines of this order; they cannot be replaced.",
            extra={"invoice_id": str(named)},
        )


async def approve_order(
    session: AsyncSession,
    audit: AuditContext,
    order_id: UUID,
    *,
    if_match: str | None,
    role: str | None,
) -> OrderWithLines:
    """The caller's approval of a draft order under the tenant's approval policy (the
    invoices' one); the order is approved when the last approval its total asks for
    lands."""
    order = await locked_at_version(
        session, PurchaseOrder, order_id, if_match, what="purchase_order"
    )
    if order.status != PurchaseOrderStatus.DRAFT:
        raise _illegal(order, "approve")
    policy = await approvals.read_policy(session)
    threshold = approvals.threshold_for(policy, order.total)
    required = int(threshold["approvals"])
    actor = audit.actor.id
    assert actor is not None
    if policy.segregation_of_duties and actor == order.created_by:
        raise approvals.refused(
            "segregation_of_duties", "Whoever created a purchase order cannot approve it."
        )
    roles = list(threshold.get("roles") or [])
    if roles and role not in roles:
        raise approvals.refused(
            "approver_role",
            f"Orders from {threshold['min_amount']} need approvals by {', '.join(roles)}.",
            roles=roles,
            min_amount=threshold["min_amount"],
        )
    given = list(
        await session.scalars(
            select(PurchaseOrderApproval)
            .where(PurchaseOrderApproval.purchase_order_id == order.id)
            .order_by(PurchaseOrderApproval.step)
        )
    )
    if any(a.approver_id == actor for a in given):
        raise approvals.refused(
            "distinct_approvers",
            f"This order needs {required} approvals by different people; you gave one.",
            approvals_required=required,
        )
    session.add(
        PurchaseOrderApproval(
            tenant_id=order.tenant_id,
            id=new_id(),
            purchase_order_id=order.id,
            step=len(given) + 1,
            approver_type=str(audit.actor.type),
            approver_id=actor,
            role=role,
        )
    )
    if len(given) + 1 < required:
        await session.flush()
        audit.record(
            session,
            "purchase_order.approval_recorded",
            target_type="purchase_order",
            target_id=order.id,
            changes={"step": len(given) + 1, "required": required, "role": role},
        )
        return await _with_lines(session, order)
    order.status = PurchaseOrderStatus.APPROVED
    order.approved_at = datetime.now(UTC)
    _history(session, audit, order, PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.APPROVED)
    await session.flush()
    audit.record(
        session,
        "purchase_order.approved",
        target_type="purchase_order",
        target_id=order.id,
        changes={"status": {"before": "draft", "after": "approved"}, "approvals": required},
    )
    await purchase_order_changed(session, order, "approve")
    return await _with_lines(session, order)


async def close_order(
    session: AsyncSession,
    audit: AuditContext,
    order_id: UUID,
    step: str,
    *,
    if_match: str | None,
    reason: str | None,
) -> OrderWithLines:
    """`close` an approved order (nothing more is received or matched against it), or
    `cancel` a draft or an approved one nothing was received against."""
    order = await locked_at_version(
        session, PurchaseOrder, order_id, if_match, what="purchase_order"
    )
    lines = await _lines_of(session, order.id)
    if step == "close":
        if order.status not in OPEN:
            raise _illegal(order, step)
        target = PurchaseOrderStatus.CLOSED
    else:
        if order.status not in (PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.APPROVED):
            raise _illegal(order, step)
        if any(line.quantity_received > 0 or line.quantity_matched > 0 for line in lines):
            raise _illegal(order, step)
        target = PurchaseOrderStatus.CANCELLED
    before = order.status
    order.status = target
    _history(session, audit, order, before, target, reason)
    await session.flush()
    audit.record(
        session,
        f"purchase_order.{'closed' if step == 'close' else 'cancelled'}",
        target_type="purchase_order",
        target_id=order.id,
        changes={"status": {"before": before, "after": target}, "reason": reason},
    )
    await purchase_order_changed(session, order, step, **({"reason": reason} if reason else {}))
    return OrderWithLines(order, lines)


def _received_status(lines: Sequence[PurchaseOrderLine]) -> PurchaseOrderStatus:
    if all(line.quantity_received >= line.quantity for line in lines):
        return PurchaseOrderStatus.RECEIVED
    if any(line.quantity_received > 0 for line in lines):
        return PurchaseOrderStatus.PARTIALLY_RECEIVED
    return PurchaseOrderStatus.APPROVED


async def _restatus(
    session: AsyncSession, audit: AuditContext, order: PurchaseOrder, reason: str | None
) -> list[PurchaseOrderLine]:
    lines = await _lines_of(session, order.id)
    target = _received_status(lines)
    if target != order.status:
        _history(session, audit, order, order.status, target, reason)
        order.status = target
    else:
        order.updated_at = func.now()  # a receipt is a new version of the order
    await session.flush()
    return lines


# --- receipts ----------------------------------------------------------------------------


async def _accrual_lines(
    order: PurchaseOrder, amounts: dict[str, Decimal], session: AsyncSession
) -> list[PostingLine]:
    accounts = await accounts_by_code(session, {*amounts, chart.GOODS_RECEIVED_NOT_INVOICED})
    total = sum(amounts.values(), ZERO)
    return [
        *(
            PostingLine.dr(accounts[code].id, amount, order.currency, order.vendor_id)
            for code, amount in amounts.items()
            if amount
        ),
        PostingLine.cr(
            accounts[chart.GOODS_RECEIVED_NOT_INVOICED].id, total, order.currency, order.vendor_id
        ),
    ]


async def _locked_order(
    session: AsyncSession, order_id: UUID, if_match: str | None
) -> PurchaseOrder:
    """The order, locked; when the caller sent If-Match, at that version (412 otherwise).
    A receipt needs none: each line's received quantity is raised by one conditional
    statement under this lock, so concurrent receipts are safe without it."""
    order = await row_by_id(
        session, PurchaseOrder, order_id, what="purchase_order", for_update=True
    )
    if if_match is not None:
        check_if_match(if_match, order.version)
    return order


async def receive(
    session: AsyncSession,
    audit: AuditContext,
    order_id: UUID,
    *,
    received_on: date,
    reference: str | None,
    lines: Sequence[tuple[UUID, Decimal]],
    if_match: str | None = None,
) -> ReceiptWithLines:
    """Record a delivery against an approved order (quantities per order line), at the
    order's version when `if_match` is given."""
    order = await _locked_order(session, order_id, if_match)
    if order.status not in RECEIVABLE:
        raise _illegal(order, "receive against")
    if received_on > today():
        raise Problem(422, "receipt_in_future", "A receipt is recorded once it happened.")
    ids = [line_id for line_id, _ in lines]
    if len(set(ids)) != len(ids):
        raise Problem(422, "receipt_line_repeated", "Name each order line once per receipt.")
    order_lines = {line.id: line for line in await _lines_of(session, order.id)}
    unknown = sorted(str(line_id) for line_id in ids if line_id not in order_lines)
    if unknown:
        raise Problem(
            422,
            "purchase_order_line_unknown",
            "A receipt names only lines of its order.",
            extra={"purchase_order_line_ids": unknown},
        )
    accrue = (await read_settings(session)).accrue_on_receipt
    receipt = GoodsReceipt(
        tenant_id=order.tenant_id,
        id=new_id(),
        purchase_order_id=order.id,
        received_on=received_on,
        reference=reference,
        created_by=audit.actor.id,
    )
    received: list[GoodsReceiptLine] = []
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for line_id, quantity in sorted(lines):
        order_line = order_lines[line_id]
        moved = await session.execute(
            update(PurchaseOrderLine)
            .where(
                PurchaseOrderLine.id == line_id,
                PurchaseOrderLine.quantity_received + quantity <= PurchaseOrderLine.receipt_limit,
            )
            .values(
                quantity_received=PurchaseOrderLine.quantity_received + quantity,
                quantity_accrued=PurchaseOrderLine.quantity_accrued
                + (quantity if accrue else ZERO),
            )
            .returning(PurchaseOrderLine.quantity_received, PurchaseOrderLine.quantity_accrued)
            .execution_options(synchronize_session=False)
        )
        now = moved.one_or_none()
        if now is None:
            room = order_line.receipt_limit - order_line.quantity_received
            raise Problem(
                409,
                "over_receipt",
                f"Line {order_line.position + 1} may receive {room} more, not {quantity}.",
                extra={
                    "purchase_order_line_id": str(line_id),
                    "receivable": str(room),
                    "receipt_limit": str(order_line.receipt_limit),
                },
            )
        set_committed_value(order_line, "quantity_received", now[0])
        set_committed_value(order_line, "quantity_accrued", now[1])
        line = GoodsReceiptLine(
            tenant_id=order.tenant_id,
            id=new_id(),
            receipt_id=receipt.id,
            purchase_order_line_id=line_id,
            quantity=precise(quantity),  # as the column answers it
            accrued=accrue,
        )
        received.append(line)
        if accrue:
            amounts[order_line.account_code or chart.GENERAL_EXPENSES] += cents(
                quantity * order_line.unit_price
            )
    if accrue and sum(amounts.values(), ZERO) > 0:
        entry = await post(
            session,
            audit,
            source_type=RECEIPT,
            source_id=receipt.id,
            kind=ACCRUAL,
            occurred_on=received_on,
            lines=await _accrual_lines(order, amounts, session),
            memo=f"Goods received on {order.number}",
        )
        receipt.entry_id = entry.id
    session.add(receipt)  # insert-only: written once its entry is known
    session.add_all(received)
    await session.flush()
    await _restatus(session, audit, order, reference)
    audit.record(
        session,
        "purchase_order.goods_received",
        target_type="purchase_order",
        target_id=order.id,
        changes={
            "receipt_id": str(receipt.id),
            "lines": {str(line_id): str(quantity) for line_id, quantity in lines},
            **({"journal_entry_id": str(receipt.entry_id)} if receipt.entry_id else {}),
        },
    )
    await goods_receipt_changed(session, order, receipt, "receive")
    return ReceiptWithLines(receipt, received)


async def reverse_receipt(
    session: AsyncSession,
    audit: AuditContext,
    order_id: UUID,
    receipt_id: UUID,
    *,
    if_match: str | None = None,
) -> ReceiptWithLines:
    """Take a receipt back: its quantities leave the order lines and its accrual entry is
    mirrored. Refused (409 `receipt_matched`) when invoices matched what it brought on a
    three-way order, or released its accrual. At the order's version when `if_match` is
    given."""
    order = await _locked_order(session, order_id, if_match)
    receipt = await session.scalar(
        select(GoodsReceipt)
        .where(GoodsReceipt.id == receipt_id, GoodsReceipt.purchase_order_id == order.id)
        .with_for_update()
    )
    if receipt is None:
        raise Problem(404, "receipt_not_found", "No such receipt.")
    if receipt.reversed_at is not None:
        raise Problem(409, "receipt_reversed", "This receipt has been reversed already.")
    lines = list(
        await session.scalars(
            select(GoodsReceiptLine)
            .where(GoodsReceiptLine.receipt_id == receipt.id)
            .order_by(GoodsReceiptLine.purchase_order_line_id)
        )
    )
    order_lines = {line.id: line for line in await _locked_lines_of(session, order.id)}
    for line in lines:
        order_line = order_lines[line.purchase_order_line_id]
        received_after = order_line.quantity_received - line.quantity
        accrued_after = order_line.quantity_accrued - (line.quantity if line.accrued else ZERO)
        if (
            order_line.three_way and received_after < order_line.quantity_matched
        ) or accrued_after < order_line.quantity_released:
            raise Problem(
                409,
                "receipt_matched",
                "Invoices matched what this receipt brought; reject or void them first.",
                extra={"purchase_order_line_id": str(order_line.id)},
            )
        order_line.quantity_received = received_after
        order_line.quantity_accrued = accrued_after
    reversal: JournalEntry | None = None
    if receipt.entry_id is not None:
        original = await row_by_id(session, JournalEntry, receipt.entry_id, what="entry")
        reversal = await reverse(
            session,
            audit,
            original,
            source_type=RECEIPT,
            source_id=receipt.id,
            kind=REVERSAL,
            occurred_on=today(),
            memo=f"Receipt on {order.number} reversed",
        )
    receipt.reversed_at = datetime.now(UTC)
    receipt.reversal_entry_id = reversal.id if reversal else None
    await session.flush()
    await _restatus(session, audit, order, "receipt reversed")
    audit.record(
        session,
        "purchase_order.receipt_reversed",
        target_type="purchase_order",
        target_id=order.id,
        changes={
            "receipt_id": str(receipt.id),
            **({"journal_entry_id": str(reversal.id)} if reversal else {}),
        },
    )
    await goods_receipt_changed(session, order, receipt, "reverse_receipt")
    return ReceiptWithLines(receipt, lines)


async def _receipts(
    session: AsyncSession, order_id: UUID, ids: Sequence[UUID] | None = None
) -> list[ReceiptWithLines]:
    """The order's receipts (those of `ids` when given), oldest first, with their lines."""
    statement = select(GoodsReceipt).where(GoodsReceipt.purchase_order_id == order_id)
    if ids is not None:
        statement = statement.where(GoodsReceipt.id.in_(ids))
    receipts = list(await session.scalars(statement.order_by(GoodsReceipt.id)))
    lines: dict[UUID, list[GoodsReceiptLine]] = defaultdict(list)
    if receipts:
        for line in await session.scalars(
            select(GoodsReceiptLine)
            .where(GoodsReceiptLine.receipt_id.in_([r.id for r in receipts]))
            .order_by(GoodsReceiptLine.purchase_order_line_id)
        ):
            lines[line.receipt_id].append(line)
    return [ReceiptWithLines(receipt, lines[receipt.id]) for receipt in receipts]


async def read_receipt(session: AsyncSession, order_id: UUID, receipt_id: UUID) -> ReceiptWithLines:
    """One receipt of the order with its lines (404 `receipt_not_found` when the order
    has no such receipt)."""
    await row_by_id(session, PurchaseOrder, order_id, what="purchase_order")
    receipt = await session.scalar(
        select(GoodsReceipt).where(
            GoodsReceipt.id == receipt_id, GoodsReceipt.purchase_order_id == order_id
        )
    )
    if receipt is None:
        raise Problem(404, "receipt_not_found", "No such receipt.")
    lines = await session.scalars(
        select(GoodsReceiptLine)
        .where(GoodsReceiptLine.receipt_id == receipt.id)
        .order_by(GoodsReceiptLine.purchase_order_line_id)
    )
    return ReceiptWithLines(receipt, list(lines))


async def receipts_of(session: AsyncSession, order_id: UUID) -> list[ReceiptWithLines]:
    await row_by_id(session, PurchaseOrder, order_id, what="purchase_order")
    return await _receipts(session, order_id)


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One thing that happened to an order: exactly one of the four is set."""

    id: UUID
    kind: str
    status_change: PurchaseOrderStatusChange | None = None
    approval: PurchaseOrderApproval | None = None
    receipt: ReceiptWithLines | None = None
    match: PurchaseOrderMatch | None = None


async def history(
    session: AsyncSession, order_id: UUID, page: PageRequest
) -> tuple[list[HistoryItem], str | None]:
    """One page of the order's history, newest first: its status changes, approvals,
    receipts (reversed ones too) and the invoice lines matched against it (released ones
    too), keyset on their ids (UUIDv7, so in the order they happened)."""
    await row_by_id(session, PurchaseOrder, order_id, what="purchase_order")
    timeline = union_all(
        select(PurchaseOrderStatusChange.id, literal("status_change").label("kind")).where(
            PurchaseOrderStatusChange.purchase_order_id == order_id
        ),
        select(PurchaseOrderApproval.id, literal("approval")).where(
            PurchaseOrderApproval.purchase_order_id == order_id
        ),
        select(GoodsReceipt.id, literal("receipt")).where(
            GoodsReceipt.purchase_order_id == order_id
        ),
        select(PurchaseOrderMatch.id, literal("match"))
        .join(PurchaseOrderLine, PurchaseOrderLine.id == PurchaseOrderMatch.purchase_order_line_id)
        .where(PurchaseOrderLine.purchase_order_id == order_id),
    ).subquery("timeline")
    rows, cursor = await keyset_page(
        session, select(timeline.c.id, timeline.c.kind), timeline.c.id, page, whole_rows=True
    )
    wanted: dict[str, list[UUID]] = defaultdict(list)
    for row_id, kind in rows:
        wanted[kind].append(row_id)
    changes = {
        row.id: row
        for row in await session.scalars(
            select(PurchaseOrderStatusChange).where(
                PurchaseOrderStatusChange.id.in_(wanted["status_change"])
            )
        )
    }
    given = {
        row.id: row
        for row in await session.scalars(
            select(PurchaseOrderApproval).where(PurchaseOrderApproval.id.in_(wanted["approval"]))
        )
    }
    matches = {
        row.id: row
        for row in await session.scalars(
            select(PurchaseOrderMatch).where(PurchaseOrderMatch.id.in_(wanted["match"]))
        )
    }
    receipts = {
        found.receipt.id: found for found in await _receipts(session, order_id, wanted["receipt"])
    }
    items = [
        HistoryItem(
            row_id,
            kind,
            status_change=changes.get(row_id),
            approval=given.get(row_id),
            receipt=receipts.get(row_id),
            match=matches.get(row_id),
        )
        for row_id, kind in rows
    ]
    return items, cursor


# --- reports -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Amounts:
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax

    def __sub__(self, other: Amounts) -> Amounts:
        return Amounts(self.net - other.net, self.tax - other.tax)


@dataclass(frozen=True, slots=True)
class Commitment:
    vendor_id: UUID
    currency: str
    ordered: Amounts
    invoiced: Amounts

    @property
    def open(self) -> Amounts:
        return self.ordered - self.invoiced


async def open_commitments(
    session: AsyncSession, page: PageRequest
) -> tuple[list[Commitment], str | None]:
    """Per vendor and currency, what open orders (approved, partly or fully received)
    ordered, net and tax, and what submitted invoices matched of it at the orders'
    prices: a line's invoiced net is its matched quantity (at most the ordered one) at
    the order's price, its invoiced tax the line's tax in the same proportion, each
    rounded half-up to the cent, so a line invoiced in full leaves nothing open. A page
    holds `limit` vendors (newest first), each with a row per currency."""
    has_open_order = (
        select(PurchaseOrder.id)
        .where(PurchaseOrder.vendor_id == Vendor.id, PurchaseOrder.status.in_(list(OPEN)))
        .exists()
    )
    vendors, cursor = await keyset_page(
        session, select(Vendor).where(has_open_order), Vendor.id, page
    )
    if not vendors:
        return [], cursor
    invoiced_quantity = func.least(PurchaseOrderLine.quantity_matched, PurchaseOrderLine.quantity)
    rows = await session.execute(
        select(
            PurchaseOrder.vendor_id,
            PurchaseOrder.currency,
            func.sum(PurchaseOrderLine.amount),
            func.sum(PurchaseOrderLine.tax_amount),
            func.sum(func.round(invoiced_quantity * PurchaseOrderLine.unit_price, 2)),
            func.sum(
                func.round(
                    PurchaseOrderLine.tax_amount * invoiced_quantity / PurchaseOrderLine.quantity,
                    2,
                )
            ),
        )
        .join(PurchaseOrderLine, PurchaseOrderLine.purchase_order_id == PurchaseOrder.id)
        .where(
            PurchaseOrder.status.in_(list(OPEN)),
            PurchaseOrder.vendor_id.in_([vendor.id for vendor in vendors]),
        )
        .group_by(PurchaseOrder.vendor_id, PurchaseOrder.currency)
    )
    found: dict[UUID, list[Commitment]] = defaultdict(list)
    for vendor_id, currency, net, tax, invoiced_net, invoiced_tax in rows:
        found[vendor_id].append(
            Commitment(
                vendor_id,
                currency,
                Amounts(cents(net), cents(tax)),
                Amounts(cents(invoiced_net), cents(invoiced_tax)),
            )
        )
    return [
        commitment
        for vendor in vendors
        for commitment in sorted(found[vendor.id], key=lambda c: c.currency)
    ], cursor


@dataclass(frozen=True, slots=True)
class ReceivedNotInvoiced:
    order: PurchaseOrder
    line: PurchaseOrderLine

    @property
    def amount(self) -> Decimal:
        return cents(
            (self.line.quantity_received - self.line.quantity_matched) * self.line.unit_price
        )


async def received_not_invoiced(
    session: AsyncSession, page: PageRequest
) -> tuple[list[ReceivedNotInvoiced], str | None]:
    """Order lines received past what invoices matched, newest line first."""
    lines, cursor = await keyset_page(
        session,
        select(PurchaseOrderLine)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.status != PurchaseOrderStatus.CANCELLED,
            PurchaseOrderLine.quantity_received > PurchaseOrderLine.quantity_matched,
        ),
        PurchaseOrderLine.id,
        page,
    )
    orders = {
        order.id: order
        for order in await session.scalars(
            select(PurchaseOrder).where(
                PurchaseOrder.id.in_({line.purchase_order_id for line in lines})
            )
        )
    }
    return [ReceivedNotInvoiced(orders[line.purchase_order_id], line) for line in lines], cursor
