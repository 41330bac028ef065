"""The fixed-asset register: categories, locations, custodians, assets and their events."""

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
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, child_of

Money = Numeric(18, 2)


class AssetStatus(StrEnum):
    DRAFT = "draft"
    IN_SERVICE = "in_service"
    UNDER_MAINTENANCE = "under_maintenance"
    DISPOSED = "disposed"


class DisposalMethod(StrEnum):
    SALE = "sale"
    SCRAP = "scrap"
    DONATION = "donation"


class AssetCategory(Versioned, TenantScoped, TimestampMixin, Base):
    """Defaults for new assets. Deactivated, it stays on the assets that use it, and the
    database refuses it to new ones (migration 0013)."""

    __tablename__ = "asset_categories"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("salvage_percent >= 0 AND salvage_percent <= 100", name="salvage_range"),
        CheckConstraint("useful_life_months >= 1", name="life_positive"),
        *(
            ForeignKeyConstraint(
                ["tenant_id", column],
                ["ledger_accounts.tenant_id", "ledger_accounts.code"],
                ondelete="RESTRICT",
            )
            for column in (
                "asset_account_code",
                "accumulated_depreciation_account_code",
                "depreciation_expense_account_code",
            )
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    depreciation_method: Mapped[str] = mapped_column(String(32))
    useful_life_months: Mapped[int]
    salvage_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    convention: Mapped[str] = mapped_column(String(16), default="full_month")
    declining_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The category's own accounts (None: 1500, 1590, 6800). The database refuses a code
    # the tenant's chart lacks, or an account of another type (migration 0021).
    asset_account_code: Mapped[str | None] = mapped_column(String(16))
    accumulated_depreciation_account_code: Mapped[str | None] = mapped_column(String(16))
    depreciation_expense_account_code: Mapped[str | None] = mapped_column(String(16))


class Location(Versioned, TenantScoped, TimestampMixin, Base):
    """A place in a tree: site, then building, then room. Deactivated, it stays where
    assets are, and the database refuses it as a new asset's place or a new parent."""

    __tablename__ = "locations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "parent_id"], ["locations.tenant_id", "locations.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("kind IN ('site', 'building', 'room')", name="kind_allowed"),
        Index(None, "tenant_id", "parent_id"),
    )

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[UUID | None]
    is_active: Mapped[bool] = mapped_column(default=True)


class Custodian(Versioned, TenantScoped, TimestampMixin, Base):
    """Who holds an asset: a user of the tenant, or a named person with an email.
    Deactivated, they keep what they hold, and the database refuses them new assets."""

    __tablename__ = "custodians"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    user_id: Mapped[UUID | None]
    is_active: Mapped[bool] = mapped_column(default=True)


class AssetTagCounter(Base):
    """The per-tenant sequence behind generated asset tags."""

    __tablename__ = "asset_tag_counters"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="RESTRICT"),)

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class Asset(Versioned, TenantScoped, TimestampMixin, Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "tag"),
        UniqueConstraint("tenant_id", "content_key"),
        ForeignKeyConstraint(
            ["tenant_id", "category_id"],
            ["asset_categories.tenant_id", "asset_categories.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["locations.tenant_id", "locations.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "custodian_id"],
            ["custodians.tenant_id", "custodians.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "status IN ('draft', 'in_service', 'under_maintenance', 'disposed')",
            name="status_allowed",
        ),
        CheckConstraint("cost >= 0 AND salvage_value >= 0 AND salvage_value <= cost", name="money"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint(
            "accumulated_impairment >= 0 AND revaluation_surplus >= 0", name="write_downs"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "disposal_entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "purchase_invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "acquisition_entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "purchase_invoice_id", "purchase_invoice_line"),
        CheckConstraint(
            "(purchase_invoice_id IS NULL) = (purchase_invoice_line IS NULL)",
            name="purchase_line",
        ),
        CheckConstraint(
            "acquisition_entry_id IS NULL OR purchase_invoice_id IS NOT NULL",
            name="acquisition_from_invoice",
        ),
        Index(None, "tenant_id", "category_id"),
        Index(None, "tenant_id", "location_id"),
        Index(None, "tenant_id", "status"),
    )

    tag: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    serial_number: Mapped[str | None] = mapped_column(String(100))
    category_id: Mapped[UUID]
    location_id: Mapped[UUID | None]
    custodian_id: Mapped[UUID | None]
    acquisition_date: Mapped[date]
    in_service_date: Mapped[date | None]
    cost: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    salvage_value: Mapped[Decimal] = mapped_column(Money)
    useful_life_months: Mapped[int]
    depreciation_method: Mapped[str] = mapped_column(String(32))
    convention: Mapped[str] = mapped_column(String(16))
    declining_rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    # Units of production: the units the asset is expected to produce over its life.
    total_units: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    status: Mapped[AssetStatus] = mapped_column(String(20))
    disposed_on: Mapped[date | None]
    disposal_method: Mapped[str | None] = mapped_column(String(16))
    disposal_proceeds: Mapped[Decimal | None] = mapped_column(Money)
    book_value_at_disposal: Mapped[Decimal | None] = mapped_column(Money)
    disposal_gain: Mapped[Decimal | None] = mapped_column(Money)
    # An untagged row of a CSV import: its content (and its place among identical rows of
    # the file), so that importing the file again skips it. None for other assets.
    content_key: Mapped[str | None] = mapped_column(String(64))
    # Written down by impairments (and revaluation decreases), written back by reversals.
    accumulated_impairment: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0"), server_default="0"
    )
    # Revaluation increases held in equity (3100), used first by a later decrease.
    revaluation_surplus: Mapped[Decimal] = mapped_column(
        Money, default=Decimal("0"), server_default="0"
    )
    # The entry that posted the disposal (None while in service, or disposed unposted).
    disposal_entry_id: Mapped[UUID | None]
    # The invoice line the asset was bought with (its position on the invoice), and the
    # entry that put that line on the asset account: the invoice's approval, or a
    # reclassification when the invoice was approved before the asset was created.
    purchase_invoice_id: Mapped[UUID | None]
    purchase_invoice_line: Mapped[int | None]
    acquisition_entry_id: Mapped[UUID | None]


class AssetEvent(TenantScoped, Base):
    """An asset's history: created, transferred, maintenance, disposed."""

    __tablename__ = "asset_events"
    __table_args__ = (*child_of("assets", "asset_id"),)

    asset_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date]
    details: Mapped[str | None] = mapped_column(Text)
    from_location_id: Mapped[UUID | None]
    to_location_id: Mapped[UUID | None]
    from_custodian_id: Mapped[UUID | None]
    to_custodian_id: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MaintenanceRecord(TenantScoped, TimestampMixin, Base):
    __tablename__ = "maintenance_records"
    __table_args__ = (*child_of("assets", "asset_id"),)

    asset_id: Mapped[UUID]
    started_on: Mapped[date]
    ended_on: Mapped[date | None]
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    vendor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)


