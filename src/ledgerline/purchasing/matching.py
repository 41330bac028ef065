"""Matching supplier invoices against purchase orders, called by the invoice steps.

At submit every invoice line that names a purchase order line is compared with it under
the tenant's tolerances: the price (the invoice's unit price may exceed the order's by
`price_tolerance_percent`), the quantity against what is still unmatched of the order
(`quantity_tolerance` units more allowed) and, on a three-way order, against what was
received and not yet matched (no tolerance: nothing is ever matched past a receipt).
Within tolerance, the quantities are matched: they accumulate on the order lines, taken
with `SELECT ... FOR UPDATE` in the order of their ids, so concurrent submits queue and
the second sees what the first matched; the check
`purchase_order_lines_matched_within_received_check` refuses what would still slip by.
Outside tolerance nothing is matched and the invoice goes to `match_exception` with
the differences per line; an owner's override matches what can be matched (on a
three-way line at most what was received) and lets it go on, and so does a credit note
that brings the invoice within tolerance (`resolve_by_credit_note`).

A rejected or voided invoice gives its matched quantities back. Its approval releases
the accrual its receipts posted for the matched quantities (Dr 2150, Cr the order line's
account, at the order's price), and a void after approval reverses that release.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ledgerline.audit.service import AuditContext
from ledgerline.db.base import new_id
from ledgerline.invoices.models import Invoice, InvoiceLine
from ledgerline.invoices.postings import accounts_by_code
from ledgerline.ledger import chart
from ledgerline.ledger.models import JournalEntry
from ledgerline.ledger.posting import EntryDraft, PostingLine, reverse
from ledgerline.problems import Problem
from ledgerline.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderMatch,
    PurchaseOrderStatus,
    PurchasingSettings,
)
from ledgerline.purchasing.settings import read_settings
from ledgerline.values import cents

INVOICE = "invoice"
ACCRUAL_RELEASE = "accrual_release"
ACCRUAL_RELEASE_VOID = "accrual_release_void"
MATCHABLE = frozenset(
    {
        PurchaseOrderStatus.APPROVED,
        PurchaseOrderStatus.PARTIALLY_RECEIVED,
        PurchaseOrderStatus.RECEIVED,
    }
)
ZERO = Decimal("0")


async def check_references(
    session: AsyncSession, vendor_id: UUID | None, line_ids: Sequence[UUID | None]
) -> None:
    """Every purchase order line an invoice line names exists in the tenant (404) and
    belongs to the invoice's vendor (422); the database refuses both as well."""
    wanted = {line_id for line_id in line_ids if line_id is not None}
    if not wanted:
        return
    rows = await session.execute(
        select(PurchaseOrderLine.id, PurchaseOrderLine.vendor_id).where(
            PurchaseOrderLine.id.in_(wanted)
        )
    )
    found = dict(rows.all())
    missing = sorted(str(line_id) for line_id in wanted - set(found))
    if missing:
        raise Problem(
            404,
            "purchase_order_line_not_found",
            "No such purchase order line.",
            extra={"purchase_order_line_ids": missing},
        )
    others = sorted(str(line_id) for line_id, vendor in found.items() if vendor != vendor_id)
    if others:
        raise Problem(
            422,
            "purchase_order_vendor_mismatch",
            "An invoice line may name only a purchase order line of the invoice's vendor.",
            extra={"purchase_order_line_ids": others},
        )


async def _locked_lines(
    session: AsyncSession, invoice: Invoice, lines: Sequence[InvoiceLine]
) -> dict[UUID, tuple[PurchaseOrderLine, PurchaseOrder]]:
    """The order lines the invoice names, locked in the order of their ids, with their
    orders; each open and in the invoice's vendor and currency."""
    wanted = sorted({line.purchase_order_line_id for line in lines if line.purchase_order_line_id})
    if not wanted:
        return {}
    rows = await session.execute(
        select(PurchaseOrderLine, PurchaseOrder)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrderLine.id.in_(wanted))
        .order_by(PurchaseOrderLine.id)
        .with_for_update(of=PurchaseOrderLine)
    )
    found = {order_line.id: (order_line, order) for order_line, order in rows}
    await check_references(session, invoice.vendor_id, list(found) + list(wanted))
    for order in (order for _, order in found.values()):
        if order.currency != invoice.currency:
            raise Problem(
                422,
                "purchase_order_currency_mismatch",
                f"Purchase order {order.number} is in {order.currency}, the invoice in"
                f" {invoice.currency}.",
            )
        if order.status not in MATCHABLE:
            raise Problem(
                409,
                "purchase_order_not_open",
                f"Purchase order {order.number} is {order.status}; only an approved order"
                " is matched.",
                extra={"purchase_order_id": str(order.id), "current_status": order.status},
            )
    return found


