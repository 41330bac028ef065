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
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, child_of

Money = Numeric(18, 2)


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"
    VOID = "void"


class Invoice(Versioned, TenantScoped, TimestampMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "vendor_id", "number"),
        ForeignKeyConstraint(
            ["tenant_id", "vendor_id"], ["vendors.tenant_id", "vendors.id"], ondelete="RESTRICT"
        ),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'rejected', 'paid', 'void')",
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
        Index(None, "tenant_id", "vendor_id"),
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