class DepreciationEntry(Base):
    """One month of an asset's schedule, kept so reports sum in SQL instead of rerunning
    the engine for every asset. Rewritten whenever the asset's schedule changes."""

    __tablename__ = "depreciation_entries"
    __table_args__ = (*child_of("assets", "asset_id", indexed=False),)

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    asset_id: Mapped[UUID] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    accumulated: Mapped[Decimal] = mapped_column(Money)


class AssetUsage(Base):
    """Units an asset produced in a month (units-of-production depreciation)."""

    __tablename__ = "asset_usage"
    __table_args__ = (
        *child_of("assets", "asset_id", indexed=False),
        CheckConstraint("units >= 0", name="units_not_negative"),
        CheckConstraint("extract(day from period) = 1", name="period_is_month"),
    )

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    asset_id: Mapped[UUID] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(primary_key=True)
    units: Mapped[Decimal] = mapped_column(Numeric(18, 4))


class DepreciationRun(TenantScoped, Base):
    """One request to post depreciation through a month: what it posted is in
    `depreciation_postings` (its totals are summed from there)."""

    __tablename__ = "depreciation_runs"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        CheckConstraint("extract(day FROM period) = 1", name="period_is_month"),
        CheckConstraint("asset_count >= 0 AND month_count >= 0", name="counts"),
        Index(None, "tenant_id", "period"),
    )

    period: Mapped[date]
    asset_count: Mapped[int]
    month_count: Mapped[int]
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DepreciationPosting(Base):
    """A month of an asset's depreciation that has been posted, with its entry. Its key
    (tenant, asset, month) makes a second posting of a month impossible; the runtime
    role may only insert and read these rows (migration 0014)."""

    __tablename__ = "depreciation_postings"
    __table_args__ = (
        *child_of("assets", "asset_id", ondelete="RESTRICT", indexed=False),
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["depreciation_runs.tenant_id", "depreciation_runs.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "entry_id"),
        CheckConstraint("extract(day FROM period) = 1", name="period_is_month"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        Index(None, "tenant_id", "run_id"),
    )

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    asset_id: Mapped[UUID] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    entry_id: Mapped[UUID]
    # None: posted by a disposal (the months up to it), not by a run.
    run_id: Mapped[UUID | None]


class AdjustmentKind(StrEnum):
    USEFUL_LIFE = "useful_life"
    SALVAGE = "salvage"
    IMPAIRMENT = "impairment"
    REVALUATION = "revaluation"
    COST = "cost"


class AssetAdjustment(TenantScoped, Base):
    """A mid-life change of an asset, effective from `effective_from` (a month after the
    last posted one): the schedule is recomputed from there, and what it changes in the
    books is posted (`entry_id`). `cost_change` and `impairment_change` are what it did to
    the asset's cost and accumulated impairment, for the roll-forward."""

    __tablename__ = "asset_adjustments"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - SQLAlchemy's API
    __table_args__ = (
        *child_of("assets", "asset_id", ondelete="RESTRICT"),
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "kind IN ('useful_life', 'salvage', 'impairment', 'revaluation', 'cost')",
            name="kind_allowed",
        ),
        CheckConstraint("extract(day FROM effective_from) = 1", name="effective_from_is_month"),
    )

    asset_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date]
    effective_from: Mapped[date]
    useful_life_months: Mapped[int | None]
    salvage_value: Mapped[Decimal | None] = mapped_column(Money)
    recoverable_amount: Mapped[Decimal | None] = mapped_column(Money)
    fair_value: Mapped[Decimal | None] = mapped_column(Money)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    carrying_before: Mapped[Decimal] = mapped_column(Money)
    carrying_after: Mapped[Decimal] = mapped_column(Money)
    cost_change: Mapped[Decimal] = mapped_column(Money)
    impairment_change: Mapped[Decimal] = mapped_column(Money)
    entry_id: Mapped[UUID | None]
    created_by: Mapped[UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DepreciationSchedule(Versioned, TenantScoped, Base):
    """A tenant's choice to have the worker post each month's depreciation once the month
    is over (`auto`), the last month it posted, and the job's lease: the worker claims
    due rows across tenants (platform role), then posts as the tenant."""

    __tablename__ = "depreciation_schedules"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint(
            "last_period IS NULL OR extract(day FROM last_period) = 1",
            name="last_period_is_month",
        ),
        Index(None, "next_attempt_at", postgresql_where=text("auto")),
    )

    auto: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_period: Mapped[date | None]
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
