"""payables: tax codes, credit notes and their allocations, approvals and the approval
policy, invoice numbers compared in a normalised form

- `tax_codes`: what a code computes (kind, rate, recoverable share, components,
  accounts) never changes once it exists: the runtime role may update only its name and
  whether it is active. Zero and exempt codes have rate 0; a reverse-charge code names
  its output-tax account.
- `invoices.number_key`: the number folded (NFKC, case, everything but letters and
  digits dropped); unique per vendor among invoices that are not void, so a voided
  invoice no longer blocks its number. Existing rows whose folded numbers collide keep
  apart by their id.
- `invoice_approvals` and `credit_note_allocations` are insert-only for the runtime
  role; an allocation's two foreign keys name the vendor, so a credit note is only set
  against its own vendor's invoices.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 21:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Invoices from before tax codes: one row per bare rate, all input tax recoverable in 1400.
TAX_SUMMARY_OF_EXISTING_INVOICES = """
UPDATE invoices AS i
   SET tax_summary = coalesce((
       SELECT jsonb_agg(jsonb_build_object(
                  'tax_code', NULL, 'component', NULL, 'rate', r.rate::text,
                  'taxable_amount', r.taxable::text, 'tax_amount', r.tax::text,
                  'recoverable_amount', r.tax::text, 'reverse_charge', false,
                  'input_account_code', '1400', 'output_account_code', NULL) ORDER BY r.rate)
         FROM (SELECT l.tax_rate AS rate, sum(l.line_subtotal) AS taxable, sum(l.line_tax) AS tax
                 FROM invoice_lines AS l
                WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id
                GROUP BY l.tax_rate) AS r), '[]'::jsonb)
