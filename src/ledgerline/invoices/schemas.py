from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.audit.models import ActorType
from ledgerline.invoices.models import (
    InvoiceKind,
    InvoiceStatus,
    ProcessingStatus,
    TaxKind,
    TaxRounding,
)
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

TaxCodeName = Annotated[
    str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,15}$", description="a tax code")
]


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: NonBlankStr = Field(max_length=500)
    # At most 10 integer digits each: a line's product stays exact in Decimal and fits
    # the NUMERIC(18, 2) columns.
    quantity: Quantity = Field(gt=0, max_digits=14, decimal_places=4)
    unit_price: UnitPrice = Field(max_digits=14, decimal_places=4)
    tax_rate: Rate | None = Field(
        default=None, description="a bare rate (0 when neither it nor tax_code is given)"
    )
    tax_code: TaxCodeName | None = Field(default=None, description="one of /tax-codes")
    account_code: AccountCode | None = Field(
        default=None, description="the ledger account of its net amount (else the vendor's)"
    )
    purchase_order_line_id: UUID | None = Field(
        default=None,
        description="a purchase order line of the invoice's vendor, matched at submit",
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
    kind: InvoiceKind = Field(
        default=InvoiceKind.INVOICE,
        description="credit_note: positive amounts that post with the opposite sign",
    )
    original_invoice_id: UUID | None = Field(
        default=None, description="a credit note's original invoice (same vendor)"
    )
    tax_rounding: TaxRounding = Field(
        default=TaxRounding.PER_LINE,
        description="per_line, or per_rate (EN 16931: tax on the sum of the lines per rate)",
    )


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
    tax_rounding: TaxRounding | None = None

    _no_nulls = field_validator(
        "vendor_id",
        "number",
        "currency",
        "issue_date",
        "due_date",
        "lines",
        "tax_rounding",
        mode="before",
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
    tax_code: str | None
    purchase_order_line_id: UUID | None = None


class MatchDifferenceOut(BaseModel):
    """An invoice line outside its purchase order line's tolerance."""

    position: str = Field(description="the invoice line's place, from 0")
    purchase_order_line_id: UUID
    kind: Literal["price", "quantity_over_ordered", "quantity_over_received"]
    invoiced: PreciseOut
    expected: PreciseOut = Field(description="the order's price, or what is left to match")
    difference: PreciseOut


class TaxSummaryOut(BaseModel):
    """Tax per code, rate and component (a split tax has one row per part)."""

    tax_code: str | None = Field(description="null for a bare tax_rate")
    component: str | None = Field(description="CGST, SGST, IGST, ...; null for a bare rate")
    rate: PreciseOut
    taxable_amount: MoneyOut
    tax_amount: MoneyOut
    recoverable_amount: MoneyOut = Field(description="the input tax that may be reclaimed")
    reverse_charge: bool = Field(description="the buyer owes it: not in the invoice's total")
    input_account_code: str
    output_account_code: str | None


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
    kind: InvoiceKind
    original_invoice_id: UUID | None
    tax_rounding: TaxRounding
    tax_summary: list[TaxSummaryOut]
    possible_duplicate_of: list[UUID] = Field(
        description="invoices of the same vendor and total issued within 7 days under"
        " another number (the oldest 10 at most); approving needs duplicate_override_reason"
    )
    match_differences: list[MatchDifferenceOut] = Field(
        default=[],
        description="per line outside its purchase order's tolerance at the last submit",
    )
    lines: list[LineOut] = []
    created_at: datetime
    updated_at: datetime


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NonBlankStr = Field(max_length=2000)


class MatchOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: NonBlankStr = Field(max_length=2000, description="why the differences stand")


class MatchResolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credit_note_id: UUID = Field(
        description="an approved credit note of the invoice's vendor that credits it"
    )


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


class TaxComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr = Field(max_length=32, description="CGST, SGST, IGST, ...")
    rate: Rate
    applies_to: Literal["always", "intra_state", "inter_state"] = "always"
    input_account_code: AccountCode | None = Field(
        default=None, description="where its input tax posts (else the code's)"
    )


class TaxCodeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: TaxCodeName
    name: NonBlankStr = Field(max_length=200)
    kind: TaxKind
    rate: Rate
    recoverable: Rate = Field(
        default=Decimal("1"), description="the share of input tax that may be reclaimed"
    )
    components: list[TaxComponentIn] = Field(default=[], max_length=8)
    input_account_code: AccountCode | None = Field(default=None, description="else 1400")
    output_account_code: AccountCode | None = Field(
        default=None, description="reverse charge: where the output tax is owed"
    )
    home_state_code: str | None = Field(
        default=None, pattern=r"^[0-9]{2}$", description="GST: the tenant's state"
    )


class TaxCodeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    active: bool | None = None

    _no_nulls = field_validator("name", "active", mode="before")(refuse_null)


class TaxComponentOut(BaseModel):
    name: str
    rate: PreciseOut
    applies_to: str
    input_account_code: str | None = None


class TaxCodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    code: str
    name: str
    kind: TaxKind
    rate: PreciseOut
    recoverable: PreciseOut
    components: list[TaxComponentOut]
    input_account_code: str
    output_account_code: str | None
    home_state_code: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_amount: Money = Field(description="from this total up, in the invoice's currency")
    approvals: int = Field(ge=1, le=5, description="distinct approvals required")
    roles: list[Literal["TENANT_OWNER", "ADMIN"]] = Field(
        default=[], max_length=2, description="who may give them (empty: anyone who approves)"
    )


class ApprovalPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segregation_of_duties: bool = Field(
        default=False, description="whoever created or submitted an invoice cannot approve it"
    )
    approver_cannot_pay: bool = Field(
        default=False, description="whoever approved an invoice cannot record its payment"
    )
    thresholds: list[ThresholdIn] = Field(min_length=1, max_length=10)


class ThresholdOut(BaseModel):
    min_amount: MoneyOut
    approvals: int
    roles: list[str]


class ApprovalPolicyOut(BaseModel):
    segregation_of_duties: bool
    approver_cannot_pay: bool
    thresholds: list[ThresholdOut]


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicate_override_reason: NonBlankStr | None = Field(
        default=None,
        max_length=2000,
        description="why a possible duplicate is approved all the same (audited)",
    )


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    submission: int
    step: int
    approver_type: ActorType
    approver_id: UUID
    role: str | None
    duplicate_override_reason: str | None
    approved_at: datetime


class AllocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_id: UUID
    amount: Money = Field(gt=0)


class CreditNoteApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allocations: list[AllocationIn] = Field(min_length=1, max_length=100)


class AllocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    credit_note_id: UUID
    invoice_id: UUID
    amount: MoneyOut
    created_at: datetime


class CreditNoteApplied(BaseModel):
    credit_note_id: UUID
    applied: MoneyOut = Field(description="of the credit note, all allocations so far")
    remaining: MoneyOut
    status: InvoiceStatus
    allocations: list[AllocationOut] = Field(description="made by this request")
