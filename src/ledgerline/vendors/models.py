"""A tenant's suppliers: who sends invoices and is paid."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned


class Vendor(Versioned, TenantScoped, TimestampMixin, Base):
    __tablename__ = "vendors"
    __table_args__ = (
        # A tax id, when given, names one vendor per tenant.
        Index(
            None,
            "tenant_id",
            "tax_id",
            unique=True,
            postgresql_where=text("tax_id IS NOT NULL"),
        ),
        Index(None, "tenant_id", "name"),
        CheckConstraint("default_currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("payment_terms_days BETWEEN 0 AND 365", name="terms_range"),
        CheckConstraint("state_code ~ '^[0-9]{2}$'", name="state_code_digits"),
        ForeignKeyConstraint(
            ["tenant_id", "default_expense_account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    tax_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    address: Mapped[str | None] = mapped_column(Text)
    default_currency: Mapped[str] = mapped_column(String(3))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    bank_account: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Where its invoice lines without an account of their own are posted (else 6000).
    default_expense_account_id: Mapped[UUID | None]
    # The Indian GST state code (the first two digits of a GSTIN): intra- or inter-state.
    state_code: Mapped[str | None] = mapped_column(String(2))
