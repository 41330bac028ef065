"""asset acquisition: assets from invoice lines, per-category accounts, scheduled runs

- `assets.purchase_invoice_id` + `purchase_invoice_line` (the line's position) name the
  invoice line an asset was bought with: a composite foreign key to the invoice of the
  same tenant, one asset per line, both or neither. `acquisition_entry_id` is the entry
  that put the line on the asset account (the invoice's approval, or a reclassification).
  The database refuses a capitalization entry for such an asset.
- `asset_categories` may name their own asset, accumulated-depreciation and
  depreciation-expense accounts: composite foreign keys to the tenant's chart by code,
  and a trigger refuses an account of the wrong type (asset, asset, expense).
- `depreciation_schedules`: a tenant's choice to have the worker post last month's
  depreciation (`auto`), the last month it posted, and the lease of the job.
- The ledger's guards check each INSERT statement as a whole instead of each row (a
  depreciation run posts 50,000 entries in one statement): the period of new entries
  must be open, a line must be dated as its entry and in its account's currency
  (statement triggers over the inserted rows), and every entry a statement touched must
  balance at commit. For that last one each statement notes the entries it touched in
  `ledger_unchecked_entries` (one row per statement, written by a SECURITY DEFINER
  function: the runtime role has no privilege on it), and a deferred constraint trigger
  on that row checks them all at once. The same refusals, the same SQLSTATEs (LL001,
  LL002, LL003) and messages as migration 0012's row triggers, which this replaces.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 22:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORY_ACCOUNTS = (
    ("asset_account_code", "asset"),
    ("accumulated_depreciation_account_code", "asset"),
    ("depreciation_expense_account_code", "expense"),
)

_CATEGORY_ACCOUNT_TYPES = """
CREATE FUNCTION asset_category_account_types() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM (VALUES
            (NEW.asset_account_code, 'asset'),
            (NEW.accumulated_depreciation_account_code, 'asset'),
            (NEW.depreciation_expense_account_code, 'expense')
        ) AS wanted(code, kind)
        JOIN ledger_accounts a ON a.tenant_id = NEW.tenant_id AND a.code = wanted.code
        WHERE a.type <> wanted.kind
    ) THEN
        RAISE EXCEPTION 'an asset category names an account of the wrong type'
            USING ERRCODE = 'LL012';
    END IF;
    RETURN NEW;
END $$
"""

_NO_CAPITALIZATION_OF_PURCHASED = """
CREATE FUNCTION journal_entries_no_capitalization_of_purchased() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM assets
        WHERE tenant_id = NEW.tenant_id AND id = NEW.source_id
          AND purchase_invoice_id IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'an asset bought on an invoice line is not capitalized again'
            USING ERRCODE = 'LL011';
    END IF;
    RETURN NEW;
END $$
"""


_STATEMENT_GUARDS = """
CREATE FUNCTION ledger_lock_open_periods(wanted jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    found record;
BEGIN
    INSERT INTO ledger_periods (tenant_id, period, status)
    SELECT (w->>'tenant_id')::uuid, (w->>'period')::date, 'open'
    FROM jsonb_array_elements(wanted) w
    ON CONFLICT DO NOTHING;
    -- Share locks: closing a period (an UPDATE) waits for this transaction.
    FOR found IN
        SELECT p.period, p.status FROM ledger_periods p
        JOIN jsonb_array_elements(wanted) w
          ON p.tenant_id = (w->>'tenant_id')::uuid AND p.period = (w->>'period')::date
        ORDER BY p.tenant_id, p.period
        FOR SHARE OF p
    LOOP
        IF found.status = 'closed' THEN
            RAISE EXCEPTION 'period % is closed', to_char(found.period, 'YYYY-MM')
                USING ERRCODE = 'LL001';
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION journal_entries_statement_checks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_lock_open_periods((
        SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object(
            'tenant_id', tenant_id, 'period', period)), '[]'::jsonb)
        FROM added));
    RETURN NULL;
END $$;

