"""Accounts, journal entries and their lines, cached balances, periods and transfers.

PostgreSQL keeps the ledger's invariants (migration 0012 holds the grants, 0021 the
triggers, which check each INSERT statement as a whole): an entry balances per currency
at commit, entries and lines are insert-only for the runtime role, nothing posts into a
closed period, each business event posts once, and a cached balance never passes its
account's overdraft limit.
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
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned

Amount = Numeric(18, 2)


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Account(Versioned, TenantScoped, TimestampMixin, Base):
    """An account of the tenant's chart. Its code, type, currency and overdraft limit never
    change (the runtime role may update only its name and whether it is active)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("code ~ '^[0-9A-Za-z][0-9A-Za-z.-]{0,15}$'", name="code_format"),
        CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense')", name="type_allowed"
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            "overdraft_limit IS NULL OR (overdraft_limit >= 0 AND type = 'asset')",
            name="overdraft_limit_on_assets",
        ),
    )

    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[AccountType] = mapped_column(String(16))
    currency: Mapped[str | None] = mapped_column(String(3))
    overdraft_limit: Mapped[Decimal | None] = mapped_column(Amount)
    active: Mapped[bool] = mapped_column(default=True)


class Period(Base):
    """A month of the ledger (its first day). A month without a row is open; a posting
    writes the row of its month, and closing marks it closed."""

    __tablename__ = "ledger_periods"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),
        CheckConstraint("extract(day FROM period) = 1", name="first_day"),
        CheckConstraint("status IN ('open', 'closed')", name="status_allowed"),
    )

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[PeriodStatus] = mapped_column(String(8), default=PeriodStatus.OPEN)
    changed_by: Mapped[UUID | None]
    changed_at: Mapped[datetime | None]


class JournalEntry(TenantScoped, Base):
    """One balanced posting. `occurred_on` is the business date; `posted_on` the day it
    counts in the ledger (the first day of the first open month when its own is closed)."""

    __tablename__ = "journal_entries"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_type", "source_id", "kind"),
        UniqueConstraint("tenant_id", "reverses"),
        ForeignKeyConstraint(
            ["tenant_id", "reverses"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "period = date_trunc('month', posted_on)::date", name="period_of_posted_on"
        ),
        CheckConstraint("reverses IS NULL OR reverses <> id", name="not_self_reversing"),
        Index(None, "tenant_id", "posted_on"),
    )

    posted_on: Mapped[date]
    occurred_on: Mapped[date]
    period: Mapped[date]
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(32))
    memo: Mapped[str | None] = mapped_column(Text)
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[UUID | None]
    reverses: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class JournalLine(TenantScoped, Base):
    """A debit or a credit of one account in one currency. `account_seq` numbers the
    account's lines in that currency as they were posted, and `balance_after` is the
    account's balance after the line: the account ledger reads them, at any depth, from
    one index."""

    __tablename__ = "journal_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "vendor_id"], ["vendors.tenant_id", "vendors.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "account_id", "currency", "account_seq"),
        CheckConstraint(
            "debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)",
            name="debit_or_credit",
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        Index(None, "tenant_id", "entry_id"),
        Index(None, "tenant_id", "vendor_id"),
        Index(None, "tenant_id", "posted_on"),
    )

    entry_id: Mapped[UUID]
    account_id: Mapped[UUID]
    debit: Mapped[Decimal] = mapped_column(Amount)
    credit: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    vendor_id: Mapped[UUID | None]
    posted_on: Mapped[date]  # the entry's, set by the database
    account_seq: Mapped[int]
    balance_after: Mapped[Decimal] = mapped_column(Amount)


class Balance(Base):
    """The cached balance of an account in a currency (debits minus credits), updated by
    every posting in its own transaction. Its check refuses a balance below minus the
    account's overdraft limit, so concurrent postings cannot overdraw it."""

    __tablename__ = "ledger_balances"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "overdraft_limit IS NULL OR balance >= -overdraft_limit", name="within_overdraft"
        ),
        CheckConstraint("balance = debit_total - credit_total", name="totals_agree"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    account_id: Mapped[UUID] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    debit_total: Mapped[Decimal] = mapped_column(Amount)
    credit_total: Mapped[Decimal] = mapped_column(Amount)
    balance: Mapped[Decimal] = mapped_column(Amount)
    line_count: Mapped[int]
    overdraft_limit: Mapped[Decimal | None] = mapped_column(Amount)


class Transfer(TenantScoped, Base):
    """Money moved between two of the tenant's asset accounts, posted as one entry."""

    __tablename__ = "ledger_transfers"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "from_account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "to_account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "entry_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("from_account_id <> to_account_id", name="two_accounts"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    from_account_id: Mapped[UUID]
    to_account_id: Mapped[UUID]
    amount: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    transfer_on: Mapped[date]
    memo: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[UUID]
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UncheckedEntries(TenantScoped, Base):
    """The entries one INSERT statement into the journal touched, noted by its trigger
    and checked (balanced, with lines) by a deferred constraint trigger at commit, which
    then removes the row (migration 0021). The runtime role has no privilege on it."""

    __tablename__ = "ledger_unchecked_entries"

    entry_ids: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid))
