"""Suppliers (vendors) of a tenant and the invoices they send."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, child_of
from ledgerline.values import fold_invoice_number

Money = Numeric(18, 2)


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    MATCH_EXCEPTION = "match_exception"  # lines outside the purchase orders' tolerances
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    VOID = "void"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class TaxRounding(StrEnum):
    PER_LINE = "per_line"  # each line's tax rounded, the invoice's tax their sum
    PER_RATE = "per_rate"  # EN 16931: tax computed on the sum of the lines per rate


class Invoice(Versioned, TenantScoped, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        # A vendor's invoice number, compared in its normalised form, names one invoice
        # that is not void.
        Index(
            None,
            "tenant_id",
            "vendor_id",
            "number_key",
            unique=True,
            postgresql_where=text("status <> 'void'"),
        ),
        # The target of credit-note allocations: an allocation names invoice and vendor.
        UniqueConstraint("tenant_id", "id", "vendor_id"),
        ForeignKeyConstraint(
            ["tenant_id", "original_invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind_allowed"),
        CheckConstraint(
            "original_invoice_id IS NULL OR kind = 'credit_note'", name="original_of_credit_note"
        ),
        CheckConstraint("tax_rounding IN ('per_line', 'per_rate')", name="tax_rounding_allowed"),
        ForeignKeyConstraint(
            ["tenant_id", "vendor_id"], ["vendors.tenant_id", "vendors.id"], ondelete="RESTRICT"
        ),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'match_exception', 'approved', 'rejected',"
            " 'paid', 'void')",
            name="status_allowed",
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= total", name="paid_within_total"),
        # A draft made from an uploaded document may lack what its document did not show.
        CheckConstraint(
            "status = 'draft' OR (vendor_id IS NOT NULL AND number IS NOT NULL"
            " AND issue_date IS NOT NULL AND due_date IS NOT NULL AND currency IS NOT NULL)",
            name="complete_unless_draft",
        ),
        CheckConstraint("source IN ('api', 'upload', 'import')", name="source_allowed"),
        Index(None, "tenant_id", "status"),
        # A vendor's invoices, and among them an invoice's likely twins: issued within
        # days (invoices/duplicates.py; migration 0025).
        Index(None, "tenant_id", "vendor_id", "issue_date"),
        # The dashboard's aggregates read only these columns (migration 0020).
        Index(
            None,
            "tenant_id",
            "status",
            "currency",
            postgresql_include=[
                "kind",
                "issue_date",
                "due_date",
                "total",
                "amount_paid",
                "vendor_id",
                "id",
            ],
        ),
        # The dashboard's summary: counts and amounts per currency and status, a range of
        # issue dates within each (migration 0024).
        Index(
            None,
            "tenant_id",
            "currency",
            "status",
            "issue_date",
            postgresql_include=["due_date", "total", "amount_paid"],
            postgresql_where=text("kind = 'invoice'"),
        ),
        # The dashboard's median submit-to-approve time, over the approvals (migration 0024).
        Index(
            None,
            "tenant_id",
            "currency",
            "issue_date",
            postgresql_include=["submitted_at", "approved_at"],
            postgresql_where=text(
                "kind = 'invoice' AND approved_at IS NOT NULL AND submitted_at IS NOT NULL"
            ),
        ),
        # The dashboard's aging and payables: the approved invoices only (migration 0024).
        Index(
            None,
            "tenant_id",
            "currency",
            "vendor_id",
            postgresql_include=["due_date", "total", "amount_paid", "issue_date"],
            postgresql_where=text("status = 'approved' AND kind = 'invoice'"),
        ),
        # One per sort of the list: keyset pages walk (sort key, id).
        Index(None, "tenant_id", "due_date", "id"),
        Index(None, "tenant_id", "issue_date", "id"),
        Index(None, "tenant_id", "total", "id"),
    )

    vendor_id: Mapped[UUID | None]
    number: Mapped[str | None] = mapped_column(String(64))
    issue_date: Mapped[date | None]
    due_date: Mapped[date | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(16), default="api")
    po_number: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    subtotal: Mapped[Decimal] = mapped_column(Money)
    tax_total: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[InvoiceStatus] = mapped_column(String(16), default=InvoiceStatus.DRAFT)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[InvoiceKind] = mapped_column(String(16), default=InvoiceKind.INVOICE)
    original_invoice_id: Mapped[UUID | None]
    tax_rounding: Mapped[TaxRounding] = mapped_column(String(8), default=TaxRounding.PER_LINE)
    # The tax per code (and component), as the invoice's lines computed it.
    tax_summary: Mapped[list[dict[str, str | bool | None]]] = mapped_column(JSONB, default=list)
    # The number folded for comparison (invoices/duplicates.py).
    number_key: Mapped[str | None] = mapped_column(String(64))
    # Invoices of the same vendor and total, issued within 7 days, under another number.
    possible_duplicate_of: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid), default=list)
    # How often it was submitted: approvals count within one submission.
    submissions: Mapped[int] = mapped_column(default=0)
    # Per line outside its purchase order's tolerance at the last submit (purchasing/).
    match_differences: Mapped[list[dict[str, str | None]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # Set by the database as the status changes (trigger `invoices_approval_times`,
    # migration 0024), never by this code: the latest move to submitted and the approval.
    # Only the dashboard reads them.
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]

    @validates("number")
    def _fold_number(self, _key: str, number: str | None) -> str | None:
        """Whoever sets the number sets the key it is compared by."""
        self.number_key = None if number is None else fold_invoice_number(number)
        return number


class InvoiceLine(TenantScoped, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        *child_of("invoices", "invoice_id"),
        # The account the line's net amount is posted to at approval (codes never change).
        ForeignKeyConstraint(
            ["tenant_id", "account_code"],
            ["ledger_accounts.tenant_id", "ledger_accounts.code"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "tax_code"],
            ["tax_codes.tenant_id", "tax_codes.code"],
            ondelete="RESTRICT",
        ),
        # The purchase order line it is matched against at submit (purchasing/).
        *child_of("purchase_order_lines", "purchase_order_line_id", ondelete="RESTRICT"),
    )

    invoice_id: Mapped[UUID]
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    line_subtotal: Mapped[Decimal] = mapped_column(Money)
    line_tax: Mapped[Decimal] = mapped_column(Money)
    account_code: Mapped[str | None] = mapped_column(String(16))
    tax_code: Mapped[str | None] = mapped_column(String(16))
    purchase_order_line_id: Mapped[UUID | None]


class TaxKind(StrEnum):
    STANDARD = "standard"
    REDUCED = "reduced"
    ZERO = "zero"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"


class TaxCode(Versioned, TenantScoped, TimestampMixin, Base):
    """A tenant's tax code. What it computes (kind, rate, recoverable share, components,
    accounts) never changes once it exists, so invoices that used it stay explained; the
    runtime role may update only its name and whether it is active."""

    __tablename__ = "tax_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint(
            "kind IN ('standard', 'reduced', 'zero', 'exempt', 'reverse_charge')",
            name="kind_allowed",
        ),
        CheckConstraint("rate >= 0 AND rate <= 1", name="rate_range"),
        CheckConstraint("kind NOT IN ('zero', 'exempt') OR rate = 0", name="untaxed_rate_zero"),
        CheckConstraint("recoverable >= 0 AND recoverable <= 1", name="recoverable_range"),
        CheckConstraint("jsonb_typeof(components) = 'array'", name="components_array"),
        CheckConstraint(
            "kind <> 'reverse_charge' OR output_account_code IS NOT NULL",
            name="reverse_charge_output_account",
        ),
        CheckConstraint("home_state_code ~ '^[0-9]{2}$'", name="home_state_code_digits"),
        ForeignKeyConstraint(
            ["tenant_id", "input_account_code"],
            ["ledger_accounts.tenant_id", "ledger_accounts.code"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "output_account_code"],
            ["ledger_accounts.tenant_id", "ledger_accounts.code"],
            ondelete="RESTRICT",
        ),
    )

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[TaxKind] = mapped_column(String(16))
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    recoverable: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    # [{"name": "CGST", "rate": "0.0900", "applies_to": "intra_state" | "inter_state",
    #   "input_account_code": "1400"}]: a split tax's parts (GST); empty for one tax.
    components: Mapped[list[dict[str, str]]] = mapped_column(JSONB, default=list)
    input_account_code: Mapped[str] = mapped_column(String(16))
    output_account_code: Mapped[str | None] = mapped_column(String(16))
    # The state (Indian GST state code) the tenant is registered in for this code: a
    # vendor of the same state is intra-state, another inter-state.
    home_state_code: Mapped[str | None] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(default=True)


class InvoiceApproval(TenantScoped, Base):
    """One approval of one submission of an invoice: who, in which role, when, which
    step. Insert-only for the runtime role; a person approves a submission once."""

    __tablename__ = "invoice_approvals"
    __table_args__ = (
        *child_of("invoices", "invoice_id", indexed=False),
        UniqueConstraint("tenant_id", "invoice_id", "submission", "approver_id"),
        UniqueConstraint("tenant_id", "invoice_id", "submission", "step"),
        CheckConstraint("step >= 1", name="step_positive"),
    )

    invoice_id: Mapped[UUID]
    submission: Mapped[int]
    step: Mapped[int]
    approver_type: Mapped[str] = mapped_column(String(16))
    approver_id: Mapped[UUID]
    role: Mapped[str | None] = mapped_column(String(32))
    duplicate_override_reason: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CreditNoteAllocation(TenantScoped, Base):
    """Part of an approved credit note set against an open invoice of the same vendor
    (both foreign keys name the vendor, so PostgreSQL refuses another vendor's)."""

    __tablename__ = "credit_note_allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "credit_note_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            ondelete="RESTRICT",
        ),
        Index(None, "tenant_id", "credit_note_id"),
        Index(None, "tenant_id", "invoice_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credit_note_id <> invoice_id", name="not_itself"),
    )

    credit_note_id: Mapped[UUID]
    invoice_id: Mapped[UUID]
    vendor_id: Mapped[UUID]
    amount: Mapped[Decimal] = mapped_column(Money)
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ApprovalPolicy(Versioned, TenantScoped, TimestampMixin, Base):
    """A tenant's approval rules (one row; the default until a PUT writes it)."""

    __tablename__ = "approval_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("jsonb_typeof(thresholds) = 'array'", name="thresholds_array"),
    )

    segregation_of_duties: Mapped[bool] = mapped_column(default=False)
    approver_cannot_pay: Mapped[bool] = mapped_column(default=False)
    # [{"min_amount": "0.00", "approvals": 1, "roles": ["TENANT_OWNER"]}], by min_amount.
    thresholds: Mapped[list[dict[str, object]]] = mapped_column(JSONB, default=list)