CREATE FUNCTION journal_lines_statement_checks() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    -- One index probe per line (the transition table has no statistics to join by).
    SELECT l.entry_id INTO off FROM added l
    WHERE l.posted_on IS DISTINCT FROM (
        SELECT e.posted_on FROM journal_entries e
        WHERE e.tenant_id = l.tenant_id AND e.id = l.entry_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a line of journal entry % is not dated as its entry', off.entry_id
            USING ERRCODE = 'LL004';
    END IF;
    PERFORM ledger_lock_open_periods((
        SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object(
            'tenant_id', l.tenant_id, 'period', date_trunc('month', l.posted_on)::date)),
            '[]'::jsonb)
        FROM added l));
    SELECT l.account_id, a.currency AS held, l.currency INTO off
    FROM added l, LATERAL (
        SELECT currency FROM ledger_accounts
        WHERE tenant_id = l.tenant_id AND id = l.account_id) a
    WHERE a.currency IS NOT NULL AND a.currency <> l.currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account % holds % only, not %', off.account_id, off.held,
            off.currency USING ERRCODE = 'LL002';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_note_unchecked_entries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        INSERT INTO ledger_unchecked_entries (tenant_id, id, entry_ids)
        SELECT tenant_id, gen_random_uuid(), array_agg(id) FROM added GROUP BY tenant_id;
    ELSE
        INSERT INTO ledger_unchecked_entries (tenant_id, id, entry_ids)
        SELECT tenant_id, gen_random_uuid(), array_agg(DISTINCT entry_id)
        FROM added GROUP BY tenant_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_check_unchecked_entries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    off record;
BEGIN
    -- Driven by the entries, one index scan each (the lines just written have no
    -- statistics yet: a join the other way round would be planned as a nested loop).
    SELECT e.id AS entry_id, s.currency, s.debits, s.credits INTO off
    FROM unnest(NEW.entry_ids) AS e(id)
    LEFT JOIN LATERAL (
        SELECT l.currency, sum(l.debit) AS debits, sum(l.credit) AS credits
        FROM journal_lines l WHERE l.tenant_id = NEW.tenant_id AND l.entry_id = e.id
        GROUP BY l.currency
    ) s ON true
    WHERE s.currency IS NULL OR s.debits <> s.credits
    LIMIT 1;
    IF FOUND AND off.currency IS NULL THEN
        RAISE EXCEPTION 'journal entry % has no lines', off.entry_id USING ERRCODE = 'LL003';
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits %, credits %',
            off.entry_id, off.currency, off.debits, off.credits USING ERRCODE = 'LL003';
    END IF;
    DELETE FROM ledger_unchecked_entries WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
    RETURN NULL;
END $$;

DROP TRIGGER journal_entries_period_open ON journal_entries;

DROP TRIGGER journal_lines_checks ON journal_lines;

DROP TRIGGER journal_entries_balanced ON journal_entries;

DROP TRIGGER journal_lines_balanced ON journal_lines;

CREATE TRIGGER journal_entries_checks AFTER INSERT ON journal_entries
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_statement_checks();

CREATE TRIGGER journal_lines_checks AFTER INSERT ON journal_lines
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_statement_checks();

CREATE TRIGGER journal_entries_noted AFTER INSERT ON journal_entries
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION ledger_note_unchecked_entries();

CREATE TRIGGER journal_lines_noted AFTER INSERT ON journal_lines
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION ledger_note_unchecked_entries();

CREATE CONSTRAINT TRIGGER ledger_unchecked_entries_balanced
AFTER INSERT ON ledger_unchecked_entries
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
EXECUTE FUNCTION ledger_check_unchecked_entries()
"""

# Migration 0012's row triggers, as the downgrade puts them back.
_ROW_GUARDS = """
DROP TRIGGER journal_entries_checks ON journal_entries;

DROP TRIGGER journal_lines_checks ON journal_lines;

DROP TRIGGER journal_entries_noted ON journal_entries;

DROP TRIGGER journal_lines_noted ON journal_lines;

CREATE TRIGGER journal_entries_period_open BEFORE INSERT ON journal_entries
FOR EACH ROW EXECUTE FUNCTION journal_entry_checks();

CREATE TRIGGER journal_lines_checks BEFORE INSERT ON journal_lines
FOR EACH ROW EXECUTE FUNCTION journal_line_checks();

CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();

CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_line_balanced();

DROP TABLE ledger_unchecked_entries;

DROP FUNCTION ledger_check_unchecked_entries();

DROP FUNCTION ledger_note_unchecked_entries();

DROP FUNCTION journal_lines_statement_checks();

DROP FUNCTION journal_entries_statement_checks();

