"""financing: programs with a budget, early-payment offers, acceptances, settlements; the
payable-to-funders account 2400 in every tenant's chart

PostgreSQL refuses what must never happen: a program's `committed` outside 0..budget
(check `financing_programs_within_budget_check`), an offer whose discount and net do not
sum to its open amount, a second live offer of one invoice (partial unique index), a
second acceptance of one offer, a second settlement or repayment of one offer. The
runtime role may change an offer's status columns only, never its terms, and a program's
name, rate, minimum days, budget and committed amount only, never its currency or
funding; it deletes nothing here.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 21:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.base import new_id
from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNDER_PAYABLE = ("2400", "Payable to financing funders", "liability")
TABLES = (
    "financing_settlements",
    "financing_acceptances",
    "financing_offers",
    "financing_programs",
)


def _created_at() -> sa.Column[sa.DateTime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _money(name: str) -> sa.Column[sa.Numeric]:
    return sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"{table}_tenant_id_fkey"), ondelete="RESTRICT"
    )


def _composite_fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=op.f(f"{table}_tenant_id_{column}_fkey"),
        ondelete="RESTRICT",
    )


def _check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=op.f(f"{table}_{name}_check"))


def _create_tables() -> None:
    table = "financing_programs"
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("apr", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("day_count", sa.String(length=8), nullable=False),
        sa.Column("min_days_early", sa.Integer(), nullable=False),
        _money("budget"),
        _money("committed"),
        sa.Column("funding", sa.String(length=16), nullable=False),
        sa.Column("funder_name", sa.String(length=200), nullable=True),
        sa.Column("funder_fee_share", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _created_at(),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _check(table, "currency_iso", "currency ~ '^[A-Z]{3}$'"),
        _check(table, "apr_range", "apr > 0 AND apr <= 1"),
        _check(table, "day_count_allowed", "day_count IN ('ACT/365', 'ACT/360')"),
        _check(table, "min_days_early_positive", "min_days_early >= 1"),
        _check(table, "funding_allowed", "funding IN ('own_cash', 'funder')"),
        _check(
            table,
            "funder_named",
            "(funding = 'funder') = (funder_name IS NOT NULL)"
            " AND (funding = 'funder' OR funder_fee_share = 0)",
        ),
        _check(table, "fee_share_range", "funder_fee_share >= 0 AND funder_fee_share <= 1"),
        _check(table, "within_budget", "committed >= 0 AND committed <= budget"),
        _tenant_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"{table}_pkey")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f(f"{table}_tenant_id_name_key")),
    )

    table = "financing_offers"
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_version", sa.Integer(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_email", sa.String(length=320), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("open_amount"),
        _money("discount"),
        _money("net_amount"),
        sa.Column("apr", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("day_count", sa.String(length=8), nullable=False),
        sa.Column("days_early", sa.Integer(), nullable=False),
        sa.Column("pay_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _created_at(),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _check(
            table,
            "status_allowed",
            "status IN ('offered', 'accepted', 'withdrawn', 'expired', 'settled', 'repaid')",
        ),
        _check(table, "currency_iso", "currency ~ '^[A-Z]{3}$'"),
        _check(
            table,
            "discount_and_net_sum_to_open",
            "discount >= 0 AND net_amount > 0 AND discount + net_amount = open_amount",
        ),
        _check(table, "days_early", "days_early >= 1 AND pay_on + days_early = due_date"),
        _composite_fk(table, "program_id", "financing_programs"),
        _composite_fk(table, "invoice_id", "invoices"),
        _composite_fk(table, "vendor_id", "vendors"),
        _tenant_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"{table}_pkey")),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name=op.f(f"{table}_tenant_id_token_hash_key")
        ),
    )
    op.create_index(
        "financing_offers_one_live_per_invoice",
        table,
        ["tenant_id", "invoice_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('offered', 'accepted')"),
    )
    for columns in (["tenant_id", "program_id"], ["tenant_id", "invoice_id"]):
        op.create_index(op.f(f"{table}_{'_'.join(columns)}_idx"), table, columns)
    op.create_index(op.f(f"{table}_tenant_id_status_id_idx"), table, ["tenant_id", "status", "id"])

    table = "financing_acceptances"
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        _money("reserved"),
        sa.Column(
            "accepted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _check(table, "reserved_positive", "reserved > 0"),
        _composite_fk(table, "offer_id", "financing_offers"),
        _composite_fk(table, "program_id", "financing_programs"),
        _tenant_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"{table}_pkey")),
        sa.UniqueConstraint("tenant_id", "offer_id", name=op.f(f"{table}_tenant_id_offer_id_key")),
    )
    op.create_index(op.f(f"{table}_tenant_id_program_id_idx"), table, ["tenant_id", "program_id"])
    op.create_index(
        op.f(f"{table}_tenant_id_accepted_at_id_idx"), table, ["tenant_id", "accepted_at", "id"]
    )

    table = "financing_settlements"
    op.create_table(
        table,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        _money("amount"),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        _created_at(),
        _check(table, "kind_allowed", "kind IN ('settlement', 'repayment')"),
        _check(table, "amount_positive", "amount > 0"),
        _composite_fk(table, "offer_id", "financing_offers"),
        _composite_fk(table, "program_id", "financing_programs"),
        _composite_fk(table, "entry_id", "journal_entries"),
        _tenant_fk(table),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"{table}_pkey")),
        sa.UniqueConstraint(
            "tenant_id", "offer_id", "kind", name=op.f(f"{table}_tenant_id_offer_id_kind_key")
        ),
        sa.UniqueConstraint("tenant_id", "entry_id", name=op.f(f"{table}_tenant_id_entry_id_key")),
    )
    op.create_index(op.f(f"{table}_tenant_id_program_id_idx"), table, ["tenant_id", "program_id"])
    op.create_index(
        op.f(f"{table}_tenant_id_paid_on_id_idx"), table, ["tenant_id", "paid_on", "id"]
    )


def _funder_payable_for_existing_tenants() -> None:
    """Account 2400 in every existing tenant's chart that lacks it (row security lifted
    for the owner within this transaction while the rows are written)."""
    code, name, kind = FUNDER_PAYABLE
    op.execute("ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE ledger_accounts NO FORCE ROW LEVEL SECURITY")
    tenants = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT t.id FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a"
                " WHERE a.tenant_id = t.id AND a.code = :code)"
            ),
            {"code": code},
        )
        .scalars()
        .all()
    )
    accounts = sa.table(
        "ledger_accounts",
        *(sa.column(column) for column in ("tenant_id", "id", "code", "name", "type")),
        sa.column("active", sa.Boolean()),
        sa.column("version", sa.Integer()),
    )
    rows = [
        {
            "tenant_id": tenant,
            "id": new_id(),
            "code": code,
            "name": name,
            "type": kind,
            "active": True,
            "version": 1,
        }
        for tenant in tenants
    ]
    if rows:
        op.bulk_insert(accounts, rows)
    op.execute("ALTER TABLE ledger_accounts FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    runtime, _ = migration_roles()
    _create_tables()
    _funder_payable_for_existing_tenants()
    for table in TABLES:
        enable_tenant_rls(table)
    grant("financing_programs", runtime, ["SELECT", "INSERT"])
    op.execute(
        "GRANT UPDATE (name, apr, min_days_early, budget, committed, version, updated_at)"
        f' ON financing_programs TO "{runtime}"'
    )
    grant("financing_offers", runtime, ["SELECT", "INSERT"])
    op.execute(f'GRANT UPDATE (status, closed_at, version) ON financing_offers TO "{runtime}"')
    grant("financing_acceptances", runtime, ["SELECT", "INSERT"])
    grant("financing_settlements", runtime, ["SELECT", "INSERT"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    op.execute("ALTER TABLE ledger_accounts NO FORCE ROW LEVEL SECURITY")
    op.execute(
        f"DELETE FROM ledger_accounts a WHERE a.code = '{FUNDER_PAYABLE[0]}'"
        " AND NOT EXISTS (SELECT 1 FROM ledger_balances b WHERE b.account_id = a.id)"
    )
    op.execute("ALTER TABLE ledger_accounts FORCE ROW LEVEL SECURITY")