"""

INVOICE_CHECKS = {
    "kind_allowed": "kind IN ('invoice', 'credit_note')",
    "original_of_credit_note": "original_invoice_id IS NULL OR kind = 'credit_note'",
    "tax_rounding_allowed": "tax_rounding IN ('per_line', 'per_rate')",
}


def upgrade() -> None:
    # The target of the allocations' foreign keys, before their table.
    op.create_unique_constraint(
        op.f("invoices_tenant_id_id_vendor_id_key"), "invoices", ["tenant_id", "id", "vendor_id"]
    )
    op.create_table(
        "approval_policies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("segregation_of_duties", sa.Boolean(), nullable=False),
        sa.Column("approver_cannot_pay", sa.Boolean(), nullable=False),
        sa.Column("thresholds", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
            "jsonb_typeof(thresholds) = 'array'",
            name=op.f("approval_policies_thresholds_array_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("approval_policies_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("approval_policies_pkey")),
        sa.UniqueConstraint("tenant_id", name=op.f("approval_policies_tenant_id_key")),
    )
    op.create_table(
        "tax_codes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("recoverable", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("components", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("input_account_code", sa.String(length=16), nullable=False),
        sa.Column("output_account_code", sa.String(length=16), nullable=True),
        sa.Column("home_state_code", sa.String(length=2), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
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
            "home_state_code ~ '^[0-9]{2}$'", name=op.f("tax_codes_home_state_code_digits_check")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(components) = 'array'", name=op.f("tax_codes_components_array_check")
        ),
        sa.CheckConstraint(
            "kind <> 'reverse_charge' OR output_account_code IS NOT NULL",
            name=op.f("tax_codes_reverse_charge_output_account_check"),
        ),
        sa.CheckConstraint(
            "kind IN ('standard', 'reduced', 'zero', 'exempt', 'reverse_charge')",
            name=op.f("tax_codes_kind_allowed_check"),
        ),
        sa.CheckConstraint(
            "kind NOT IN ('zero', 'exempt') OR rate = 0",
            name=op.f("tax_codes_untaxed_rate_zero_check"),
        ),
        sa.CheckConstraint("rate >= 0 AND rate <= 1", name=op.f("tax_codes_rate_range_check")),
        sa.CheckConstraint(
            "recoverable >= 0 AND recoverable <= 1", name=op.f("tax_codes_recoverable_range_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "input_account_code"],
            ["ledger_accounts.tenant_id", "ledger_accounts.code"],
            name=op.f("tax_codes_tenant_id_input_account_code_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "output_account_code"],
            ["ledger_accounts.tenant_id", "ledger_accounts.code"],
            name=op.f("tax_codes_tenant_id_output_account_code_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("tax_codes_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("tax_codes_pkey")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("tax_codes_tenant_id_code_key")),
    )
    op.create_table(
        "credit_note_allocations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "amount > 0", name=op.f("credit_note_allocations_amount_positive_check")
        ),
        sa.CheckConstraint(
            "credit_note_id <> invoice_id", name=op.f("credit_note_allocations_not_itself_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "credit_note_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            name=op.f("credit_note_allocations_tenant_id_credit_note_id_vendor_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id", "vendor_id"],
            ["invoices.tenant_id", "invoices.id", "invoices.vendor_id"],
            name=op.f("credit_note_allocations_tenant_id_invoice_id_vendor_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("credit_note_allocations_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("credit_note_allocations_pkey")),
    )
    op.create_index(
        op.f("credit_note_allocations_tenant_id_credit_note_id_idx"),
        "credit_note_allocations",
        ["tenant_id", "credit_note_id"],
        unique=False,
    )
    op.create_index(
        op.f("credit_note_allocations_tenant_id_invoice_id_idx"),
        "credit_note_allocations",
        ["tenant_id", "invoice_id"],
        unique=False,
    )
    op.create_table(
        "invoice_approvals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("approver_type", sa.String(length=16), nullable=False),
        sa.Column("approver_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("duplicate_override_reason", sa.Text(), nullable=True),
        sa.Column(
            "approved_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("step >= 1", name=op.f("invoice_approvals_step_positive_check")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("invoice_approvals_tenant_id_invoice_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("invoice_approvals_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("invoice_approvals_pkey")),
        sa.UniqueConstraint(
            "tenant_id",
            "invoice_id",
            "submission",
            "approver_id",
            name=op.f("invoice_approvals_tenant_id_invoice_id_submission_approver_id_key"),
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "invoice_id",
            "submission",
            "step",
            name=op.f("invoice_approvals_tenant_id_invoice_id_submission_step_key"),
        ),
    )
    op.add_column("invoice_lines", sa.Column("tax_code", sa.String(length=16), nullable=True))
    op.create_foreign_key(
        op.f("invoice_lines_tenant_id_tax_code_fkey"),
        "invoice_lines",
        "tax_codes",
        ["tenant_id", "tax_code"],
        ["tenant_id", "code"],
        ondelete="RESTRICT",
    )
    op.add_column(
        "invoices",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="invoice"),
    )
    op.add_column("invoices", sa.Column("original_invoice_id", sa.Uuid(), nullable=True))
    op.add_column(
        "invoices",
        sa.Column("tax_rounding", sa.String(length=8), nullable=False, server_default="per_line"),
    )
    op.add_column(
        "invoices",
        sa.Column(
            "tax_summary",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.add_column("invoices", sa.Column("number_key", sa.String(length=64), nullable=True))
    op.add_column(
        "invoices",
        sa.Column(
            "possible_duplicate_of",
            postgresql.ARRAY(sa.Uuid()),
            nullable=False,
            server_default=sa.text("'{}'::uuid[]"),
        ),
    )
    op.add_column(
        "invoices", sa.Column("submissions", sa.Integer(), nullable=False, server_default="0")
    )
    for column in ("kind", "tax_rounding", "tax_summary", "possible_duplicate_of", "submissions"):
        op.alter_column("invoices", column, server_default=None)
    op.drop_constraint(op.f("invoices_tenant_id_vendor_id_number_key"), "invoices", type_="unique")
    op.create_index(
        op.f("invoices_tenant_id_vendor_id_number_key_idx"),
        "invoices",
        ["tenant_id", "vendor_id", "number_key"],
        unique=True,
        postgresql_where=sa.text("status <> 'void'"),
    )
    op.create_foreign_key(
        op.f("invoices_tenant_id_original_invoice_id_fkey"),
        "invoices",
        "invoices",
        ["tenant_id", "original_invoice_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    op.add_column("vendors", sa.Column("state_code", sa.String(length=2), nullable=True))
    _invoice_checks()
    _number_keys()
    op.execute("UPDATE invoices SET submissions = 1 WHERE status NOT IN ('draft', 'void')")
    op.execute(TAX_SUMMARY_OF_EXISTING_INVOICES)
    _grants()


def _invoice_checks() -> None:
    for name, condition in INVOICE_CHECKS.items():
        op.create_check_constraint(op.f(f"invoices_{name}_check"), "invoices", condition)
    op.create_check_constraint(
        op.f("vendors_state_code_digits_check"), "vendors", "state_code ~ '^[0-9]{2}$'"
    )


def _number_keys() -> None:
    """Existing numbers folded as invoices/duplicates.py folds them; of rows whose folded
    numbers collide, all but the first keep their id in the key."""
    op.execute(
        """
        WITH folded AS (
            SELECT tenant_id, id,
                   left(lower(regexp_replace(normalize(number, NFKC), '[^[:alnum:]]', '', 'g')),
                        64) AS key,
                   row_number() OVER (
                       PARTITION BY tenant_id, vendor_id,
                           lower(regexp_replace(normalize(number, NFKC), '[^[:alnum:]]', '', 'g'))
                       ORDER BY id) AS nth
              FROM invoices
             WHERE number IS NOT NULL AND status <> 'void')
        UPDATE invoices AS i
           SET number_key = CASE WHEN f.nth = 1 THEN f.key ELSE left(f.key, 27) || ':' || i.id END
          FROM folded AS f
         WHERE i.tenant_id = f.tenant_id AND i.id = f.id
        """
    )
    op.execute(
        """
        UPDATE invoices
           SET number_key = left(lower(regexp_replace(normalize(number, NFKC),
                                 '[^[:alnum:]]', '', 'g')), 64)
         WHERE number IS NOT NULL AND status = 'void'
        """
    )


def _grants() -> None:
    runtime, _ = migration_roles()
    enable_tenant_rls("tax_codes")
    grant("tax_codes", runtime, ["SELECT", "INSERT"])
    op.execute(f'GRANT UPDATE (name, active, version, updated_at) ON tax_codes TO "{runtime}"')
    enable_tenant_rls("approval_policies")
    grant("approval_policies", runtime, ["SELECT", "INSERT", "UPDATE"])
    for table in ("invoice_approvals", "credit_note_allocations"):
        enable_tenant_rls(table)
        grant(table, runtime, ["SELECT", "INSERT"])


def downgrade() -> None:
    runtime, _ = migration_roles()
    op.execute(f'REVOKE UPDATE (name, active, version, updated_at) ON tax_codes FROM "{runtime}"')
    op.drop_constraint(op.f("vendors_state_code_digits_check"), "vendors", type_="check")
    for name in INVOICE_CHECKS:
        op.drop_constraint(op.f(f"invoices_{name}_check"), "invoices", type_="check")
    op.drop_column("vendors", "state_code")
    op.drop_constraint(
        op.f("invoices_tenant_id_original_invoice_id_fkey"), "invoices", type_="foreignkey"
    )
    op.drop_index(
        op.f("invoices_tenant_id_vendor_id_number_key_idx"),
        table_name="invoices",
        postgresql_where=sa.text("status <> 'void'"),
    )
    op.create_unique_constraint(
        op.f("invoices_tenant_id_vendor_id_number_key"),
        "invoices",
        ["tenant_id", "vendor_id", "number"],
        postgresql_nulls_not_distinct=False,
    )
    op.drop_column("invoices", "submissions")
    op.drop_column("invoices", "possible_duplicate_of")
    op.drop_column("invoices", "number_key")
    op.drop_column("invoices", "tax_summary")
    op.drop_column("invoices", "tax_rounding")
    op.drop_column("invoices", "original_invoice_id")
    op.drop_column("invoices", "kind")
    op.drop_constraint(
        op.f("invoice_lines_tenant_id_tax_code_fkey"), "invoice_lines", type_="foreignkey"
    )
    op.drop_column("invoice_lines", "tax_code")
    op.drop_table("invoice_approvals")
    op.drop_index(
        op.f("credit_note_allocations_tenant_id_invoice_id_idx"),
        table_name="credit_note_allocations",
    )
    op.drop_index(
        op.f("credit_note_allocations_tenant_id_credit_note_id_idx"),
        table_name="credit_note_allocations",
    )
    op.drop_table("credit_note_allocations")
    op.drop_constraint(op.f("invoices_tenant_id_id_vendor_id_key"), "invoices", type_="unique")
    op.drop_table("tax_codes")
    op.drop_table("approval_policies")
