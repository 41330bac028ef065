from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.purchasing.models import Matching, PurchaseOrderStatus
from ledgerline.values import (
    AccountCode,
    Currency,
    Day,
    MoneyOut,
    NonBlankStr,
    Percent,
    PreciseOut,
    Quantity,
    UnitPrice,
    refuse_null,
)


class OrderLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: NonBlankStr = Field(max_length=500)
    quantity: Quantity = Field(gt=0, max_digits=14, decimal_places=4)
    unit_price: UnitPrice = Field(max_digits=14, decimal_places=4)
    tax_code: str | None = Field(
        default=None, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,15}$", description="a tax code"
    )
    account_code: AccountCode | None = Field(
        default=None, description="the expense or asset account (else 6000)"
    )


class PurchaseOrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor_id: UUID
    number: NonBlankStr = Field(max_length=64, description="unique in the tenant")
    currency: Currency | None = Field(default=None, description="else the vendor's")
    ordered_on: Day
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)


class PurchaseOrderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: NonBlankStr | None = Field(default=None, max_length=64)
    ordered_on: Day | None = None
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[OrderLineIn] | None = Field(default=None, min_length=1, max_length=500)

    _no_nulls = field_validator("number", "ordered_on", "lines", mode="before")(refuse_null)


class OrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    position: int
    description: str
    quantity: PreciseOut
    unit_price: PreciseOut
    amount: MoneyOut = Field(description="net: quantity x unit price, to the cent")
    tax_amount: MoneyOut = Field(description="the tax code's tax on the net amount")
    gross_amount: MoneyOut = Field(description="net plus tax")
    tax_code: str | None
    account_code: str | None
    receipt_limit: PreciseOut = Field(description="ordered plus the over-receipt tolerance")
    quantity_received: PreciseOut
    quantity_matched: PreciseOut = Field(description="matched by submitted invoices")
    quantity_accrued: PreciseOut
    quantity_released: PreciseOut


class PurchaseOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    vendor_id: UUID
    number: str
    currency: str
    ordered_on: date
    notes: str | None
    status: PurchaseOrderStatus
    matching: Matching
    total: MoneyOut = Field(description="net: the lines' net amounts")
    tax_total: MoneyOut = Field(description="the lines' tax")
    gross_total: MoneyOut = Field(description="net plus tax")
    approved_at: datetime | None
    lines: list[OrderLineOut] = []
    created_at: datetime
    updated_at: datetime


class Closing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NonBlankStr | None = Field(default=None, max_length=2000)


class ReceiptLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purchase_order_line_id: UUID
    quantity: Quantity = Field(gt=0, max_digits=14, decimal_places=4)


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received_on: Day
    reference: str | None = Field(default=None, max_length=200)
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)


class ReceiptLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    purchase_order_line_id: UUID
    quantity: PreciseOut
    accrued: bool


class ReceiptOut(BaseModel):
    id: UUID
    purchase_order_id: UUID
    received_on: date
    reference: str | None
    entry_id: UUID | None = Field(description="the accrual entry, when the tenant accrues")
    reversed_at: datetime | None
    reversal_entry_id: UUID | None
    created_at: datetime
    lines: list[ReceiptLineOut]


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matching: Matching = Field(description="for orders made from now on")
    price_tolerance_percent: Percent = Field(description="an invoice price above the order's")
    quantity_tolerance: Quantity = Field(
        max_digits=14, decimal_places=4, description="units invoiced past the ordered quantity"
    )
    over_receipt_percent: Percent = Field(description="received past the ordered quantity")
    accrue_on_receipt: bool = Field(description="receipts post Dr expense / Cr 2150")


class SettingsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    matching: Matching
    price_tolerance_percent: MoneyOut
    quantity_tolerance: PreciseOut
    over_receipt_percent: MoneyOut
    accrue_on_receipt: bool


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    reason: str | None
    actor_type: str
    actor_id: UUID | None
    occurred_at: datetime


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: int
    approver_type: str
    approver_id: UUID
    role: str | None
    approved_at: datetime


class MatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice_id: UUID
    purchase_order_line_id: UUID
    quantity: PreciseOut
    unit_price: PreciseOut
    overridden: bool
    accrual_released: PreciseOut
    created_at: datetime
    released_at: datetime | None


class HistoryKind(StrEnum):
    STATUS_CHANGE = "status_change"
    APPROVAL = "approval"
    RECEIPT = "receipt"
    MATCH = "match"


class HistoryItemOut(BaseModel):
    id: UUID
    kind: HistoryKind = Field(description="which of the four fields below is set")
    status_change: StatusChangeOut | None = None
    approval: ApprovalOut | None = None
    receipt: ReceiptOut | None = None
    match: MatchOut | None = Field(default=None, description="an invoice line matched")


class AmountsOut(BaseModel):
    net: MoneyOut
    tax: MoneyOut
    gross: MoneyOut = Field(description="net plus tax")


class CommitmentOut(BaseModel):
    vendor_id: UUID
    currency: str
    ordered: AmountsOut = Field(description="open orders' lines")
    invoiced: AmountsOut = Field(
        description="what submitted invoices matched, at order prices; its tax the lines'"
        " tax in proportion"
    )
    open: AmountsOut = Field(description="ordered less invoiced")


class ReceivedNotInvoicedOut(BaseModel):
    purchase_order_id: UUID
    number: str
    vendor_id: UUID
    currency: str
    purchase_order_line_id: UUID
    description: str
    quantity_received: PreciseOut
    quantity_matched: PreciseOut
    unit_price: PreciseOut
    amount: MoneyOut = Field(description="received less matched, at the order's price")
