"""Asset bodies. Money travels as decimal strings ("1250.00"), never as floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from ledgerline.assets.depreciation import Convention, DepreciationMethod
from ledgerline.assets.models import AdjustmentKind, AssetStatus, DisposalMethod
from ledgerline.ledger.schemas import Month
from ledgerline.values import (
    AccountCode,
    Currency,
    Day,
    Money,
    MoneyOut,
    NonBlankStr,
    Percent,
    PreciseOut,
    Quantity,
    Rate,
    refuse_null,
)

# An asset's amounts: at most 14 digits before the decimal point.
ASSET_MONEY_DIGITS = 16


class CategoryCreate(BaseModel):
    name: NonBlankStr = Field(max_length=100)
    depreciation_method: DepreciationMethod
    useful_life_months: int = Field(ge=1, le=1200)
    salvage_percent: Percent = Decimal("0")
    convention: Convention = Convention.FULL_MONTH
    declining_rate: Rate | None = Field(default=None, gt=0)
    asset_account_code: AccountCode | None = Field(
        default=None, description="an asset account for the cost; default 1500"
    )
    accumulated_depreciation_account_code: AccountCode | None = Field(
        default=None, description="an asset (contra) account for the depreciation; default 1590"
    )
    depreciation_expense_account_code: AccountCode | None = Field(
        default=None, description="an expense account for the charge; default 6800"
    )

    @model_validator(mode="after")
    def _rate_for_declining_balance(self) -> CategoryCreate:
        if (self.depreciation_method == DepreciationMethod.DECLINING_BALANCE) != (
            self.declining_rate is not None
        ):
            raise ValueError("declining_rate goes with declining_balance, and only with it")
        return self


class CategoryOut(CategoryCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    is_active: bool


class CategoryUpdate(BaseModel):
    """New defaults for assets created from now on; `is_active: true` reactivates."""

    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=100)
    depreciation_method: DepreciationMethod | None = None
    useful_life_months: int | None = Field(default=None, ge=1, le=1200)
    salvage_percent: Percent | None = None
    convention: Convention | None = None
    declining_rate: Rate | None = Field(default=None, gt=0)
    is_active: bool | None = None
    asset_account_code: AccountCode | None = None
    accumulated_depreciation_account_code: AccountCode | None = None
    depreciation_expense_account_code: AccountCode | None = None

    _no_nulls = field_validator(
        "name",
        "depreciation_method",
        "useful_life_months",
        "salvage_percent",
        "convention",
        "is_active",
        mode="before",
    )(refuse_null)


class LocationCreate(BaseModel):
    name: NonBlankStr = Field(max_length=100)
    kind: Literal["site", "building", "room"]
    parent_id: UUID | None = None


class LocationOut(LocationCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    is_active: bool


class LocationUpdate(BaseModel):
    """A new name or parent (of the kind the location needs); `is_active: true`
    reactivates. A location's kind does not change."""

    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=100)
    parent_id: UUID | None = None
    is_active: bool | None = None

    _no_nulls = field_validator("name", "parent_id", "is_active", mode="before")(refuse_null)


class CustodianCreate(BaseModel):
    name: NonBlankStr = Field(max_length=200)
    email: EmailStr | None = None
    user_id: UUID | None = None

    @model_validator(mode="after")
    def _reachable(self) -> CustodianCreate:
        if self.email is None and self.user_id is None:
            raise ValueError("a custodian is a user of the tenant or a person with an email")
        return self


class CustodianOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    email: str | None
    user_id: UUID | None
    is_active: bool


class CustodianUpdate(BaseModel):
    """`email` or `user_id` may be set to null while the other one stays."""

    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    user_id: UUID | None = None
    is_active: bool | None = None

    _no_nulls = field_validator("name", "is_active", mode="before")(refuse_null)


class AssetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: NonBlankStr | None = Field(default=None, max_length=40)
    name: NonBlankStr = Field(max_length=200)
    serial_number: str | None = Field(default=None, max_length=100)
    category_id: UUID
    location_id: UUID | None = None
    custodian_id: UUID | None = None
    acquisition_date: Day
    in_service_date: Day | None = None
    cost: Money = Field(max_digits=ASSET_MONEY_DIGITS, decimal_places=2)
    currency: Currency
    salvage_value: Money | None = Field(
        default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2
    )
    useful_life_months: int | None = Field(default=None, ge=1, le=1200)
    depreciation_method: DepreciationMethod | None = None
    convention: Convention | None = None
    declining_rate: Rate | None = Field(default=None, gt=0)
    total_units: Quantity | None = Field(default=None, gt=0)
    purchase_invoice_id: UUID | None = Field(
        default=None, description="the purchase invoice the asset was bought on"
    )
    purchase_invoice_line: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="the position of the line on that invoice; its net amount is the cost",
    )

    @model_validator(mode="after")
    def _service_after_acquisition(self) -> AssetCreate:
        if self.in_service_date is not None and self.in_service_date < self.acquisition_date:
            raise ValueError("in_service_date precedes acquisition_date")
        if (self.purchase_invoice_id is None) != (self.purchase_invoice_line is None):
            raise ValueError("purchase_invoice_id and purchase_invoice_line go together")
        return self