def _difference(
    line: InvoiceLine,
    order_line: PurchaseOrderLine,
    kind: str,
    invoiced: Decimal,
    expected: Decimal,
) -> dict[str, str | None]:
    return {
        "position": str(line.position),
        "purchase_order_line_id": str(order_line.id),
        "kind": kind,
        "invoiced": str(invoiced),
        "expected": str(expected),
        "difference": str(invoiced - expected),
    }


def _differences(
    settings: PurchasingSettings,
    lines: Sequence[InvoiceLine],
    found: dict[UUID, tuple[PurchaseOrderLine, PurchaseOrder]],
) -> list[dict[str, str | None]]:
    """Per invoice line, what lies outside tolerance (several lines naming one order line
    are compared with what the lines before them left)."""
    taken: dict[UUID, Decimal] = defaultdict(Decimal)
    found_differences: list[dict[str, str | None]] = []
    price_factor = 1 + settings.price_tolerance_percent / 100
    for line in lines:
        if line.purchase_order_line_id is None:
            continue
        order_line, _ = found[line.purchase_order_line_id]
        matched = order_line.quantity_matched + taken[order_line.id]
        taken[order_line.id] += line.quantity
        if line.unit_price > order_line.unit_price * price_factor:
            found_differences.append(
                _difference(line, order_line, "price", line.unit_price, order_line.unit_price)
            )
        unordered = order_line.quantity - matched
        if line.quantity > unordered + settings.quantity_tolerance:
            found_differences.append(
                _difference(
                    line, order_line, "quantity_over_ordered", line.quantity, max(unordered, ZERO)
                )
            )
        if order_line.three_way:
            unreceived = order_line.quantity_received - matched
            if line.quantity > unreceived:
                found_differences.append(
                    _difference(
                        line,
                        order_line,
                        "quantity_over_received",
                        line.quantity,
                        max(unreceived, ZERO),
                    )
                )
    return found_differences


async def _match(
    session: AsyncSession,
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    found: dict[UUID, tuple[PurchaseOrderLine, PurchaseOrder]],
    *,
    overridden: bool,
) -> None:
    """Match each line's quantity (on an override, on a three-way line no more than was
    received and is unmatched), with one conditional statement per order line."""
    for line in lines:
        if line.purchase_order_line_id is None:
            continue
        order_line, _ = found[line.purchase_order_line_id]
        quantity = line.quantity
        if order_line.three_way:
            quantity = min(
                quantity, max(order_line.quantity_received - order_line.quantity_matched, ZERO)
            )
        moved = await session.execute(
            update(PurchaseOrderLine)
            .where(
                PurchaseOrderLine.id == order_line.id,
                ~PurchaseOrderLine.three_way
                | (
                    PurchaseOrderLine.quantity_matched + quantity
                    <= PurchaseOrderLine.quantity_received
                ),
            )
            .values(quantity_matched=PurchaseOrderLine.quantity_matched + quantity)
            .returning(PurchaseOrderLine.quantity_matched)
            .execution_options(synchronize_session=False)
        )
        now_matched = moved.scalar_one_or_none()
        if now_matched is None:
            raise Problem(
                409,
                "quantity_over_received",
                "More would be matched than was received.",
                extra={"purchase_order_line_id": str(order_line.id)},
            )
        set_committed_value(order_line, "quantity_matched", now_matched)
        session.add(
            PurchaseOrderMatch(
                tenant_id=invoice.tenant_id,
                invoice_id=invoice.id,
                purchase_order_line_id=order_line.id,
                quantity=quantity,
                unit_price=line.unit_price,
                overridden=overridden,
                accrual_released=ZERO,
            )
        )
    await session.flush()


