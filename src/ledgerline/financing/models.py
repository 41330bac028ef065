"""Financing programs, the offers made under them, their acceptances and settlements.

What must never happen is refused by PostgreSQL (migration 0016): a program committing
more than its budget or less than nothing, an offer whose discount and net do not sum to
the open amount, two live offers of one invoice, two acceptances of one offer, two
settlements or repayments of one offer, and any change of an offer's terms (column
grants).
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
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, child_of

Money = Numeric(18, 2)


class Funding(StrEnum):
    OWN_CASH = "own_cash"  # dynamic discounting: the tenant pays early, keeps the discount
    FUNDER = "funder"  # reverse factoring: a funder pays early, the tenant repays at due


class DayCount(StrEnum):
    ACT_365 = "ACT/365"
    ACT_360 = "ACT/360"


class OfferStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SETTLED = "settled"  # paid early (own cash: done; funder: repayment outstanding)
    REPAID = "repaid"  # funder repaid at the due date


LIVE_OFFER = "status IN ('offered', 'accepted')"


class SettlementKind(StrEnum):
    SETTLEMENT = "settlement"
    REPAYMENT = "repayment"


class FinancingProgram(Versioned, TenantScoped, TimestampMixin, Base):
    """A budget for early payments. `committed` is what accepted offers hold until they
    are settled (own cash) or repaid (funder); it moves only by conditional statements,
    so it never passes `budget` (a check here as well)."""

    __tablename__ = "financing_programs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("apr > 0 AND apr <= 1", name="apr_range"),
        CheckConstraint("day_count IN ('ACT/365', 'ACT/360')", name="day_count_allowed"),
        CheckConstraint("min_days_early >= 1", name="min_days_early_positive"),
        CheckConstraint("funding IN ('own_cash', 'funder')", name="funding_allowed"),
        CheckConstraint(
            "(funding = 'funder') = (funder_name IS NOT NULL)"
            " AND (funding = 'funder' OR funder_fee_share = 0)",
            name="funder_named",
        ),
        CheckConstraint("funder_fee_share >= 0 AND funder_fee_share <= 1", name="fee_share_range"),
        CheckConstraint("committed >= 0 AND committed <= budget", name="within_budget"),
    )

    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    apr: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    day_count: Mapped[DayCount] = mapped_column(String(8))
    min_days_early: Mapped[int]
    budget: Mapped[Decimal] = mapped_column(Money)
    committed: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    funding: Mapped[Funding] = mapped_column(String(16))
    funder_name: Mapped[str | None] = mapped_column(String(200))
    # The share of each discount the funder passes back to the tenant (at repayment).
    funder_fee_share: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0"))

    @property
    def available(self) -> Decimal:
        return self.budget - self.committed


class FinancingOffer(Versioned, TenantScoped, Base):
    """An early payment offered to an invoice's vendor: its terms are fixed when made
    (the runtime role may update only its status columns)."""

    __tablename__ = "financing_offers"
    __table_args__ = (
        *child_of("financing_programs", "program_id", ondelete="RESTRICT"),
        *child_of("invoices", "invoice_id", ondelete="RESTRICT", indexed=False),
        ForeignKeyConstraint(
            ["tenant_id", "vendor_id"], ["vendors.tenant_id", "vendors.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "token_hash"),
        # At most one live offer per invoice.
        Index(
            "financing_offers_one_live_per_invoice",
            "tenant_id",
            "invoice_id",
            unique=True,
            postgresql_where=text(LIVE_OFFER),
        ),
        Index(None, "tenant_id", "invoice_id"),
        Index(None, "tenant_id", "status", "id"),
        CheckConstraint(
            "status IN ('offered', 'accepted', 'withdrawn', 'expired', 'settled', 'repaid')",
            name="status_allowed",
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            "discount >= 0 AND net_amount > 0 AND discount + net_amount = open_amount",
            name="discount_and_net_sum_to_open",
        ),
        CheckConstraint("days_early >= 1 AND pay_on + days_early = due_date", name="days_early"),
    )

    program_id: Mapped[UUID]
    invoice_id: Mapped[UUID]
    invoice_version: Mapped[int]
    vendor_id: Mapped[UUID]
    vendor_email: Mapped[str] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    open_amount: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money)
    net_amount: Mapped[Decimal] = mapped_column(Money)
    apr: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    day_count: Mapped[DayCount] = mapped_column(String(8))
    days_early: Mapped[int]
    pay_on: Mapped[date]
    due_date: Mapped[date]
    status: Mapped[OfferStatus] = mapped_column(String(16), default=OfferStatus.OFFERED)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]


class FinancingAcceptance(TenantScoped, Base):
    """The vendor's acceptance of an offer: the net it reserved from the program's budget."""

    __tablename__ = "financing_acceptances"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        *child_of("financing_offers", "offer_id", ondelete="RESTRICT", indexed=False),
        *child_of("financing_programs", "program_id", ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "offer_id"),
        CheckConstraint("reserved > 0", name="reserved_positive"),
        Index(None, "tenant_id", "accepted_at", "id"),
    )

    offer_id: Mapped[UUID]
    program_id: Mapped[UUID]
    reserved: Mapped[Decimal] = mapped_column(Money)
    accepted_at: Mapped[datetime] = mapped_column(server_default=func.now())


class FinancingSettlement(TenantScoped, Base):
    """A settlement (the early payment) or a repayment (to the funder) of an offer, and
    the journal entry that posted it; each at most once per offer."""

    __tablename__ = "financing_settlements"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        *child_of("financing_offers", "offer_id", ondelete="RESTRICT", indexed=False),
        *child_of("financing_programs", "program_id", ondelete="RESTRICT"),
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "offer_id", "kind"),
        UniqueConstraint("tenant_id", "entry_id"),
        CheckConstraint("kind IN ('settlement', 'repayment')", name="kind_allowed"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(None, "tenant_id", "paid_on", "id"),
    )

    offer_id: Mapped[UUID]
    program_id: Mapped[UUID]
    kind: Mapped[SettlementKind] = mapped_column(String(16))
    paid_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)
    entry_id: Mapped[UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