class AssetUpdate(BaseModel):
    """What the depreciation depends on (in-service date, cost, salvage, life, method,
    convention) changes here only until a month of it is posted: then 409
    `asset_history_posted`, and an adjustment does it."""

    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    serial_number: str | None = Field(default=None, max_length=100)
    in_service_date: Day | None = None
    cost: Money | None = Field(default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2)
    salvage_value: Money | None = Field(
        default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2
    )
    useful_life_months: int | None = Field(default=None, ge=1, le=1200)
    depreciation_method: DepreciationMethod | None = None
    convention: Convention | None = None

    _no_nulls = field_validator(
        "name",
        "in_service_date",
        "cost",
        "salvage_value",
        "useful_life_months",
        "depreciation_method",
        "convention",
        mode="before",
    )(refuse_null)


class AssetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    tag: str
    name: str
    serial_number: str | None
    category_id: UUID
    location_id: UUID | None
    custodian_id: UUID | None
    acquisition_date: date
    in_service_date: date | None
    cost: MoneyOut
    currency: str
    salvage_value: MoneyOut
    useful_life_months: int
    depreciation_method: DepreciationMethod
    convention: Convention
    declining_rate: PreciseOut | None
    total_units: PreciseOut | None
    status: AssetStatus
    disposed_on: date | None
    disposal_method: DisposalMethod | None
    disposal_proceeds: MoneyOut | None
    book_value_at_disposal: MoneyOut | None
    disposal_gain: MoneyOut | None
    disposal_entry_id: UUID | None
    accumulated_impairment: MoneyOut
    revaluation_surplus: MoneyOut
    purchase_invoice_id: UUID | None
    purchase_invoice_line: int | None
    acquisition_entry_id: UUID | None
    created_at: datetime
    updated_at: datetime


class Transfer(BaseModel):
    location_id: UUID | None = None
    custodian_id: UUID | None = None
    on: Day
    note: str | None = Field(default=None, max_length=1000)


class MaintenanceCreate(BaseModel):
    started_on: Day
    ended_on: Day | None = None
    cost: Money = Field(default=Decimal("0"), max_digits=ASSET_MONEY_DIGITS, decimal_places=2)
    vendor: NonBlankStr | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _ends_after_start(self) -> MaintenanceCreate:
        if self.ended_on is not None and self.ended_on < self.started_on:
            raise ValueError("ended_on precedes started_on")
        return self


class MaintenanceClose(BaseModel):
    ended_on: Day


