"""Money travels as decimal strings ("1250.00"), never as floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ledgerline.assets.depreciation import Convention, DepreciationMethod
from ledgerline.assets.models import AssetStatus, DisposalMethod

MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]


class CategoryCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    depreciation_method: DepreciationMethod
    useful_life_months: int = Field(ge=1, le=1200)
    salvage_percent: Decimal = Field(default=Decimal("0"), ge=0, le=100, decimal_places=2)
    convention: Convention = Convention.FULL_MONTH
    declining_rate: Decimal | None = Field(default=None, gt=0, le=1, decimal_places=4)


class CategoryOut(CategoryCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID


class LocationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["site", "building", "room"]
    parent_id: UUID | None = None


class LocationOut(LocationCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID


class CustodianCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    user_id: UUID | None = None


class CustodianOut(CustodianCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID


class AssetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str | None = Field(default=None, min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    serial_number: str | None = Field(default=None, max_length=100)
    category_id: UUID
    location_id: UUID | None = None
    custodian_id: UUID | None = None
    acquisition_date: date
    in_service_date: date | None = None
    cost: MoneyIn
    currency: Currency
    salvage_value: MoneyIn | None = None
    useful_life_months: int | None = Field(default=None, ge=1, le=1200)
    depreciation_method: DepreciationMethod | None = None
    convention: Convention | None = None
    declining_rate: Decimal | None = Field(default=None, gt=0, le=1, decimal_places=4)
    total_units: Decimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=4)


class AssetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    serial_number: str | None = Field(default=None, max_length=100)
    in_service_date: date | None = None


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
    cost: Decimal
    currency: str
    salvage_value: Decimal
    useful_life_months: int
    depreciation_method: str
    convention: str
    declining_rate: Decimal | None
    total_units: Decimal | None
    status: AssetStatus
    disposed_on: date | None
    disposal_method: str | None
    disposal_proceeds: Decimal | None
    book_value_at_disposal: Decimal | None
    disposal_gain: Decimal | None
    created_at: datetime
    updated_at: datetime


class Transfer(BaseModel):
    location_id: UUID | None = None
    custodian_id: UUID | None = None
    on: date
    note: str | None = Field(default=None, max_length=1000)


class MaintenanceCreate(BaseModel):
    started_on: date
    ended_on: date | None = None
    cost: MoneyIn = Decimal("0")
    vendor: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class MaintenanceClose(BaseModel):
    ended_on: date


class MaintenanceOut(MaintenanceCreate):
    model_config = ConfigDict(from_attributes=True)

    id: UUID


class Usage(BaseModel):
    period: date = Field(description="any day of the month the units were produced in")
    units: Decimal = Field(ge=0, max_digits=18, decimal_places=4)


class Disposal(BaseModel):
    on: date
    method: DisposalMethod
    proceeds: MoneyIn = Decimal("0")


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
    opening_value: Decimal
    depreciation: Decimal
    accumulated: Decimal
    closing_value: Decimal


class BookValue(BaseModel):
    as_of: date
    book_value: Decimal
    currency: str
