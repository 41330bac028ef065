"""The invoice list's filters and orders, shared by the JSON list and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from ledgerline.invoices.models import Invoice, InvoiceStatus
from ledgerline.pagination import contains, sort_query
from ledgerline.values import Currency, Day, SignedMoney
from ledgerline.vendors.models import Vendor

SORTS = {
    "created": Invoice.id,  # UUIDv7: creation order
    "due_date": Invoice.due_date,
    "issue_date": Invoice.issue_date,
    "total": Invoice.total,
}
invoice_sort = sort_query(SORTS)


async def invoice_filters(
    status: InvoiceStatus | None = None,
    vendor_id: UUID | None = None,
    currency: Currency | None = None,
    issue_date_from: Day | None = None,
    issue_date_to: Day | None = None,
    due_date_from: Day | None = None,
    due_date_to: Day | None = None,
    total_min: SignedMoney | None = None,
    total_max: SignedMoney | None = None,
    overdue: Annotated[bool, Query(description="past due, not yet paid")] = False,
    q: Annotated[
        str | None,
        Query(max_length=64, pattern=r"^[^\x00-\x1f]*$", description="in number or vendor name"),
    ] = None,
) -> InvoiceFilter:
    """The query's filters (every bound inclusive)."""
    conditions: list[ColumnElement[bool]] = []
    equal: tuple[tuple[Any, object], ...] = (
        (Invoice.status, status),
        (Invoice.vendor_id, vendor_id),
        (Invoice.currency, currency),
    )
    for column, value in equal:
        if value is not None:
            conditions.append(column == value)
    ranges: tuple[tuple[Any, object, object], ...] = (
        (Invoice.issue_date, issue_date_from, issue_date_to),
        (Invoice.due_date, due_date_from, due_date_to),
        (Invoice.total, total_min, total_max),
    )
    for column, low, high in ranges:
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column <= high)
    if overdue:
        conditions.append(Invoice.due_date < func.current_date())
        conditions.append(Invoice.status.in_([InvoiceStatus.SUBMITTED, InvoiceStatus.APPROVED]))
    if q:
        pattern = contains(q)
        conditions.append(or_(Invoice.number.ilike(pattern), Vendor.name.ilike(pattern)))
    return InvoiceFilter(conditions, joins_vendor=bool(q))


VENDOR_OF_INVOICE = and_(Vendor.tenant_id == Invoice.tenant_id, Vendor.id == Invoice.vendor_id)


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    conditions: list[ColumnElement[bool]]
    joins_vendor: bool  # the vendor's name is searched

    def invoices(self) -> Select[Any]:
        statement = select(Invoice)
        if self.joins_vendor:
            statement = statement.outerjoin(Vendor, VENDOR_OF_INVOICE)
        return statement.where(*self.conditions)
