"""The dashboard's answers. Each JSON answer carries its table under `rows` (cash: two
tables); the CSV twin of an endpoint has the same rows with the same column names."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ledgerline.values import MoneyOut

Ratio = Annotated[
    Decimal,
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,4})?$", "examples": ["0.7500"]}
    ),
]
Figure = Annotated[
    Decimal,
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,3})?$", "examples": ["12.5"]}
    ),
]


class DashboardModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ScopeOut(DashboardModel):
    """The parameters the figures were computed for."""

    from_day: date | None = Field(serialization_alias="from")
    to_day: date | None = Field(serialization_alias="to")
    currency: str | None
    as_of: date


class SummaryRow(DashboardModel):
    """One currency's figures (`currency` null: drafts that do not name one yet)."""

    currency: str | None
    draft_count: int
    draft_amount: MoneyOut
    submitted_count: int
    submitted_amount: MoneyOut
    approved_count: int
    approved_amount: MoneyOut
    rejected_count: int
    rejected_amount: MoneyOut
    paid_count: int
    paid_amount: MoneyOut
    void_count: int
    void_amount: MoneyOut
    overdue_count: int
    overdue_amount: MoneyOut
    approval_rate: Ratio = Field(description="approved / (approved + rejected); 0 when none")
    median_submit_to_approve_hours: Figure
    payments_count: int
    payments_amount: MoneyOut
    days_payable_outstanding: Figure


class SummaryOut(DashboardModel):
    """Invoice counts and amounts by status, overdue, approvals, payments and DPO."""

    scope: ScopeOut
    rows: list[SummaryRow]


class AgingRow(DashboardModel):
    """A vendor's open amounts by days past due; `vendor_id` null: the currency's total."""

    currency: str
    vendor_id: UUID | None
    vendor_name: str | None
    current: MoneyOut
    days_1_30: MoneyOut
    days_31_60: MoneyOut
    days_61_90: MoneyOut
    days_over_90: MoneyOut
    total: MoneyOut
    invoices: int


class AgingOut(DashboardModel):
    """Payables by days overdue on `as_of`, per vendor and in total, per currency."""

    scope: ScopeOut
    rows: list[AgingRow]


class VendorRow(DashboardModel):
    """A vendor's totals in one currency and its risk score (0-100, README)."""

    vendor_id: UUID
    vendor_name: str
    currency: str
    invoices: int
    total_amount: MoneyOut
    open_amount: MoneyOut
    overdue_amount: MoneyOut
    rejected: int
    duplicates_flagged: int
    missing_fields: int
    overdue_ratio: Ratio
    rejection_rate: Ratio
    duplicate_rate: Ratio
    missing_data: Ratio
    risk_score: Figure


class VendorsOut(DashboardModel):
    """Totals per vendor and currency, riskiest first."""

    scope: ScopeOut
    rows: list[VendorRow]


class ProcessingRow(DashboardModel):
    """Documents uploaded in the window and how long their reading took."""

    window_start: datetime
    window_end: datetime
    received: int
    finished: int
    needs_review: int
    failed: int
    pending: int
    documents_per_hour: Figure
    latency_p50_seconds: Figure
    latency_p90_seconds: Figure
    latency_p99_seconds: Figure


class ProcessingOut(DashboardModel):
    """Document throughput and extraction latency over a window of days."""

    scope: ScopeOut
    rows: list[ProcessingRow]


class AssetsRow(DashboardModel):
    """One category's assets in one currency, held on `as_of`."""

    category_id: UUID
    category: str
    currency: str
    assets: int
    cost: MoneyOut
    accumulated_depreciation: MoneyOut
    accumulated_impairment: MoneyOut
    net_book_value: MoneyOut
    depreciation_this_month: MoneyOut
    depreciation_this_year: MoneyOut


class AssetsOut(DashboardModel):
    """Cost, accumulated depreciation and net book value by category."""

    scope: ScopeOut
    rows: list[AssetsRow]


class CashAccountRow(DashboardModel):
    """An asset account's balance in one currency at the end of `as_of`."""

    account_id: UUID
    code: str
    name: str
    currency: str
    balance: MoneyOut


class CashWeekRow(DashboardModel):
    """What leaves in one week (its Monday) and currency."""

    week_start: date
    currency: str
    scheduled_payments: MoneyOut
    financing_settlements: MoneyOut


class CashOut(DashboardModel):
    """Asset-account balances, and scheduled payments and financing settlements by week."""

    scope: ScopeOut
    accounts: list[CashAccountRow]
    weeks: list[CashWeekRow]


class CashCsvLine(BaseModel):
    """A row of the cash CSV: `section` says which of the two tables it belongs to."""

    section: str
    account_id: UUID | None = None
    code: str | None = None
    name: str | None = None
    currency: str | None = None
    balance: Decimal | None = None
    week_start: date | None = None
    scheduled_payments: Decimal | None = None
    financing_settlements: Decimal | None = None


CASH_CSV_COLUMNS = list(CashCsvLine.model_fields)
