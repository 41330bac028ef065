"""purchasing: purchase orders, approvals, history, goods receipts, matches, the tenant's
matching settings; invoice lines that name a purchase order line; the invoice status
`match_exception` and its per-line differences; account 2150 (goods received not
invoiced) in every tenant's chart

PostgreSQL refuses what must never happen: a line received past its receipt limit, a
three-way line matched past what was received (check
`purchase_order_lines_matched_within_received_check`), an accrual released past what was
accrued, an invoice line naming another tenant's purchase order line (composite foreign
key) or another vendor's (trigger `invoice_line_purchase_order_vendor`, SQLSTATE
`LL010`). Approvals, history, receipt lines and matches are insert-only for the runtime
role; a receipt may only be marked reversed, a match only released; an order's vendor,
currency and matching mode never change (column grants).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 22:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerline.db.base import new_id
from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


GOODS_RECEIVED_NOT_INVOICED = ("2150", "Goods received not invoiced", "liability")
TABLES = (
    "purchasing_settings",
    "purchase_orders",
    "purchase_order_lines",
    "purchase_order_approvals",
    "purchase_order_status_history",
    "goods_receipts",
    "goods_receipt_lines",
    "purchase_order_matches",
)
STATUSES_BEFORE = "'draft', 'submitted', 'approved', 'rejected', 'paid', 'void'"
STATUSES_AFTER = "'draft', 'submitted', 'match_exception', 'approved', 'rejected', 'paid', 'void'"

SAME_VENDOR = """
CREATE FUNCTION invoice_line_purchase_order_vendor() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    line_vendor uuid;
    invoice_vendor uuid;
BEGIN
    IF NEW.purchase_order_line_id IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT vendor_id INTO line_vendor FROM purchase_order_lines
     WHERE tenant_id = NEW.tenant_id AND id = NEW.purchase_order_line_id;
    SELECT vendor_id INTO invoice_vendor FROM invoices
     WHERE tenant_id = NEW.tenant_id AND id = NEW.invoice_id;
    IF line_vendor IS DISTINCT FROM invoice_vendor THEN
        RAISE EXCEPTION 'an invoice line names a purchase order line of another vendor'
            USING ERRCODE = 'LL010';
    END IF;
    RETURN NEW;