async def match_on_submit(
    session: AsyncSession, invoice: Invoice, lines: Sequence[InvoiceLine]
) -> list[dict[str, str | None]]:
    """Match the invoice's lines (the invoice's row is locked); the differences when any
    line lies outside tolerance, in which case nothing is matched."""
    found = await _locked_lines(session, invoice, lines)
    if not found:
        return []
    differences = _differences(await read_settings(session), lines, found)
    if not differences:
        await _match(session, invoice, lines, found, overridden=False)
    return differences


async def match_overridden(
    session: AsyncSession, invoice: Invoice, lines: Sequence[InvoiceLine]
) -> None:
    """An owner's override of an invoice in `match_exception`: what can be matched is."""
    await _match(
        session, invoice, lines, await _locked_lines(session, invoice, lines), overridden=True
    )


def _credited_per_order_line(
    lines: Sequence[InvoiceLine], credited: Sequence[InvoiceLine]
) -> dict[UUID, Decimal]:
    """The credit note's net amounts per purchase order line; a credit note line naming an
    order line the invoice does not bill is 409 `credit_note_mismatch`."""
    billed = {line.purchase_order_line_id for line in lines if line.purchase_order_line_id}
    per_line: dict[UUID, Decimal] = defaultdict(Decimal)
    for line in credited:
        if line.purchase_order_line_id is None:
            continue
        if line.purchase_order_line_id not in billed:
            raise Problem(
                409,
                "credit_note_mismatch",
                "The credit note credits a purchase order line this invoice does not bill.",
                extra={"purchase_order_line_id": str(line.purchase_order_line_id)},
            )
        per_line[line.purchase_order_line_id] += line.line_subtotal
    return per_line


async def resolve_by_credit_note(
    session: AsyncSession,
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    credited: Sequence[InvoiceLine],
) -> list[dict[str, str]]:
    """An invoice in `match_exception` netted against the lines of a credit note that
    credits it, per purchase order line, in amounts: what the invoice bills on the order
    line (its lines' net amounts) less what the credit note's lines naming that order
    line credit must not exceed the acceptable amount, the quantity matching accepts
    (what is left of the order plus the quantity tolerance and, on a three-way line, no
    more than was received and is unmatched) at the order's price plus the price
    tolerance, rounded half-up to the cent. Within it on every order line, the lines are
    matched as an override matches them and the per-line figures are returned; otherwise
    409 `match_not_resolved` with what remains per order line."""
    found = await _locked_lines(session, invoice, lines)
    credits = _credited_per_order_line(lines, credited)
    settings = await read_settings(session)
    price_factor = 1 + settings.price_tolerance_percent / 100
    figures: list[dict[str, str]] = []
    for line_id in sorted(found):
        order_line, _ = found[line_id]
        billed = [line for line in lines if line.purchase_order_line_id == line_id]
        quantity = sum((line.quantity for line in billed), ZERO)
        invoiced = sum((line.line_subtotal for line in billed), ZERO)
        accepted = min(
            quantity,
            order_line.quantity - order_line.quantity_matched + settings.quantity_tolerance,
        )
        if order_line.three_way:
            accepted = min(accepted, order_line.quantity_received - order_line.quantity_matched)
        acceptable = cents(max(accepted, ZERO) * order_line.unit_price * price_factor)
        credited_amount = credits.get(line_id, ZERO)
        figures.append(
            {
                "purchase_order_line_id": str(line_id),
                "invoiced": str(invoiced),
                "credited": str(credited_amount),
                "acceptable": str(acceptable),
                "difference": str(invoiced - credited_amount - acceptable),
            }
        )
    remaining = [figure for figure in figures if Decimal(figure["difference"]) > 0]
    if remaining:
        raise Problem(
            409,
            "match_not_resolved",
            "Net of the credit note, the invoice still lies outside its purchase orders'"
            " tolerances.",
            extra={"remaining_differences": remaining},
        )
    await _match(session, invoice, lines, found, overridden=False)
    return figures


