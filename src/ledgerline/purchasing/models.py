"""Purchase orders, their lines, approvals and history, goods receipts, the quantities
invoices matched against them, and the tenant's matching settings.

What must never happen is refused by PostgreSQL (migration 0018): a line received past
its receipt limit (the ordered quantity plus the tenant's over-receipt tolerance, fixed
when the order is made), a three-way line matched past what was received, an accrual
released past what was accrued, quantities below zero, receipts, approvals, history and
matches rewritten (the runtime role may only mark a receipt or a match reversed).
"""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, child_of

Money = Numeric(18, 2)
Units = Numeric(18, 4)


class Matching(StrEnum):
    TWO_WAY = "two_way"  # invoice price and quantity against the order
    THREE_WAY = "three_way"  # and quantity against what was received


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class PurchasingSettings(Versioned, TenantScoped, TimestampMixin, Base):
    """A tenant's matching rules (one row; the defaults until a PUT writes it)."""

    __tablename__ = "purchasing_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("matching IN ('two_way', 'three_way')", name="matching_allowed"),
        CheckConstraint(
            "price_tolerance_percent >= 0 AND price_tolerance_percent <= 100",
            name="price_tolerance_range",
        ),
        CheckConstraint("quantity_tolerance >= 0", name="quantity_tolerance_positive"),
        CheckConstraint(
            "over_receipt_percent >= 0 AND over_receipt_percent <= 100",
            name="over_receipt_range",
        ),
    )

    matching: Mapped[Matching] = mapped_column(String(16), default=Matching.THREE_WAY)
    price_tolerance_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    quantity_tolerance: Mapped[Decimal] = mapped_column(Units, default=Decimal(0))
    over_receipt_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    accrue_on_receipt: Mapped[bool] = mapped_column(default=False)


class PurchaseOrder(Versioned, TenantScoped, TimestampMixin, Base):
    """What was ordered from a vendor. `total` is the sum of its lines' net amounts."""

    __tablename__ = "purchase_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # The target of its lines' foreign key: a line names its order and vendor.
        UniqueConstraint("tenant_id", "id", "vendor_id"),
        ForeignKeyConstraint(
            ["tenant_id", "vendor_id"], ["vendors.tenant_id", "vendors.id"], ondelete="RESTRICT"
        ),
        CheckConstraint(
            "status IN ('draft', 'approved', 'partially_received', 'received', 'closed',"
            " 'cancelled')",
            name="status_allowed",
        ),
        CheckConstraint("matching IN ('two_way', 'three_way')", name="matching_allowed"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("total >= 0", name="total_positive"),
        CheckConstraint("tax_total >= 0", name="tax_total_positive"),
        Index(None, "tenant_id", "vendor_id", "id"),
        Index(None, "tenant_id", "status", "id"),
    )

    vendor_id: Mapped[UUID]
    number: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    ordered_on: Mapped[date]
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[PurchaseOrderStatus] = mapped_column(
        String(24), default=PurchaseOrderStatus.DRAFT
    )
    # Fixed when the order is made, from the tenant's settings.
    matching: Mapped[Matching] = mapped_column(String(16))
    total: Mapped[Decimal] = mapped_column(Money)
    # The lines' tax (each line's computed as an invoice line's, rounded per line).
    tax_total: Mapped[Decimal] = mapped_column(Money)
    created_by: Mapped[UUID | None]
    approved_at: Mapped[datetime | None]

    @property
    def gross_total(self) -> Decimal:
        return self.total + self.tax_total


