"""Financing bodies: money as decimal strings, rates with four decimals."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.financing.models import DayCount, Funding, OfferStatus, SettlementKind
from ledgerline.values import (
    Currency,
    Day,
    Money,
    MoneyOut,
    NonBlankStr,
    PreciseOut,
    Rate,
    refuse_null,
)

AnnualRate = Annotated[Rate, Field(gt=0, description='annual rate, e.g. "0.12" for 12%')]


class ProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr = Field(max_length=200)
    currency: Currency
    apr: AnnualRate
    day_count: DayCount = Field(description="ACT/365: actual days / 365; ACT/360: / 360")
    min_days_early: int = Field(ge=1, le=3650)
    budget: Money
    funding: Funding = Field(
        description="own_cash: the tenant pays early and keeps the discount; funder: the "
        "funder pays early, the tenant repays the open amount at the due date"
    )
    funder_name: NonBlankStr | None = Field(default=None, max_length=200)
    funder_fee_share: Rate | None = Field(
        default=None, description="the share of each discount the funder passes back"
    )


class ProgramUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    apr: AnnualRate | None = None
    min_days_early: int | None = Field(default=None, ge=1, le=3650)
    budget: Money | None = Field(default=None, description="never below `committed`")

    _no_nulls = field_validator("name", "apr", "min_days_early", "budget", mode="before")(
        refuse_null
    )


class ProgramOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    currency: str
    apr: PreciseOut
    day_count: DayCount
    min_days_early: int
    budget: MoneyOut
    committed: MoneyOut = Field(description="held by accepted offers not yet released")
    available: MoneyOut = Field(description="budget - committed")
    funding: Funding
    funder_name: str | None
    funder_fee_share: PreciseOut
    created_at: datetime
    updated_at: datetime


class OpportunityOut(BaseModel):
    invoice_id: UUID
    number: str | None
    vendor_id: UUID | None
    due_date: date | None
    currency: str | None
    open_amount: MoneyOut
    days_early: int
    discount: MoneyOut
    net_amount: MoneyOut


class OpportunitiesPage(BaseModel):
    program_id: UUID
    pay_on: date
    items: list[OpportunityOut]
    next_cursor: str | None


class OfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: UUID
    program_id: UUID
    pay_on: Day


class OfferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    program_id: UUID
    invoice_id: UUID
    invoice_version: int
    vendor_id: UUID
    vendor_email: str
    currency: str
    open_amount: MoneyOut
    discount: MoneyOut
    net_amount: MoneyOut = Field(description="open_amount - discount")
    apr: PreciseOut
    day_count: DayCount
    days_early: int
    pay_on: date
    due_date: date
    status: OfferStatus
    expires_at: datetime
    created_at: datetime
    closed_at: datetime | None


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=300, description="from the offer's mail")


class AcceptedOut(BaseModel):
    """What the vendor sees after accepting (the same on every repetition)."""

    acceptance_id: UUID
    offer_id: UUID
    invoice_id: UUID
    currency: str
    open_amount: MoneyOut
    discount: MoneyOut
    net_amount: MoneyOut
    pay_on: date
    accepted_at: datetime


class AcceptanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    offer_id: UUID
    program_id: UUID
    reserved: MoneyOut = Field(description="the net amount reserved from the budget")
    accepted_at: datetime


class RepayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_on: Day | None = Field(default=None, description="default: the invoice's due date")


class SettlementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    offer_id: UUID
    program_id: UUID
    kind: SettlementKind
    paid_on: date
    amount: MoneyOut
    entry_id: UUID
    created_at: datetime