END
$$
"""


def _invoice_status_check(statuses: str) -> None:
    op.drop_constraint(op.f("invoices_status_allowed_check"), "invoices", type_="check")
    op.create_check_constraint(
        op.f("invoices_status_allowed_check"), "invoices", f"status IN ({statuses})"
    )


def _goods_received_not_invoiced_for_existing_tenants() -> None:
    """Account 2150 in every existing tenant's chart that lacks it (row security lifted
    for the owner within this transaction while the rows are written)."""
    code, name, kind = GOODS_RECEIVED_NOT_INVOICED
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
    _invoice_status_check(STATUSES_AFTER)
    op.execute(SAME_VENDOR)
    op.execute(
        "CREATE TRIGGER invoice_line_purchase_order_vendor BEFORE INSERT OR UPDATE OF"
        " purchase_order_line_id ON invoice_lines FOR EACH ROW"
        " EXECUTE FUNCTION invoice_line_purchase_order_vendor()"
    )
    _goods_received_not_invoiced_for_existing_tenants()
    for table in TABLES:
        enable_tenant_rls(table)
    grant("purchasing_settings", runtime, ["SELECT", "INSERT"])
    op.execute(
        "GRANT UPDATE (matching, price_tolerance_percent, quantity_tolerance,"
        " over_receipt_percent, accrue_on_receipt, version, updated_at)"
        f' ON purchasing_settings TO "{runtime}"'
    )
    grant("purchase_orders", runtime, ["SELECT", "INSERT"])
    op.execute(
        "GRANT UPDATE (number, ordered_on, notes, status, total, approved_at, version,"
        f' updated_at) ON purchase_orders TO "{runtime}"'
    )
    grant("purchase_order_lines", runtime, ["SELECT", "INSERT", "DELETE"])
    op.execute(
        "GRANT UPDATE (quantity_received, quantity_matched, quantity_accrued,"
        f' quantity_released) ON purchase_order_lines TO "{runtime}"'
    )
    for table in ("purchase_order_approvals", "purchase_order_status_history"):
        grant(table, runtime, ["SELECT", "INSERT"])
    grant("goods_receipts", runtime, ["SELECT", "INSERT"])
    op.execute(
        f'GRANT UPDATE (reversed_at, reversal_entry_id, version) ON goods_receipts TO "{runtime}"'
    )
    grant("goods_receipt_lines", runtime, ["SELECT", "INSERT"])
    grant("purchase_order_matches", runtime, ["SELECT", "INSERT"])
    op.execute(
        f'GRANT UPDATE (released_at, accrual_released) ON purchase_order_matches TO "{runtime}"'
    )


def _create_tables() -> None:
    op.create_table(
        "purchasing_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("matching", sa.String(length=16), nullable=False),
        sa.Column("price_tolerance_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("quantity_tolerance", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("over_receipt_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("accrue_on_receipt", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "matching IN ('two_way', 'three_way')",
            name=op.f("purchasing_settings_matching_allowed_check"),
        ),
        sa.CheckConstraint(
            "over_receipt_percent >= 0 AND over_receipt_percent <= 100",
            name=op.f("purchasing_settings_over_receipt_range_check"),
        ),
        sa.CheckConstraint(
            "price_tolerance_percent >= 0 AND price_tolerance_percent <= 100",
            name=op.f("purchasing_settings_price_tolerance_range_check"),
        ),
        sa.CheckConstraint(
            "quantity_tolerance >= 0",
            name=op.f("purchasing_settings_quantity_tolerance_positive_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchasing_settings_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("purchasing_settings_pkey")),
        sa.UniqueConstraint("tenant_id", name=op.f("purchasing_settings_tenant_id_key")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ordered_on", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("matching", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("purchase_orders_currency_iso_check")
        ),
        sa.CheckConstraint(
            "matching IN ('two_way', 'three_way')",
            name=op.f("purchase_orders_matching_allowed_check"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'approved', 'partially_received', 'received', 'closed',"
            " 'cancelled')",
            name=op.f("purchase_orders_status_allowed_check"),
        ),
        sa.CheckConstraint("total >= 0", name=op.f("purchase_orders_total_positive_check")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "vendor_id"],
            ["vendors.tenant_id", "vendors.id"],
            name=op.f("purchase_orders_tenant_id_vendor_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchase_orders_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("purchase_orders_pkey")),
        sa.UniqueConstraint(
            "tenant_id", "id", "vendor_id", name=op.f("purchase_orders_tenant_id_id_vendor_id_key")
        ),
        sa.UniqueConstraint(
            "tenant_id", "number", name=op.f("purchase_orders_tenant_id_number_key")
        ),
    )
    op.create_index(
        op.f("purchase_orders_tenant_id_status_id_idx"),
        "purchase_orders",
        ["tenant_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        op.f("purchase_orders_tenant_id_vendor_id_id_idx"),
        "purchase_orders",
        ["tenant_id", "vendor_id", "id"],
        unique=False,
    )
    op.create_table(
        "goods_receipts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversal_entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "reversal_entry_id IS NULL OR reversed_at IS NOT NULL",
            name=op.f("goods_receipts_reversal_dated_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            name=op.f("goods_receipts_tenant_id_entry_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "purchase_order_id"],
            ["purchase_orders.tenant_id", "purchase_orders.id"],
            name=op.f("goods_receipts_tenant_id_purchase_order_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "reversal_entry_id"],
            ["journal_entries.tenant_id", "journal_entries.id"],
            name=op.f("goods_receipts_tenant_id_reversal_entry_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("goods_receipts_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("goods_receipts_pkey")),
    )
    op.create_index(
        op.f("goods_receipts_tenant_id_purchase_order_id_idx"),
        "goods_receipts",
        ["tenant_id", "purchase_order_id"],
        unique=False,
    )
    op.create_table(
        "purchase_order_approvals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("approver_type", sa.String(length=16), nullable=False),
        sa.Column("approver_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column(
            "approved_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("step >= 1", name=op.f("purchase_order_approvals_step_positive_check")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "purchase_order_id"],
            ["purchase_orders.tenant_id", "purchase_orders.id"],
            name=op.f("purchase_order_approvals_tenant_id_purchase_order_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchase_order_approvals_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("purchase_order_approvals_pkey")),
        sa.UniqueConstraint(
            "tenant_id",
            "purchase_order_id",
            "approver_id",
            name=op.f("purchase_order_approvals_tenant_id_purchase_order_id_approver_id_key"),
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "purchase_order_id",
            "step",
            name=op.f("purchase_order_approvals_tenant_id_purchase_order_id_step_key"),
        ),
    )
    op.create_table(
        "purchase_order_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("tax_code", sa.String(length=16), nullable=True),
        sa.Column("account_code", sa.String(length=16), nullable=True),
        sa.Column("three_way", sa.Boolean(), nullable=False),
        sa.Column("receipt_limit", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("quantity_received", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("quantity_matched", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("quantity_accrued", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("quantity_released", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("purchase_order_lines_quantity_positive_check")
        ),
        sa.CheckConstraint(
            "quantity_accrued >= 0 AND quantity_accrued <= quantity_received"
            " AND quantity_released >= 0 AND quantity_released <= quantity_accrued",
            name=op.f("purchase_order_lines_accrual_within_received_check"),
        ),
        sa.CheckConstraint(
            "quantity_matched >= 0 AND (NOT three_way OR quantity_matched <= quantity_received)",
            name=op.f("purchase_order_lines_matched_within_received_check"),
        ),
        sa.CheckConstraint(
            "quantity_received >= 0 AND quantity_received <= receipt_limit",
            name=op.f("purchase_order_lines_received_within_limit_check"),
        ),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("purchase_order_lines_unit_price_positive_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_code"],
            ["ledger_accounts.tenant_id", "ledger_accounts.code"],
            name=op.f("purchase_order_lines_tenant_id_account_code_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "purchase_order_id", "vendor_id"],
            ["purchase_orders.tenant_id", "purchase_orders.id", "purchase_orders.vendor_id"],
            name=op.f("purchase_order_lines_tenant_id_purchase_order_id_vendor_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tax_code"],
            ["tax_codes.tenant_id", "tax_codes.code"],
            name=op.f("purchase_order_lines_tenant_id_tax_code_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchase_order_lines_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("purchase_order_lines_pkey")),
        sa.UniqueConstraint(
            "tenant_id",
            "purchase_order_id",
            "position",
            name=op.f("purchase_order_lines_tenant_id_purchase_order_id_position_key"),
        ),
    )
    op.create_index(
        op.f("purchase_order_lines_tenant_id_purchase_order_id_idx"),
        "purchase_order_lines",
        ["tenant_id", "purchase_order_id"],
        unique=False,
    )
    op.create_table(
        "purchase_order_status_history",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "purchase_order_id"],
            ["purchase_orders.tenant_id", "purchase_orders.id"],
            name=op.f("purchase_order_status_history_tenant_id_purchase_order_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchase_order_status_history_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("purchase_order_status_history_pkey")),
    )
    op.create_index(
        op.f("purchase_order_status_history_tenant_id_purchase_order_id_idx"),
        "purchase_order_status_history",
        ["tenant_id", "purchase_order_id"],
        unique=False,
    )
    op.create_table(
        "goods_receipt_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("receipt_id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_line_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("accrued", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("goods_receipt_lines_quantity_positive_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "purchase_order_line_id"],
            ["purchase_order_lines.tenant_id", "purchase_order_lines.id"],
            name=op.f("goods_receipt_lines_tenant_id_purchase_order_line_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "receipt_id"],
            ["goods_receipts.tenant_id", "goods_receipts.id"],
            name=op.f("goods_receipt_lines_tenant_id_receipt_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("goods_receipt_lines_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("goods_receipt_lines_pkey")),
    )
    op.create_index(
        op.f("goods_receipt_lines_tenant_id_purchase_order_line_id_idx"),
        "goods_receipt_lines",
        ["tenant_id", "purchase_order_line_id"],
        unique=False,
    )
    op.create_index(
        op.f("goods_receipt_lines_tenant_id_receipt_id_idx"),
        "goods_receipt_lines",
        ["tenant_id", "receipt_id"],
        unique=False,
    )
    op.create_table(
        "purchase_order_matches",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("purchase_order_line_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("accrual_released", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("purchase_order_matches_quantity_positive_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("purchase_order_matches_tenant_id_invoice_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "purchase_order_line_id"],
            ["purchase_order_lines.tenant_id", "purchase_order_lines.id"],
            name=op.f("purchase_order_matches_tenant_id_purchase_order_line_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("purchase_order_matches_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("purchase_order_matches_pkey")),
    )
    op.create_index(
        op.f("purchase_order_matches_tenant_id_invoice_id_idx"),
        "purchase_order_matches",
        ["tenant_id", "invoice_id"],
        unique=False,
    )
    op.create_index(
        op.f("purchase_order_matches_tenant_id_purchase_order_line_id_idx"),
        "purchase_order_matches",
        ["tenant_id", "purchase_order_line_id"],
        unique=False,
    )
    op.add_column("invoice_lines", sa.Column("purchase_order_line_id", sa.Uuid(), nullable=True))
    op.create_index(
        op.f("invoice_lines_tenant_id_purchase_order_line_id_idx"),
        "invoice_lines",
        ["tenant_id", "purchase_order_line_id"],
        unique=False,
    )
    op.create_foreign_key(
        op.f("invoice_lines_tenant_id_purchase_order_line_id_fkey"),
        "invoice_lines",
        "purchase_order_lines",
        ["tenant_id", "purchase_order_line_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    op.add_column(
        "invoices",
        sa.Column(
            "match_differences",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER invoice_line_purchase_order_vendor ON invoice_lines")
    op.execute("DROP FUNCTION invoice_line_purchase_order_vendor()")
    op.execute("UPDATE invoices SET status = 'submitted' WHERE status = 'match_exception'")
    _invoice_status_check(STATUSES_BEFORE)
    op.drop_column("invoices", "match_differences")
    op.drop_constraint(
        op.f("invoice_lines_tenant_id_purchase_order_line_id_fkey"),
        "invoice_lines",
        type_="foreignkey",
    )
    op.drop_index(
        op.f("invoice_lines_tenant_id_purchase_order_line_id_idx"), table_name="invoice_lines"
    )
    op.drop_column("invoice_lines", "purchase_order_line_id")
    op.drop_index(
        op.f("purchase_order_matches_tenant_id_purchase_order_line_id_idx"),
        table_name="purchase_order_matches",
    )
    op.drop_index(
        op.f("purchase_order_matches_tenant_id_invoice_id_idx"), table_name="purchase_order_matches"
    )
    op.drop_table("purchase_order_matches")
    op.drop_index(
        op.f("goods_receipt_lines_tenant_id_receipt_id_idx"), table_name="goods_receipt_lines"
    )
    op.drop_index(
        op.f("goods_receipt_lines_tenant_id_purchase_order_line_id_idx"),
        table_name="goods_receipt_lines",
    )
    op.drop_table("goods_receipt_lines")
    op.drop_index(
        op.f("purchase_order_status_history_tenant_id_purchase_order_id_idx"),
        table_name="purchase_order_status_history",
    )
    op.drop_table("purchase_order_status_history")
    op.drop_index(
        op.f("purchase_order_lines_tenant_id_purchase_order_id_idx"),
        table_name="purchase_order_lines",
    )
    op.drop_table("purchase_order_lines")
    op.drop_table("purchase_order_approvals")
    op.drop_index(
        op.f("goods_receipts_tenant_id_purchase_order_id_idx"), table_name="goods_receipts"
    )
    op.drop_table("goods_receipts")
    op.drop_index(op.f("purchase_orders_tenant_id_vendor_id_id_idx"), table_name="purchase_orders")
    op.drop_index(op.f("purchase_orders_tenant_id_status_id_idx"), table_name="purchase_orders")
    op.drop_table("purchase_orders")
    op.drop_table("purchasing_settings")
    op.execute("ALTER TABLE ledger_accounts NO FORCE ROW LEVEL SECURITY")
    op.execute(
        f"DELETE FROM ledger_accounts a WHERE a.code = '{GOODS_RECEIVED_NOT_INVOICED[0]}'"
        " AND NOT EXISTS (SELECT 1 FROM ledger_balances b WHERE b.account_id = a.id)"
    )
    op.execute("ALTER TABLE ledger_accounts FORCE ROW LEVEL SECURITY")