class PurchaseOrderLine(TenantScoped, Base):
    """One ordered item and what happened to it: received, matched by invoices, accrued
    on receipt and released by approved invoices."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "purchase_order_id", "vendor_id"],
            ["purchase_orders.tenant_id", "purchase_orders.id", "purchase_orders.vendor_id"],
            ondelete="CASCADE",
        ),
        Index(None, "tenant_id", "purchase_order_id"),
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
        UniqueConstraint("tenant_id", "purchase_order_id", "position"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_positive"),
        CheckConstraint("tax_amount >= 0", name="tax_amount_positive"),
        CheckConstraint(
            "quantity_received >= 0 AND quantity_received <= receipt_limit",
            name="received_within_limit",
        ),
        CheckConstraint(
            "quantity_matched >= 0 AND (NOT three_way OR quantity_matched <= quantity_received)",
            name="matched_within_received",
        ),
        CheckConstraint(
            "quantity_accrued >= 0 AND quantity_accrued <= quantity_received"
            " AND quantity_released >= 0 AND quantity_released <= quantity_accrued",
            name="accrual_within_received",
        ),
    )

    purchase_order_id: Mapped[UUID]
    vendor_id: Mapped[UUID]
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Units)
    unit_price: Mapped[Decimal] = mapped_column(Units)
    amount: Mapped[Decimal] = mapped_column(Money)
    # The vendor's tax on `amount` under `tax_code` (0 without one, and for reverse charge).
    tax_amount: Mapped[Decimal] = mapped_column(Money)
    tax_code: Mapped[str | None] = mapped_column(String(16))
    account_code: Mapped[str | None] = mapped_column(String(16))
    three_way: Mapped[bool]
    receipt_limit: Mapped[Decimal] = mapped_column(Units)
    quantity_received: Mapped[Decimal] = mapped_column(Units, default=Decimal(0))
    quantity_matched: Mapped[Decimal] = mapped_column(Units, default=Decimal(0))
    quantity_accrued: Mapped[Decimal] = mapped_column(Units, default=Decimal(0))
    quantity_released: Mapped[Decimal] = mapped_column(Units, default=Decimal(0))

    @property
    def gross_amount(self) -> Decimal:
        return self.amount + self.tax_amount


class PurchaseOrderApproval(TenantScoped, Base):
    """One approval of an order; insert-only, one per person and per step."""

    __tablename__ = "purchase_order_approvals"
    __table_args__ = (
        *child_of("purchase_orders", "purchase_order_id", indexed=False),
        UniqueConstraint("tenant_id", "purchase_order_id", "approver_id"),
        UniqueConstraint("tenant_id", "purchase_order_id", "step"),
        CheckConstraint("step >= 1", name="step_positive"),
    )

    purchase_order_id: Mapped[UUID]
    step: Mapped[int]
    approver_type: Mapped[str] = mapped_column(String(16))
    approver_id: Mapped[UUID]
    role: Mapped[str | None] = mapped_column(String(32))
    approved_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PurchaseOrderStatusChange(TenantScoped, Base):
    __tablename__ = "purchase_order_status_history"
    __table_args__ = (*child_of("purchase_orders", "purchase_order_id"),)

    purchase_order_id: Mapped[UUID]
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class GoodsReceipt(Versioned, TenantScoped, Base):
    """A delivery against an order, and its accrual entry when the tenant accrues.
    Insert-only but for its reversal."""

    __tablename__ = "goods_receipts"
    __table_args__ = (
        *child_of("purchase_orders", "purchase_order_id", ondelete="RESTRICT"),
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
        CheckConstraint(
            "reversal_entry_id IS NULL OR reversed_at IS NOT NULL", name="reversal_dated"
        ),
    )

    purchase_order_id: Mapped[UUID]
    received_on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(String(200))
    entry_id: Mapped[UUID | None]
    reversed_at: Mapped[datetime | None]
    reversal_entry_id: Mapped[UUID | None]
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class GoodsReceiptLine(TenantScoped, Base):
    __tablename__ = "goods_receipt_lines"
    __table_args__ = (
        *child_of("goods_receipts", "receipt_id"),
        *child_of("purchase_order_lines", "purchase_order_line_id", ondelete="RESTRICT"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    receipt_id: Mapped[UUID]
    purchase_order_line_id: Mapped[UUID]
    quantity: Mapped[Decimal] = mapped_column(Units)
    accrued: Mapped[bool]


class PurchaseOrderMatch(TenantScoped, Base):
    """The quantity of a purchase order line one invoice line matched, at the invoice's
    price; released (not deleted) when the invoice is rejected or voided."""

    __tablename__ = "purchase_order_matches"
    __table_args__ = (
        *child_of("invoices", "invoice_id", ondelete="RESTRICT"),
        *child_of("purchase_order_lines", "purchase_order_line_id", ondelete="RESTRICT"),
        CheckConstraint("quantity >= 0", name="quantity_positive"),
    )

    invoice_id: Mapped[UUID]
    purchase_order_line_id: Mapped[UUID]
    quantity: Mapped[Decimal] = mapped_column(Units)
    unit_price: Mapped[Decimal] = mapped_column(Units)
    overridden: Mapped[bool] = mapped_column(default=False)
    # What the invoice's approval released of the line's accrual (reversed on a void).
    accrual_released: Mapped[Decimal] = mapped_column(Units, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    released_at: Mapped[datetime | None]


class MatchResolution(TenantScoped, Base):
    """An invoice in `match_exception` resolved by an approved credit note of its vendor
    that credits it. A credit note resolves once (unique key); both foreign keys name the
    vendor, so PostgreSQL refuses another vendor's. Insert-only."""

    __tablename__ = "purchase_order_match_resolutions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "credit_note_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "credit_note_id"),
        Index(None, "tenant_id", "invoice_id"),
        CheckConstraint("credit_note_id <> invoice_id", name="not_itself"),
    )

    invoice_id: Mapped[UUID]
    credit_note_id: Mapped[UUID]
    vendor_id: Mapped[UUID]
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