DROP FUNCTION ledger_lock_open_periods(jsonb)
"""


def _ledger_statement_guards() -> None:
    op.create_table(
        "ledger_unchecked_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("ledger_unchecked_entries_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("ledger_unchecked_entries_pkey")),
    )
    enable_tenant_rls("ledger_unchecked_entries")  # no grant: written by the triggers only
    # One statement per call (asyncpg prepares each): they are separated by blank lines.
    for statement in _STATEMENT_GUARDS.strip().split("\n\n"):
        op.execute(statement)


def _categories() -> None:
    for column, _ in CATEGORY_ACCOUNTS:
        op.add_column("asset_categories", sa.Column(column, sa.String(length=16), nullable=True))
        op.create_foreign_key(
            op.f(f"asset_categories_tenant_id_{column}_fkey"),
            "asset_categories",
            "ledger_accounts",
            ["tenant_id", column],
            ["tenant_id", "code"],
            ondelete="RESTRICT",
        )
    op.execute(_CATEGORY_ACCOUNT_TYPES)
    op.execute(
        "CREATE TRIGGER asset_categories_account_types BEFORE INSERT OR UPDATE ON"
        " asset_categories FOR EACH ROW EXECUTE FUNCTION asset_category_account_types()"
    )


def _assets() -> None:
    op.add_column("assets", sa.Column("purchase_invoice_id", sa.Uuid(), nullable=True))
    op.add_column("assets", sa.Column("purchase_invoice_line", sa.Integer(), nullable=True))
    op.add_column("assets", sa.Column("acquisition_entry_id", sa.Uuid(), nullable=True))
    op.create_check_constraint(
        op.f("assets_purchase_line_check"),
        "assets",
        "(purchase_invoice_id IS NULL) = (purchase_invoice_line IS NULL)",
    )
    op.create_check_constraint(
        op.f("assets_acquisition_from_invoice_check"),
        "assets",
        "acquisition_entry_id IS NULL OR purchase_invoice_id IS NOT NULL",
    )
    op.create_foreign_key(
        op.f("assets_tenant_id_purchase_invoice_id_fkey"),
        "assets",
        "invoices",
        ["tenant_id", "purchase_invoice_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("assets_tenant_id_acquisition_entry_id_fkey"),
        "assets",
        "journal_entries",
        ["tenant_id", "acquisition_entry_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    op.create_unique_constraint(
        op.f("assets_tenant_id_purchase_invoice_id_purchase_invoice_line_key"),
        "assets",
        ["tenant_id", "purchase_invoice_id", "purchase_invoice_line"],
    )
    op.execute(_NO_CAPITALIZATION_OF_PURCHASED)
    op.execute(
        "CREATE TRIGGER journal_entries_no_capitalization_of_purchased BEFORE INSERT ON"
        " journal_entries FOR EACH ROW"
        " WHEN (NEW.source_type = 'asset' AND NEW.kind = 'capitalization')"
        " EXECUTE FUNCTION journal_entries_no_capitalization_of_purchased()"
    )


def _schedules() -> None:
    op.create_table(
        "depreciation_schedules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_period", sa.Date(), nullable=True),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "last_period IS NULL OR extract(day FROM last_period) = 1",
            name=op.f("depreciation_schedules_last_period_is_month_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("depreciation_schedules_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("depreciation_schedules_pkey")),
        sa.UniqueConstraint("tenant_id", name=op.f("depreciation_schedules_tenant_id_key")),
    )
    op.create_index(
        op.f("depreciation_schedules_next_attempt_at_idx"),
        "depreciation_schedules",
        ["next_attempt_at"],
        postgresql_where=sa.text("auto"),
    )


def upgrade() -> None:
    _ledger_statement_guards()
    _categories()
    _assets()
    _schedules()
    runtime, platform = migration_roles()
    enable_tenant_rls("depreciation_schedules")
    grant("depreciation_schedules", runtime, ["SELECT", "INSERT", "UPDATE"])
    # The worker claims due schedules across tenants (a lease), then posts as the tenant.
    grant("depreciation_schedules", platform, ["SELECT", "UPDATE"])


def downgrade() -> None:
    for statement in _ROW_GUARDS.strip().split("\n\n"):
        op.execute(statement)
    op.drop_table("depreciation_schedules")
    op.execute("DROP TRIGGER journal_entries_no_capitalization_of_purchased ON journal_entries")
    op.execute("DROP FUNCTION journal_entries_no_capitalization_of_purchased()")
    for name in (
        "assets_tenant_id_purchase_invoice_id_purchase_invoice_line_key",
        "assets_tenant_id_acquisition_entry_id_fkey",
        "assets_tenant_id_purchase_invoice_id_fkey",
        "assets_acquisition_from_invoice_check",
        "assets_purchase_line_check",
    ):
        op.drop_constraint(op.f(name), "assets")
    for column in ("acquisition_entry_id", "purchase_invoice_line", "purchase_invoice_id"):
        op.drop_column("assets", column)
    op.execute("DROP TRIGGER asset_categories_account_types ON asset_categories")
    op.execute("DROP FUNCTION asset_category_account_types()")
    for column, _ in CATEGORY_ACCOUNTS:
        op.drop_constraint(op.f(f"asset_categories_tenant_id_{column}_fkey"), "asset_categories")
        op.drop_column("asset_categories", column)
