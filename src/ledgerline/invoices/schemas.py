from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.audit.models import ActorType
from ledgerline.invoices.models import InvoiceStatus, ProcessingStatus
from ledgerline.values import (
    AccountCode,
    Currency,
    Day,
    Money,
    MoneyOut,
    NonBlankStr,
    PreciseOut,
    Quantity,
    Rate,
    SignedMoney,
    UnitPrice,
    refuse_null,
)


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: NonBlankStr = Field(max_length=500)
    # At most 10 integer digits each: a line's product stays exact in Decimal and fits
    # the NUMERIC(18, 2) columns.
    quantity: Quantity = Field(gt=0, max_digits=14, decimal_places=4)
    unit_price: UnitPrice = Field(max_digits=14, decimal_places=4)
    tax_rate: Rate = Decimal("0")
    account_code: AccountCode | None = Field(
        default=None, description="the ledger account of its net amount (else the vendor's)"
    )


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor_id: UUID
    number: NonBlankStr = Field(max_length=64)
    issue_date: Day
    due_date: Day | None = None
    currency: Currency | None = None
    po_number: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    total: SignedMoney | None = Field(default=None, description="checked against the lines")


class InvoiceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor_id: UUID | None = None
    number: NonBlankStr | None = Field(default=None, max_length=64)
    currency: Currency | None = None
    issue_date: Day | None = None
    due_date: Day | None = None
    po_number: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=5000)
    lines: list[LineIn] | None = Field(default=None, min_length=1, max_length=500)
    total: SignedMoney | None = None

    _no_nulls = field_validator(
        "vendor_id", "number", "currency", "issue_date", "due_date", "lines", mode="before"
    )(refuse_null)


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    description: str
    quantity: PreciseOut
    unit_price: PreciseOut
    tax_rate: PreciseOut
    line_subtotal: MoneyOut
    line_tax: MoneyOut
    account_code: str | None


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    vendor_id: UUID | None
    number: str | None
    issue_date: date | None
    due_date: date | None
    currency: str | None
    source: Literal["api", "upload", "import"]
    po_number: str | None
    notes: str | None
    subtotal: MoneyOut
    tax_total: MoneyOut
    total: MoneyOut
    amount_paid: MoneyOut
    status: InvoiceStatus
    rejection_reason: str | None
    lines: list[LineOut] = []
    created_at: datetime
    updated_at: datetime


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NonBlankStr = Field(max_length=2000)


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total_override_reason: NonBlankStr | None = Field(
        default=None,
        max_length=2000,
        description="why the lines stand although the document's total differs (audited)",
    )


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no currency: a payment is in the invoice's

    paid_on: Day
    amount: Money = Field(gt=0)
    reference: str | None = Field(default=None, max_length=200)
    paying_account_id: UUID | None = Field(
        default=None, description="an asset account of the ledger; 1000 (Bank) when omitted"
    )


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: InvoiceStatus | None
    to_status: InvoiceStatus
    reason: str | None
    actor_type: ActorType
    actor_id: UUID | None
    occurred_at: datetime


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    invoice_id: UUID
    batch_id: UUID | None
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    processing_status: ProcessingStatus
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    failure_reason: str | None
    extracted_fields: dict[str, str] = Field(description="what was read from the document")
    created_at: datetime


class UploadedFile(BaseModel):
    filename: str
    outcome: Literal["created", "duplicate"] = Field(
        description="created, or duplicate of a file uploaded before"
    )
    invoice_id: UUID
    document_id: UUID
    sha256: str
    processing_status: ProcessingStatus


class UploadOut(BaseModel):
    files: list[UploadedFile]


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr = Field(max_length=200)


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    created_by: UUID | None
    created_at: datetime
    counts: dict[str, dict[str, int]] | None = Field(
        default=None, description="documents per processing status, invoices per status"
    )


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    invoice_id: UUID
    vendor_id: UUID
    amount: Decimal
    currency: str
    paid_on: date
    reference: str | None
    paying_account_id: UUID | None = Field(description="null: recorded before the ledger")
    entry_id: UUID | None = Field(description="the journal entry that posted it")
    reversed_at: datetime | None
    reversal_entry_id: UUID | None
    created_at: datetime


class PaymentEntryLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: UUID
    debit: Decimal
    credit: Decimal
    currency: str


class PaymentEntry(BaseModel):
    id: UUID
    posted_on: date
    occurred_on: date
    lines: list[PaymentEntryLine]


class PaymentDetailOut(PaymentOut):
    journal_entry: PaymentEntry | None
