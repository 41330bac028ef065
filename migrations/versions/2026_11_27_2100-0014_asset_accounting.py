"""asset accounting: depreciation runs and their postings, mid-life adjustments, the
disposal's entry, impairment and revaluation accounts

`depreciation_postings` holds one row per asset and month that has been posted, keyed
(tenant, asset, month): PostgreSQL refuses a second posting of a month, and the runtime
role may only read and insert these rows (no UPDATE, no DELETE), as it may only read and
insert adjustments and runs. Every tenant's chart gains 1595 (accumulated impairment),
3100 (revaluation surplus) and 6850 (impairment loss).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.base import new_id
from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_ACCOUNTS = (
    ("1595", "Accumulated impairment", "asset"),
    ("3100", "Revaluation surplus", "equity"),
    ("6850", "Impairment loss", "expense"),
)


def _money(name: str, nullable: bool = False) -> sa.Column[sa.Numeric]:
    return sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"{table}_tenant_id_{column}_fkey"),
        ondelete="RESTRICT",
    )


def _created_at() -> sa.Column[sa.DateTime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _create_tables() -> None:
    op.create_table(
        "depreciation_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("asset_count", sa.Integer(), nullable=False),
        sa.Column("month_count", sa.Integer(), nullable=False),
        sa.Column("created_by_type", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "extract(day FROM period) = 1", name=op.f("depreciation_runs_period_is_month_check")
        ),
        sa.CheckConstraint(
            "asset_count >= 0 AND month_count >= 0", name=op.f("depreciation_runs_counts_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("depreciation_runs_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("depreciation_runs_pkey")),
    )
    op.create_index(
        op.f("depreciation_runs_tenant_id_period_idx"),
        "depreciation_runs",
        ["tenant_id", "period"],
    )
    op.create_table(
        "depreciation_postings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        _money("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "extract(day FROM period) = 1",
            name=op.f("depreciation_postings_period_is_month_check"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("depreciation_postings_amount_positive_check")),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("depreciation_postings_currency_iso_check")
        ),
        _fk("depreciation_postings", "asset_id", "assets"),
        _fk("depreciation_postings", "entry_id", "journal_entries"),
        _fk("depreciation_postings", "run_id", "depreciation_runs"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "asset_id", "period", name=op.f("depreciation_postings_pkey")
        ),
        sa.UniqueConstraint(
            "tenant_id", "entry_id", name=op.f("depreciation_postings_tenant_id_entry_id_key")
        ),
    )
    op.create_index(
        op.f("depreciation_postings_tenant_id_run_id_idx"),
        "depreciation_postings",
        ["tenant_id", "run_id"],
    )
    op.create_table(
        "asset_adjustments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("useful_life_months", sa.Integer(), nullable=True),
        _money("salvage_value", nullable=True),
        _money("recoverable_amount", nullable=True),
        _money("fair_value", nullable=True),
        _money("amount", nullable=True),
        _money("carrying_before"),
        _money("carrying_after"),
        _money("cost_change"),
        _money("impairment_change"),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('useful_life', 'salvage', 'impairment', 'revaluation', 'cost')",
            name=op.f("asset_adjustments_kind_allowed_check"),
        ),
        sa.CheckConstraint(
            "extract(day FROM effective_from) = 1",
            name=op.f("asset_adjustments_effective_from_is_month_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("asset_adjustments_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        _fk("asset_adjustments", "asset_id", "assets"),
        _fk("asset_adjustments", "entry_id", "journal_entries"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("asset_adjustments_pkey")),
    )
    op.create_index(
        op.f("asset_adjustments_tenant_id_asset_id_idx"),
        "asset_adjustments",
        ["tenant_id", "asset_id"],
    )


def _evolve_assets() -> None:
    op.add_column("assets", _money_default("accumulated_impairment"))
    op.add_column("assets", _money_default("revaluation_surplus"))
    op.add_column("assets", sa.Column("disposal_entry_id", sa.Uuid(), nullable=True))
    op.create_check_constraint(
        op.f("assets_write_downs_check"),
        "assets",
        "accumulated_impairment >= 0 AND revaluation_surplus >= 0",
    )
    op.create_foreign_key(
        op.f("assets_tenant_id_disposal_entry_id_fkey"),
        "assets",
        "journal_entries",
        ["tenant_id", "disposal_entry_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )


def _money_default(name: str) -> sa.Column[sa.Numeric]:
    return sa.Column(
        name, sa.Numeric(precision=18, scale=2), nullable=False, server_default=sa.text("0")
    )


def _new_accounts_for_existing_tenants() -> None:
    """Row security is forced on the owner too: lifted within this transaction while the
    accounts are written."""
    op.execute("ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE ledger_accounts NO FORCE ROW LEVEL SECURITY")
    tenants = op.get_bind().execute(sa.text("SELECT id FROM tenants")).scalars().all()
    for tenant in tenants:
        for code, name, kind in NEW_ACCOUNTS:
            op.execute(
                sa.text(
                    "INSERT INTO ledger_accounts (tenant_id, id, code, name, type, active,"
                    " version) VALUES (:tenant, :id, :code, :name, :kind, true, 1)"
                    " ON CONFLICT DO NOTHING"
                ).bindparams(tenant=tenant, id=new_id(), code=code, name=name, kind=kind)
            )
    op.execute("ALTER TABLE ledger_accounts FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    _create_tables()
    _evolve_assets()
    _new_accounts_for_existing_tenants()
    runtime, _ = migration_roles()
    for table in ("depreciation_runs", "depreciation_postings", "asset_adjustments"):
        enable_tenant_rls(table)
        grant(table, runtime, ["SELECT", "INSERT"])  # no UPDATE, no DELETE: history stays


def downgrade() -> None:
    op.drop_constraint(
        op.f("assets_tenant_id_disposal_entry_id_fkey"), "assets", type_="foreignkey"
    )
    op.drop_constraint(op.f("assets_write_downs_check"), "assets", type_="check")
    for column in ("disposal_entry_id", "revaluation_surplus", "accumulated_impairment"):
        op.drop_column("assets", column)
    op.drop_table("asset_adjustments")
    op.drop_table("depreciation_postings")
    op.drop_table("depreciation_runs")