class InvoiceStatusChange(TenantScoped, Base):
    __tablename__ = "invoice_status_history"
    __table_args__ = (*child_of("invoices", "invoice_id"),)

    invoice_id: Mapped[UUID]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class InvoicePayment(Versioned, TenantScoped, Base):
    """A payment of an invoice: what was paid, when, from which account, and the journal
    entry that posted it. Insert-only but for its reversal (the runtime role may update
    only `reversed_at`, `reversal_entry_id` and the version)."""

    __tablename__ = "invoice_payments"
    __table_args__ = (
        *child_of("invoices", "invoice_id", ondelete="RESTRICT"),
        ForeignKeyConstraint(
            ["tenant_id", "paying_account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "reversal_entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "vendor_id"], ["vendors.tenant_id", "vendors.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "entry_id"),
        UniqueConstraint("tenant_id", "reversal_entry_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            "(reversed_at IS NULL) = (reversal_entry_id IS NULL)", name="reversal_complete"
        ),
        Index(None, "tenant_id", "paid_on", "id"),
        Index(None, "tenant_id", "vendor_id"),
        # The dashboard's payments, index-only (migration 0024).
        Index(
            None,
            "tenant_id",
            "currency",
            "paid_on",
            postgresql_include=["amount"],
            postgresql_where=text("reversed_at IS NULL"),
        ),
    )

    invoice_id: Mapped[UUID]
    # The invoice's vendor and currency, which never change once it is approved.
    vendor_id: Mapped[UUID]
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    reference: Mapped[str | None] = mapped_column(String(200))
    # Null only for payments recorded before the ledger existed (migration 0012).
    paying_account_id: Mapped[UUID | None]
    entry_id: Mapped[UUID | None]
    reversed_at: Mapped[datetime | None]
    reversal_entry_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class InvoiceBatch(TenantScoped, Base):
    """A named group of uploaded documents (one scan session, one mailbox pull)."""

    __tablename__ = "invoice_batches"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API

    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ProcessingStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"  # claimed by a worker until next_attempt_at (its lease)
    EXTRACTED = "extracted"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"  # retried at next_attempt_at until the attempts run out


UNFINISHED_DOCUMENTS = "processing_status IN ('queued', 'processing', 'failed')"


class InvoiceDocument(TenantScoped, Base):
    """An uploaded file, the draft invoice it made, and the background job reading it.

    The row is the job: a worker claims it (`FOR UPDATE SKIP LOCKED`), so the job is
    written in the upload's own transaction and survives restarts.
    """

    __tablename__ = "invoice_documents"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        *child_of("invoices", "invoice_id", indexed=False),
        *child_of("invoice_batches", "batch_id", ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "invoice_id"),
        UniqueConstraint("tenant_id", "sha256"),
        CheckConstraint(
            "processing_status IN ('queued', 'processing', 'extracted', 'needs_review', 'failed')",
            name="processing_status_allowed",
        ),
        CheckConstraint(
            "content_type IN ('application/pdf', 'image/png', 'image/jpeg')",
            name="content_type_allowed",
        ),
        Index(None, "tenant_id", "processing_status", "next_attempt_at"),
        # Uploads in a window, for the dashboard (migration 0020).
        Index(None, "tenant_id", "created_at"),
        # The unfinished jobs only, for /metrics across tenants (migration 0013).
        Index(
            None,
            "tenant_id",
            "processing_status",
            "created_at",
            postgresql_where=text(UNFINISHED_DOCUMENTS),
        ),
    )

    invoice_id: Mapped[UUID]
    batch_id: Mapped[UUID | None]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    processing_status: Mapped[ProcessingStatus] = mapped_column(
        String(16), default=ProcessingStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    extracted_fields: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
