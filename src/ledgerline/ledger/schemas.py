"""Ledger bodies: money as decimal strings, months as `YYYY-MM`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.ledger.models import AccountType, PeriodStatus
from ledgerline.values import AccountCode, Currency, Day, Money, NonBlankStr, refuse_null

MONTH_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, Field(pattern=MONTH_PATTERN, examples=["2026-03"])]


def month_text(month: date) -> str:
    return month.strftime("%Y-%m")


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AccountCode
    name: NonBlankStr = Field(max_length=200)
    type: AccountType
    currency: Currency | None = Field(default=None, description="null: any currency")
    overdraft_limit: Money | None = Field(
        default=None,
        description='asset accounts only; null: unlimited, "0.00": never below zero',
    )


class AccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    active: bool | None = None

    _no_nulls = field_validator("name", "active", mode="before")(refuse_null)


class BalanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    currency: str
    debit_total: Decimal
    credit_total: Decimal
    balance: Decimal = Field(description="debits minus credits")


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    code: str
    name: str
    type: str
    currency: str | None
    overdraft_limit: Decimal | None
    active: bool
    created_at: datetime
    updated_at: datetime
    balances: list[BalanceOut] = []


class EntryLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: UUID
    debit: Money = Decimal("0.00")
    credit: Money = Decimal("0.00")
    currency: Currency
    vendor_id: UUID | None = Field(default=None, description="the party, if a vendor")


class EntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: Day = Field(description="the business date; a closed month posts to the next open one")
    memo: str | None = Field(default=None, max_length=2000)
    lines: list[EntryLineIn] = Field(min_length=2, max_length=200)


class EntryLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    account_id: UUID
    debit: Decimal
    credit: Decimal
    currency: str
    vendor_id: UUID | None


class EntryOut(BaseModel):
    id: UUID
    posted_on: date
    occurred_on: date = Field(description="the business date (posted_on moves past closed months)")
    period: Month
    source_type: str
    source_id: UUID
    kind: str
    memo: str | None
    created_by_type: str
    created_by: UUID | None
    reverses: UUID | None
    created_at: datetime
    lines: list[EntryLineOut] = []


class PeriodOut(BaseModel):
    period: Month
    status: PeriodStatus
    changed_by: UUID | None
    changed_at: datetime | None


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_account_id: UUID
    to_account_id: UUID
    amount: Money = Field(gt=0)
    currency: Currency
    on: Day
    memo: str | None = Field(default=None, max_length=2000)


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    from_account_id: UUID
    to_account_id: UUID
    amount: Decimal
    currency: str
    on: date = Field(validation_alias="transfer_on")
    memo: str | None
    entry_id: UUID
    created_by: UUID | None
    created_at: datetime


class TrialBalanceRow(BaseModel):
    account_id: UUID
    code: str
    name: str
    type: str
    currency: str
    debit: Decimal
    credit: Decimal
    balance: Decimal = Field(description="debit minus credit")


class CurrencyTotals(BaseModel):
    currency: str
    debit: Decimal
    credit: Decimal


class TrialBalanceOut(BaseModel):
    as_of: date | None
    accounts: list[TrialBalanceRow]
    totals: list[CurrencyTotals] = Field(description="per currency: debits equal credits")


class AccountLineOut(BaseModel):
    id: UUID
    entry_id: UUID
    seq: int = Field(description="the line's place in the account's lines in its currency")
    posted_on: date
    debit: Decimal
    credit: Decimal
    currency: str
    balance: Decimal = Field(description="the account's balance after this line")
    vendor_id: UUID | None
    memo: str | None
    source_type: str
    kind: str


class AccountLinesPage(BaseModel):
    currency: str
    items: list[AccountLineOut]
    next_cursor: str | None


class PayableRow(BaseModel):
    vendor_id: UUID | None
    vendor_name: str | None
    currency: str
    open_amount: Decimal


class PayableTotal(BaseModel):
    currency: str
    open_amount: Decimal


class PayablesOut(BaseModel):
    as_of: date | None
    vendors: list[PayableRow]
    totals: list[PayableTotal]
