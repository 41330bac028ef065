"""credit note match: an invoice in match_exception resolved by a credit note of its
vendor (`purchase_order_match_resolutions`, a credit note resolves once); the tax of
purchase order lines and the orders' tax totals

PostgreSQL refuses using one credit note for two resolutions (unique
`(tenant_id, credit_note_id)`) and a credit note or invoice of another vendor (both
foreign keys name the vendor); resolutions are insert-only for the runtime role. Lines
and orders made before this revision get their tax computed here as `invoices/taxes.py`
computes a line's (per component, rounded half-up to the cent; reverse charge 0).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-28 00:08:19.328016+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.citus import distribute
from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    runtime, _ = migration_roles()
    op.create_table(
        "purchase_order_match_resolutions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "credit_note_id <> invoice_id",
            name=op.f("purchase_order_match_resolutions_not_itself_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "credit_note_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            name=op.f("purchase_order_match_resolutions_tenant_id_credit_note_id_vendor_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            name=op.f("purchase_order_match_resolutions_tenant_id_invoice_id_vendor_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchase_order_match_resolutions_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "id", name=op.f("purchase_order_match_resolutions_pkey")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "credit_note_id",
            name=op.f("purchase_order_match_resolutions_tenant_id_credit_note_id_key"),
        ),
    )
    op.create_index(
        op.f("purchase_order_match_resolutions_tenant_id_invoice_id_idx"),
        "purchase_order_match_resolutions",
        ["tenant_id", "invoice_id"],
        unique=False,
    )
    op.add_column(
        "purchase_order_lines",
        sa.Column(
            "tax_amount",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            server_default=sa.text("0"),
        ),
    )
    op.add_column(
        "purchase_orders",
        sa.Column(
            "tax_total",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            server_default=sa.text("0"),
        ),
    )
    _tax_of_existing_orders()
    op.alter_column("purchase_order_lines", "tax_amount", server_default=None)
    op.alter_column("purchase_orders", "tax_total", server_default=None)
    op.create_check_constraint(
        "purchase_order_lines_tax_amount_positive_check",
        "purchase_order_lines",
        "tax_amount >= 0",
    )
    op.create_check_constraint(
        "purchase_orders_tax_total_positive_check", "purchase_orders", "tax_total >= 0"
    )
    enable_tenant_rls("purchase_order_match_resolutions")
    grant("purchase_order_match_resolutions", runtime, ["SELECT", "INSERT"])
    op.execute(
        "GRANT UPDATE (number, ordered_on, notes, status, total, tax_total, approved_at,"
        f' version, updated_at) ON purchase_orders TO "{runtime}"'
    )
    distribute(op.get_bind(), runtime)


# A line's tax as `invoices/taxes.py` computes it: a code without components taxes the
# net amount at its rate; a split code sums its components that apply (intra-state when
# the vendor's state is the code's home state, else inter-state; `always` parts always),
# each rounded half-up to the cent; reverse charge is not charged by the vendor.
LINE_TAX = """
UPDATE purchase_order_lines l SET tax_amount = COALESCE((
    SELECT CASE
        WHEN t.kind = 'reverse_charge' THEN 0
        WHEN jsonb_array_length(t.components) = 0 THEN round(l.amount * t.rate, 2)
        ELSE (SELECT COALESCE(sum(round(l.amount * (c->>'rate')::numeric, 2)), 0)
                FROM jsonb_array_elements(t.components) c
               WHERE c->>'applies_to' IN ('always',
                     CASE WHEN v.state_code = t.home_state_code THEN 'intra_state'
                          ELSE 'inter_state' END))
    END
    FROM tax_codes t JOIN vendors v ON v.tenant_id = t.tenant_id AND v.id = l.vendor_id
    WHERE t.tenant_id = l.tenant_id AND t.code = l.tax_code), 0)
WHERE l.tax_code IS NOT NULL
"""
ORDER_TAX = """
UPDATE purchase_orders o SET tax_total = (
    SELECT COALESCE(sum(l.tax_amount), 0) FROM purchase_order_lines l
    WHERE l.tenant_id = o.tenant_id AND l.purchase_order_id = o.id)
"""
BACKFILLED = ("purchase_orders", "purchase_order_lines", "tax_codes", "vendors")


def _tax_of_existing_orders() -> None:
    """Row security lifted for the owner within this transaction while the rows are
    written (as migration 0018 does)."""
    for table in BACKFILLED:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(LINE_TAX)
    op.execute(ORDER_TAX)
    for table in BACKFILLED:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    runtime, _ = migration_roles()
    op.execute(f'REVOKE UPDATE (tax_total) ON purchase_orders FROM "{runtime}"')
    op.drop_column("purchase_orders", "tax_total")
    op.drop_column("purchase_order_lines", "tax_amount")
    op.drop_index(
        op.f("purchase_order_match_resolutions_tenant_id_invoice_id_idx"),
        table_name="purchase_order_match_resolutions",
    )
    op.drop_table("purchase_order_match_resolutions")
