"""The dashboard: one call per view, each the whole read in the request's transaction.

The figures come from `repository` (aggregates in SQL); this module only checks the
scope, joins a few per-currency aggregate rows and derives what is arithmetic on them.
The definitions are written out in the README ("Dashboard").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.dashboard import repository
from ledgerline.dashboard.repository import AGING_BUCKETS, STATUSES, Scope
from ledgerline.problems import Problem

ZERO = Decimal("0.00")
TENTH = Decimal("0.1")
HUNDREDTH = Decimal("0.01")
RATIO = Decimal("0.0001")
PROCESSING_DAYS = 7  # the processing window when `from` is not given
CASH_WEEKS = 12  # the cash view's weeks when `to` is not given


def scope(
    from_day: date | None, to_day: date | None, currency: str | None, as_of: date | None
) -> Scope:
    """The request's scope, `as_of` today (UTC) unless given; 422 for a reversed range."""
    if from_day is not None and to_day is not None and from_day > to_day:
        raise Problem(422, "range_reversed", "`from` must not be after `to`.")
    return Scope(from_day, to_day, currency, as_of or datetime.now(UTC).date())


def _zero_summary(currency: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"currency": currency}
    for status in STATUSES:
        row[f"{status}_count"] = 0
        row[f"{status}_amount"] = ZERO
    return row | {
        "overdue_count": 0,
        "overdue_amount": ZERO,
        "approved_decisions": 0,
        "rejected_decisions": 0,
        "payable": ZERO,
        "purchases": ZERO,
        "first_issue_date": None,
    }


def _days_payable(row: dict[str, Any], scope: Scope) -> Decimal:
    """Open payables / purchases x days of the period (its start: `from`, else the first
    issue date in scope; its end: `to`, else `as_of`); 0 without purchases."""
    start = scope.from_day or row["first_issue_date"]
    if not row["purchases"] or start is None:
        return Decimal("0.0")
    days = max(((scope.to_day or scope.as_of) - start).days + 1, 1)
    return Decimal(row["payable"] / row["purchases"] * days).quantize(TENTH)


async def summary(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """One row per currency: invoice counts and amounts by status, overdue, approval rate,
    median submit-to-approve hours, payments in the range, days payable outstanding."""
    figures = {row["currency"]: row for row in await repository.invoice_figures(session, scope)}
    hours = {row["currency"]: row for row in await repository.approval_hours(session, scope)}
    payments = {row["currency"]: row for row in await repository.payment_figures(session, scope)}
    currencies = set(figures) | set(payments)
    if scope.currency is not None:
        currencies.add(scope.currency)
    rows = []
    for currency in sorted(currencies, key=lambda c: (c is None, c or "")):
        row = figures.get(currency) or _zero_summary(currency)
        decided = row["approved_decisions"] + row["rejected_decisions"]
        paid = payments.get(currency, {})
        rows.append(
            row
            | {
                "approval_rate": (
                    (Decimal(row["approved_decisions"]) / decided).quantize(RATIO)
                    if decided
                    else Decimal("0.0000")
                ),
                "median_submit_to_approve_hours": hours.get(currency, {}).get(
                    "median_hours", Decimal("0.00")
                ),
                "payments_count": paid.get("payments_count", 0),
                "payments_amount": paid.get("payments_amount", ZERO),
                "days_payable_outstanding": _days_payable(row, scope),
            }
        )
    return rows


async def aging(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Open payables per vendor and currency by days past due, and each currency's total
    (a zero total for an asked-for currency with nothing open)."""
    rows = await repository.aging(session, scope)
    if scope.currency is not None and not rows:
        rows = [
            {"currency": scope.currency, "vendor_id": None, "vendor_name": None}
            | dict.fromkeys(AGING_BUCKETS, ZERO)
            | {"total": ZERO, "invoices": 0}
        ]
    return rows


async def vendors(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per vendor and currency: totals and the risk score, riskiest first."""
    return await repository.vendors(session, scope)


async def processing(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """Documents uploaded from `from` 00:00 UTC to the end of `to` (default: the 7 days
    up to `as_of`): counts, documents read per hour, and reading latency percentiles."""
    last = scope.to_day or scope.as_of
    first = scope.from_day or last - timedelta(days=PROCESSING_DAYS - 1)
    if first > last:
        raise Problem(422, "range_reversed", "`from` must not be after `to`.")
    start = datetime.combine(first, time.min, UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, UTC)
    figures = await repository.processing(session, start, end, scope.currency)
    hours = Decimal((end - start) // timedelta(hours=1))
    return figures | {
        "window_start": start,
        "window_end": end,
        "documents_per_hour": (Decimal(figures["finished"]) / hours).quantize(HUNDREDTH),
    }


async def assets(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per category and currency: cost, accumulated depreciation, net book value and the
    depreciation of `as_of`'s month and year."""
    return await repository.assets(session, scope)


@dataclass(frozen=True, slots=True)
class Cash:
    accounts: list[dict[str, Any]]
    weeks: list[dict[str, Any]]


async def cash(session: AsyncSession, scope: Scope) -> Cash:
    """Asset-account balances on `as_of`, and by week from `from` (default `as_of`) to `to`
    (default 12 weeks on) what approved invoices and accepted financing offers will pay."""
    first = scope.from_day or scope.as_of
    last = scope.to_day or first + timedelta(weeks=CASH_WEEKS) - timedelta(days=1)
    if first > last:
        raise Problem(422, "range_reversed", "`from` must not be after `to`.")
    weeks = Scope(first, last, scope.currency, scope.as_of)
    return Cash(
        await repository.cash_accounts(session, scope),
        await repository.cash_weeks(session, weeks),
    )
