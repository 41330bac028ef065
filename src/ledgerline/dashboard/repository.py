"""The dashboard's statements: every figure is an aggregate computed by PostgreSQL.

Each statement runs in the request's tenant transaction, so row-level security scopes it
to the tenant; every table it reads has an index leading with `tenant_id` for the
predicate it filters on (migration 0020 adds the missing ones). The scope conditions
(date range, currency) are fixed fragments chosen here, their values always bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

STATUSES = ("draft", "submitted", "approved", "rejected", "paid", "void")
AGING_BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a dashboard request narrows to: a date range (inclusive, either end open), a
    currency, and the day figures are taken as of."""

    from_day: date | None
    to_day: date | None
    currency: str | None
    as_of: date

    def params(self) -> dict[str, Any]:
        return {
            "from_day": self.from_day,
            "to_day": self.to_day,
            "currency": self.currency,
            "as_of": self.as_of,
        }

    def where(self, day_column: str, currency_column: str) -> str:
        """The scope as SQL conditions on the given columns (always a valid `AND` tail)."""
        conditions = ["true"]
        if self.from_day is not None:
            conditions.append(f"{day_column} >= :from_day")
        if self.to_day is not None:
            conditions.append(f"{day_column} <= :to_day")
        if self.currency is not None:
            conditions.append(f"{currency_column} = :currency")
        return " AND ".join(conditions)


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [row._asdict() for row in await session.execute(text(sql), params)]


# --- summary -------------------------------------------------------------------------------

_STATUS_COLUMNS = ",\n".join(
    f"coalesce(sum(s.invoices) FILTER (WHERE s.status = '{status}'), 0)::bigint"
    f" AS {status}_count,"
    f" coalesce(sum(s.amount) FILTER (WHERE s.status = '{status}'), 0.00) AS {status}_amount"
    for status in STATUSES
)