async def release_matches(session: AsyncSession, invoice: Invoice) -> None:
    """A rejected or voided invoice's matched quantities given back to its order lines."""
    matches = list(
        await session.scalars(
            select(PurchaseOrderMatch)
            .where(
                PurchaseOrderMatch.invoice_id == invoice.id,
                PurchaseOrderMatch.released_at.is_(None),
            )
            .order_by(PurchaseOrderMatch.purchase_order_line_id)
        )
    )
    if not matches:
        return
    back: dict[UUID, Decimal] = defaultdict(Decimal)
    released: dict[UUID, Decimal] = defaultdict(Decimal)
    for match in matches:
        back[match.purchase_order_line_id] += match.quantity
        released[match.purchase_order_line_id] += match.accrual_released
    for line_id in sorted(back):
        await session.execute(
            update(PurchaseOrderLine)
            .where(PurchaseOrderLine.id == line_id)
            .values(
                quantity_matched=PurchaseOrderLine.quantity_matched - back[line_id],
                quantity_released=PurchaseOrderLine.quantity_released - released[line_id],
            )
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(PurchaseOrderMatch)
        .where(
            PurchaseOrderMatch.invoice_id == invoice.id,
            PurchaseOrderMatch.released_at.is_(None),
        )
        .values(released_at=func.now())
        .execution_options(synchronize_session=False)
    )


async def accrual_release(session: AsyncSession, invoice: Invoice) -> EntryDraft | None:
    """At approval: the entry releasing the accrual its matched quantities were received
    under (Dr 2150, Cr each order line's account) at the order's price, dated the
    invoice's issue date, with the released quantities recorded on the order lines and
    matches; None when nothing was accrued. The approval posts it together with its own
    entry (`invoices/postings.post_approval`)."""
    rows = await session.execute(
        select(PurchaseOrderMatch, PurchaseOrderLine)
        .join(PurchaseOrderLine, PurchaseOrderLine.id == PurchaseOrderMatch.purchase_order_line_id)
        .where(
            PurchaseOrderMatch.invoice_id == invoice.id,
            PurchaseOrderMatch.released_at.is_(None),
        )
        .order_by(PurchaseOrderLine.id)
        .with_for_update(of=PurchaseOrderLine)
    )
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for match, order_line in rows:
        open_accrual = order_line.quantity_accrued - order_line.quantity_released
        quantity = min(match.quantity, open_accrual)
        if quantity <= 0:
            continue
        match.accrual_released = quantity
        order_line.quantity_released += quantity
        credits[order_line.account_code or chart.GENERAL_EXPENSES] += cents(
            quantity * order_line.unit_price
        )
    await session.flush()
    total = sum(credits.values(), ZERO)
    if total <= 0:
        return None
    accounts = await accounts_by_code(session, {*credits, chart.GOODS_RECEIVED_NOT_INVOICED})
    assert invoice.currency is not None
    assert invoice.issue_date is not None
    lines = [
        PostingLine.dr(
            accounts[chart.GOODS_RECEIVED_NOT_INVOICED].id,
            total,
            invoice.currency,
            invoice.vendor_id,
        ),
        *(
            PostingLine.cr(accounts[code].id, amount, invoice.currency, invoice.vendor_id)
            for code, amount in credits.items()
            if amount
        ),
    ]
    return EntryDraft(
        INVOICE,
        invoice.id,
        ACCRUAL_RELEASE,
        invoice.issue_date,
        lines,
        memo=f"Accrual released by invoice {invoice.number}",
        entry_id=new_id(),
    )


async def reverse_accrual_release(
    session: AsyncSession, audit: AuditContext, invoice: Invoice, on: date
) -> JournalEntry | None:
    """At a void after approval: the accrual release's mirror (the matches' released
    quantities go back with `release_matches`)."""
    released = await session.scalar(
        select(JournalEntry).where(
            JournalEntry.source_type == INVOICE,
            JournalEntry.source_id == invoice.id,
            JournalEntry.kind == ACCRUAL_RELEASE,
        )
    )
    if released is None:
        return None
    return await reverse(
        session,
        audit,
        released,
        source_type=INVOICE,
        source_id=invoice.id,
        kind=ACCRUAL_RELEASE_VOID,
        occurred_on=on,
        memo=f"Invoice {invoice.number} voided: accrual restored",
    )
