"""Asset bodies. Money travels as decimal strings ("1250.00"), never as floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from ledgerline.assets.depreciation import Convention, DepreciationMethod
from ledgerline.assets.models import AssetStatus, DisposalMethod
from ledgerline.values import (
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

    @model_validator(mode="after")
    def _service_after_acquisition(self) -> AssetCreate:
        if self.in_service_date is not None and self.in_service_date < self.acquisition_date:
            raise ValueError("in_service_date precedes acquisition_date")
        return self


class AssetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    serial_number: str | None = Field(default=None, max_length=100)
    in_service_date: Day | None = None

    _no_nulls = field_validator("name", "in_service_date", mode="before")(refuse_null)


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
    net_book_value: MoneyOut
    depreciation_in_period: MoneyOut


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