async def invoice_figures(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per currency: counts and amounts by status, what is overdue, the decisions taken,
    what is payable, what was bought, and the first issue date (for days payable).

    The invoices are aggregated once by currency and status, an index-only scan of
    `invoices (tenant_id, currency, status, issue_date) INCLUDE (due_date, total,
    amount_paid)` (migration 0024) in its own order, with plain sums per row (open
    amounts are sums of totals less sums of payments, taken per group, not per row);
    those few rows are then turned into one row per currency."""
    sql = f"""
        SELECT s.currency,
               {_STATUS_COLUMNS},
               coalesce(sum(s.overdue) FILTER (WHERE s.status = 'approved'), 0)::bigint
                   AS overdue_count,
               coalesce(sum(s.overdue_amount - s.overdue_paid)
                   FILTER (WHERE s.status = 'approved'), 0.00) AS overdue_amount,
               coalesce(sum(s.invoices) FILTER (WHERE s.status IN ('approved', 'paid')), 0)
                   ::bigint AS approved_decisions,
               coalesce(sum(s.invoices) FILTER (WHERE s.status = 'rejected'), 0)::bigint
                   AS rejected_decisions,
               coalesce(sum(s.amount - s.paid) FILTER (WHERE s.status = 'approved'), 0.00)
                   AS payable,
               coalesce(sum(s.amount) FILTER (WHERE s.status IN ('approved', 'paid')), 0.00)
                   AS purchases,
               min(s.first_issue_date) AS first_issue_date
        FROM (
            SELECT i.currency, i.status, count(*) AS invoices, sum(i.total) AS amount,
                   sum(i.amount_paid) AS paid,
                   count(*) FILTER (WHERE i.due_date < :as_of) AS overdue,
                   sum(i.total) FILTER (WHERE i.due_date < :as_of) AS overdue_amount,
                   sum(i.amount_paid) FILTER (WHERE i.due_date < :as_of) AS overdue_paid,
                   min(i.issue_date) AS first_issue_date
            FROM invoices i
            WHERE i.kind = 'invoice' AND {scope.where("i.issue_date", "i.currency")}
            GROUP BY i.currency, i.status
        ) s
        GROUP BY s.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


async def approval_hours(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per currency: the median hours from an invoice's last submission to its approval,
    over the approved invoices in scope (approved since, whatever their status now). Each
    invoice keeps both times (set by the database as its status changes, migration 0024),
    so this is one index-only scan of `invoices (tenant_id, currency, issue_date) INCLUDE
    (submitted_at, approved_at)` over the approvals."""
    sql = f"""
        SELECT i.currency,
               round((percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY date_part('epoch', i.approved_at - i.submitted_at)
               ) / 3600)::numeric, 2) AS median_hours
        FROM invoices i
        WHERE i.kind = 'invoice' AND i.approved_at IS NOT NULL AND i.submitted_at IS NOT NULL
          AND {scope.where("i.issue_date", "i.currency")}
        GROUP BY i.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


async def payment_figures(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per currency: the payments (not reversed) dated in the range, index-only from
    `invoice_payments (tenant_id, currency, paid_on) INCLUDE (amount)` (migration 0024)."""
    sql = f"""
        SELECT p.currency, count(*) AS payments_count, sum(p.amount) AS payments_amount
        FROM invoice_payments p
        WHERE p.reversed_at IS NULL AND {scope.where("p.paid_on", "p.currency")}
        GROUP BY p.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


# --- aging ---------------------------------------------------------------------------------


async def aging(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Open amounts of approved invoices by days past due on `as_of`, per vendor and
    currency, and per currency over all vendors (`vendor_id` null, from GROUPING SETS).

    The open invoices are summed by (currency, vendor, bucket) first, an index-only scan
    of `invoices (tenant_id, currency, vendor_id) INCLUDE (due_date, total, amount_paid,
    issue_date)` over the approved ones (migration 0024) with two aggregates per row; the
    few sums are then turned into one row per vendor, and only those meet the vendors
    for their names. `width_bucket` numbers the buckets as AGING_BUCKETS lists them: 0
    not yet due, 1 for 1-30 days past due, ..., 4 for more than 90."""
    bucket_columns = ",\n".join(
        f"coalesce(sum(b.open_amount) FILTER (WHERE b.bucket = {number}), 0.00) AS {bucket}"
        for number, bucket in enumerate(AGING_BUCKETS)
    )
    sql = f"""
        SELECT o.currency, o.vendor_id, v.name AS vendor_name, {", ".join(AGING_BUCKETS)},
               o.total, o.invoices
        FROM (
            SELECT b.currency, b.vendor_id, {bucket_columns},
                   sum(b.open_amount) AS total, sum(b.invoices)::bigint AS invoices,
                   GROUPING(b.vendor_id) AS all_vendors
            FROM (
                SELECT i.currency, i.vendor_id,
                       width_bucket(:as_of - i.due_date, ARRAY[1, 31, 61, 91]) AS bucket,
                       sum(i.total - i.amount_paid) AS open_amount, count(*) AS invoices
                FROM invoices i
                WHERE i.status = 'approved' AND i.kind = 'invoice'
                  AND i.total > i.amount_paid
                  AND {scope.where("i.issue_date", "i.currency")}
                GROUP BY i.currency, i.vendor_id, bucket
            ) b
            GROUP BY GROUPING SETS ((b.currency, b.vendor_id), (b.currency))
        ) o
        LEFT JOIN vendors v ON v.id = o.vendor_id
        ORDER BY o.currency, o.all_vendors, v.name, o.vendor_id
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


# --- vendors -------------------------------------------------------------------------------


async def vendors(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per vendor and currency: invoice totals and the risk score's parts (see README)."""
    sql = f"""
        SELECT f.*,
               round(100 * (0.4 * f.overdue_ratio + 0.3 * f.rejection_rate
                            + 0.2 * f.duplicate_rate + 0.1 * f.missing_data), 1) AS risk_score
        FROM (
            SELECT g.vendor_id, g.vendor_name, g.currency, g.invoices, g.total_amount,
                   g.open_amount, g.overdue_amount, g.rejected, g.duplicates_flagged,
                   g.missing_fields,
                   round(coalesce(g.overdue_amount / nullif(g.open_amount, 0), 0), 4)
                       AS overdue_ratio,
                   round(coalesce(g.rejected::numeric / nullif(g.decided, 0), 0), 4)
                       AS rejection_rate,
                   round(g.duplicates_flagged::numeric / g.invoices, 4) AS duplicate_rate,
                   round(g.missing_fields / 3.0, 4) AS missing_data
            FROM (
                SELECT i.vendor_id, v.name AS vendor_name, i.currency,
                       count(*) AS invoices,
                       sum(i.total) AS total_amount,
                       coalesce(sum(i.total - i.amount_paid)
                           FILTER (WHERE i.status = 'approved'), 0.00) AS open_amount,
                       coalesce(sum(i.total - i.amount_paid)
                           FILTER (WHERE i.status = 'approved' AND i.due_date < :as_of), 0.00)
                           AS overdue_amount,
                       count(*) FILTER (WHERE i.status = 'rejected') AS rejected,
                       count(*) FILTER (WHERE i.status IN ('approved', 'paid', 'rejected'))
                           AS decided,
                       count(*) FILTER (WHERE cardinality(i.possible_duplicate_of) > 0)
                           AS duplicates_flagged,
                       (v.tax_id IS NULL)::int + (v.email IS NULL)::int
                           + (v.bank_account IS NULL)::int AS missing_fields
                FROM invoices i
                JOIN vendors v ON v.tenant_id = i.tenant_id AND v.id = i.vendor_id
                WHERE i.kind = 'invoice' AND i.status NOT IN ('draft', 'void')
                  AND {scope.where("i.issue_date", "i.currency")}
                GROUP BY i.vendor_id, v.name, v.tax_id, v.email, v.bank_account, i.currency
            ) g
        ) f
        ORDER BY risk_score DESC, f.vendor_name, f.vendor_id, f.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


# --- processing ----------------------------------------------------------------------------


async def processing(
    session: AsyncSession, start: datetime, end: datetime, currency: str | None
) -> dict[str, Any]:
    """Documents uploaded in [start, end): how many, how they ended, and the seconds their
    reading took (p50, p90, p99: from the start of the attempt that read them to its end)."""
    currency_filter = "AND i.currency = :currency" if currency is not None else ""
    join = (
        "JOIN invoices i ON i.tenant_id = d.tenant_id AND i.id = d.invoice_id"
        if currency is not None
        else ""
    )
    latency = "extract(epoch FROM d.finished_at - d.started_at)"
    done = (
        "d.processing_status IN ('extracted', 'needs_review')"
        " AND d.started_at IS NOT NULL AND d.finished_at IS NOT NULL"
    )
    percentiles = ",\n".join(
        f"round(coalesce(percentile_cont({fraction}) WITHIN GROUP (ORDER BY {latency})"
        f" FILTER (WHERE {done}), 0)::numeric, 3) AS latency_p{label}_seconds"
        for fraction, label in (("0.5", "50"), ("0.9", "90"), ("0.99", "99"))
    )
    sql = f"""
        SELECT count(*) AS received,
               count(*) FILTER (WHERE {done}) AS finished,
               count(*) FILTER (WHERE d.processing_status = 'needs_review') AS needs_review,
               count(*) FILTER (WHERE d.processing_status = 'failed') AS failed,
               count(*) FILTER (WHERE d.processing_status IN ('queued', 'processing'))
                   AS pending,
               {percentiles}
        FROM invoice_documents d {join}
        WHERE d.created_at >= :start AND d.created_at < :end {currency_filter}
    """  # noqa: S608 - constant fragments; values are bound
    rows = await _rows(session, sql, {"start": start, "end": end, "currency": currency})
    return rows[0]


# --- assets --------------------------------------------------------------------------------


async def assets(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per category and currency, for the assets held on `as_of` (acquired by then, in the
    range when one is given, not disposed by then): cost, depreciation accumulated by
    `as_of`'s month, impairment, net book value, and the depreciation of that month and of
    its year up to it, from the stored schedules."""
    sql = f"""
        SELECT c.id AS category_id, c.name AS category, a.currency,
               count(*) AS assets,
               sum(a.cost) AS cost,
               coalesce(sum(d.accumulated), 0.00) AS accumulated_depreciation,
               sum(a.accumulated_impairment) AS accumulated_impairment,
               sum(a.cost - coalesce(d.accumulated, 0.00) - a.accumulated_impairment)
                   AS net_book_value,
               coalesce(sum(d.this_month), 0.00) AS depreciation_this_month,
               coalesce(sum(d.this_year), 0.00) AS depreciation_this_year
        FROM assets a
        JOIN asset_categories c ON c.tenant_id = a.tenant_id AND c.id = a.category_id
        LEFT JOIN LATERAL (
            SELECT (array_agg(e.accumulated ORDER BY e.period DESC))[1] AS accumulated,
                   sum(e.amount) FILTER (
                       WHERE e.period >= date_trunc('month', CAST(:as_of AS date))
                   ) AS this_month,
                   sum(e.amount) FILTER (
                       WHERE e.period >= date_trunc('year', CAST(:as_of AS date))
                   ) AS this_year
            FROM depreciation_entries e
            WHERE e.tenant_id = a.tenant_id AND e.asset_id = a.id AND e.period <= :as_of
        ) d ON true
        WHERE a.acquisition_date <= :as_of
          AND (a.disposed_on IS NULL OR a.disposed_on > :as_of)
          AND {scope.where("a.acquisition_date", "a.currency")}
        GROUP BY c.id, c.name, a.currency
        ORDER BY c.name, c.id, a.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


# --- cash ----------------------------------------------------------------------------------


async def cash_accounts(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Each asset account's balance per currency at the end of `as_of`: the cached
    balance less the lines posted after it."""
    currency_filter = "AND b.currency = :currency" if scope.currency is not None else ""
    sql = f"""
        SELECT a.id AS account_id, a.code, a.name, b.currency,
               b.balance - coalesce((
                   SELECT sum(l.debit - l.credit) FROM journal_lines l
                   WHERE l.tenant_id = b.tenant_id AND l.account_id = b.account_id
                     AND l.currency = b.currency AND l.posted_on > :as_of
               ), 0.00) AS balance
        FROM ledger_accounts a
        JOIN ledger_balances b ON b.tenant_id = a.tenant_id AND b.account_id = a.id
        WHERE a.type = 'asset' {currency_filter}
        ORDER BY a.code, b.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())


async def cash_weeks(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    """Per ISO week (its Monday) and currency in the range: the open amounts of approved
    invoices due that week (but those an accepted financing offer will pay early), and the
    net amounts accepted financing offers pay that week."""
    sql = f"""
        SELECT w.week_start, w.currency,
               sum(w.scheduled) AS scheduled_payments,
               sum(w.financing) AS financing_settlements
        FROM (
            SELECT date_trunc('week', i.due_date)::date AS week_start, i.currency,
                   i.total - i.amount_paid AS scheduled, 0.00 AS financing
            FROM invoices i
            WHERE i.status = 'approved' AND i.kind = 'invoice' AND i.total > i.amount_paid
              AND {scope.where("i.due_date", "i.currency")}
              AND NOT EXISTS (
                  SELECT FROM financing_offers f
                  WHERE f.tenant_id = i.tenant_id AND f.invoice_id = i.id
                    AND f.status = 'accepted'
              )
            UNION ALL
            SELECT date_trunc('week', f.pay_on)::date, f.currency, 0.00, f.net_amount
            FROM financing_offers f
            WHERE f.status = 'accepted' AND {scope.where("f.pay_on", "f.currency")}
        ) w
        GROUP BY w.week_start, w.currency
        ORDER BY w.week_start, w.currency
    """  # noqa: S608 - constant fragments; values are bound
    return await _rows(session, sql, scope.params())