class MaintenanceOut(MaintenanceCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID


class Usage(BaseModel):
    period: Day = Field(description="any day of the month the units were produced in")
    units: Quantity


class Disposal(BaseModel):
    on: Day
    method: DisposalMethod
    proceeds: Money = Field(default=Decimal("0"), max_digits=ASSET_MONEY_DIGITS, decimal_places=2)
    proceeds_account_code: AccountCode | None = Field(
        default=None, description="the account debited with the proceeds; default 1000"
    )


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: str
    occurred_on: date
    details: str | None
    from_location_id: UUID | None
    to_location_id: UUID | None
    from_custodian_id: UUID | None
    to_custodian_id: UUID | None


class ScheduleRowOut(BaseModel):
    period: date
    opening_value: MoneyOut
    depreciation: MoneyOut
    accumulated: MoneyOut
    closing_value: MoneyOut


class BookValue(BaseModel):
    as_of: date
    book_value: MoneyOut
    currency: str


class RegisterAmounts(BaseModel):
    cost: MoneyOut
    accumulated_depreciation: MoneyOut
    accumulated_impairment: MoneyOut
    net_book_value: MoneyOut
    depreciation_in_period: MoneyOut
    disposal_gain: MoneyOut | None = Field(
        description="gain (loss negative) on disposals within the period; per asset only"
        " for those disposed in it"
    )


class RegisterAsset(RegisterAmounts):
    asset_id: UUID
    tag: str
    name: str
    category_id: UUID
    category: str
    status: AssetStatus
    held: bool = Field(description="false: disposed within the period (no cost or value)")
    currency: str


class RegisterCategory(RegisterAmounts):
    category_id: UUID
    category: str
    currency: str
    assets: int


class AssetRegister(BaseModel):
    """The register as of a day: each asset, each category, totals per currency."""

    as_of: date
    period_start: date
    assets: list[RegisterAsset]
    categories: list[RegisterCategory]
    totals: dict[str, RegisterAmounts] = Field(description="per currency")


class DepreciationRunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: Month = Field(description="post every month up to and including this one")


class DepreciationScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto: bool = Field(
        description="true: the worker posts each month's depreciation once the month is over"
    )


class DepreciationScheduleOut(BaseModel):
    auto: bool
    last_period: Month | None = Field(description="the last month the worker posted")


class DepreciationRunOut(BaseModel):
    id: UUID
    period: str = Field(examples=["2026-03"])
    asset_count: int = Field(description="assets with at least one month posted by the run")
    month_count: int = Field(description="entries posted: one per asset and month")
    totals: dict[str, MoneyOut] = Field(description="depreciation posted, per currency")
    created_at: datetime


class Capitalization(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_account_code: AccountCode | None = Field(
        default=None, description="the account credited with the cost; default 9999"
    )


class PostedEntry(BaseModel):
    """The journal entry a step posted."""

    entry_id: UUID
    posted_on: date
    occurred_on: date


_ADJUSTMENT_FIELD = {
    AdjustmentKind.USEFUL_LIFE: "useful_life_months",
    AdjustmentKind.SALVAGE: "salvage_value",
    AdjustmentKind.IMPAIRMENT: "recoverable_amount",
    AdjustmentKind.REVALUATION: "fair_value",
    AdjustmentKind.COST: "amount",
}


class AdjustmentCreate(BaseModel):
    """A mid-life change: `kind` with its one field (`useful_life_months` for
    useful_life, the new total life; `salvage_value` for salvage; `recoverable_amount`
    for impairment; `fair_value` for revaluation; `amount` for cost)."""

    model_config = ConfigDict(extra="forbid")

    kind: AdjustmentKind
    on: Day
    useful_life_months: int | None = Field(default=None, ge=1, le=1200)
    salvage_value: Money | None = Field(
        default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2
    )
    recoverable_amount: Money | None = Field(
        default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2
    )
    fair_value: Money | None = Field(default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2)
    amount: Money | None = Field(
        default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2, gt=0
    )
    credit_account_code: AccountCode | None = Field(
        default=None, description="cost only: the account credited; default 9999"
    )

    @model_validator(mode="after")
    def _the_kinds_field(self) -> AdjustmentCreate:
        wanted = _ADJUSTMENT_FIELD[self.kind]
        given = {field for field in _ADJUSTMENT_FIELD.values() if getattr(self, field) is not None}
        if given != {wanted}:
            raise ValueError(f"kind {self.kind} takes {wanted}, and no other amount")
        if self.credit_account_code is not None and self.kind is not AdjustmentKind.COST:
            raise ValueError("credit_account_code goes with kind cost only")
        return self


class AdjustmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    asset_id: UUID
    kind: AdjustmentKind
    occurred_on: date
    effective_from: date = Field(description="the first month the new schedule applies to")
    useful_life_months: int | None
    salvage_value: MoneyOut | None
    recoverable_amount: MoneyOut | None
    fair_value: MoneyOut | None
    amount: MoneyOut | None
    carrying_before: MoneyOut
    carrying_after: MoneyOut
    cost_change: MoneyOut
    impairment_change: MoneyOut
    entry_id: UUID | None


class RollForwardBlock(BaseModel):
    opening: MoneyOut
    additions: MoneyOut
    adjustments: MoneyOut = Field(description="signed: revaluations, impairments, reversals")
    disposals: MoneyOut
    closing: MoneyOut


class RollForwardGroup(BaseModel):
    cost: RollForwardBlock
    accumulated_depreciation: RollForwardBlock
    accumulated_impairment: RollForwardBlock
    opening_net_book_value: MoneyOut
    closing_net_book_value: MoneyOut


class RollForwardCategory(RollForwardGroup):
    category_id: UUID
    category: str
    currency: str
    assets: int


class RollForward(BaseModel):
    """Per category and currency, and in total per currency: opening + additions ±
    adjustments - disposals = closing, for cost, accumulated depreciation (its
    additions are the period's depreciation) and accumulated impairment."""

    from_date: date = Field(description="the first day of the first month")
    to_date: date = Field(description="the last day of the last month")
    categories: list[RollForwardCategory]
    totals: dict[str, RollForwardGroup] = Field(description="per currency")
