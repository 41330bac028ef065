"""ledger: accounts, journal, balances, periods, transfers; payments post to it

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 20:00:00+00:00

PostgreSQL keeps the ledger's invariants, whatever the application does:
1. An entry balances per currency: deferred constraint triggers check, at commit, every
   entry that got lines in the transaction (and that it has lines at all).
2. Entries and lines are insert-only for the runtime role (no UPDATE or DELETE grant);
   an entry is reversed at most once (unique `reverses`).
3. Nothing posts into a closed period: a trigger on entries and on lines refuses it,
   holding a share lock on the period's row so that a close waits for postings in flight.
4. Each business event posts once: unique (tenant_id, source_type, source_id, kind).
5. A cached balance never passes its account's overdraft limit (a check on the row every
   posting updates, so concurrent postings queue on its row lock).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.base import new_id
from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles
from ledgerline.ledger.chart import DEFAULT_CHART

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLSTATEs the triggers raise; ledger/posting.py turns them into problems.
PERIOD_CLOSED = "LL001"
ACCOUNT_CURRENCY = "LL002"
UNBALANCED = "LL003"


def _timestamps() -> list[sa.Column[sa.DateTime]]:
    return [
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
    ]


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"{table}_tenant_id_fkey"), ondelete="RESTRICT"
    )


def _composite_fk(table: str, column: str, target: str, key: str = "id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.{key}"],
        name=op.f(f"{table}_tenant_id_{column}_fkey"),
        ondelete="RESTRICT",
    )


def _amount(name: str, nullable: bool = False) -> sa.Column[sa.Numeric]:
    return sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=nullable)


def _create_tables() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        _amount("overdraft_limit", nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "code ~ '^[0-9A-Za-z][0-9A-Za-z.-]{0,15}$'",
            name=op.f("ledger_accounts_code_format_check"),
        ),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'income', 'expense')",
            name=op.f("ledger_accounts_type_allowed_check"),
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ledger_accounts_currency_iso_check")
        ),
        sa.CheckConstraint(
            "overdraft_limit IS NULL OR (overdraft_limit >= 0 AND type = 'asset')",
            name=op.f("ledger_accounts_overdraft_limit_on_assets_check"),
        ),
        _tenant_fk("ledger_accounts"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("ledger_accounts_pkey")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("ledger_accounts_tenant_id_code_key")),
    )
    op.create_table(
        "ledger_periods",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "extract(day FROM period) = 1", name=op.f("ledger_periods_first_day_check")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'closed')", name=op.f("ledger_periods_status_allowed_check")
        ),
        _tenant_fk("ledger_periods"),
        sa.PrimaryKeyConstraint("tenant_id", "period", name=op.f("ledger_periods_pkey")),
    )
    op.create_table(
        "journal_entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("created_by_type", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("reverses", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "period = date_trunc('month', posted_on)::date",
            name=op.f("journal_entries_period_of_posted_on_check"),
        ),
        sa.CheckConstraint(
            "reverses IS NULL OR reverses <> id",
            name=op.f("journal_entries_not_self_reversing_check"),
        ),
        _composite_fk("journal_entries", "reverses", "journal_entries"),
        _tenant_fk("journal_entries"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("journal_entries_pkey")),
        sa.UniqueConstraint(
            "tenant_id", "reverses", name=op.f("journal_entries_tenant_id_reverses_key")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "source_type",
            "source_id",
            "kind",
            name=op.f("journal_entries_tenant_id_source_type_source_id_kind_key"),
        ),
    )
    op.create_index(
        op.f("journal_entries_tenant_id_posted_on_idx"),
        "journal_entries",
        ["tenant_id", "posted_on"],
        unique=False,
    )
    op.create_table(
        "journal_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        _amount("debit"),
        _amount("credit"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vendor_id", sa.Uuid(), nullable=True),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("account_seq", sa.Integer(), nullable=False),
        _amount("balance_after"),
        sa.CheckConstraint(
            "debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)",
            name=op.f("journal_lines_debit_or_credit_check"),
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("journal_lines_currency_iso_check")
        ),
        _composite_fk("journal_lines", "entry_id", "journal_entries"),
        _composite_fk("journal_lines", "account_id", "ledger_accounts"),
        _composite_fk("journal_lines", "vendor_id", "vendors"),
        _tenant_fk("journal_lines"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("journal_lines_pkey")),
        sa.UniqueConstraint(
            "tenant_id",
            "account_id",
            "currency",
            "account_seq",
            name=op.f("journal_lines_tenant_id_account_id_currency_account_seq_key"),
        ),
    )
    for column in ("entry_id", "vendor_id", "posted_on"):
        op.create_index(
            op.f(f"journal_lines_tenant_id_{column}_idx"),
            "journal_lines",
            ["tenant_id", column],
            unique=False,
        )
    op.create_table(
        "ledger_balances",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _amount("debit_total"),
        _amount("credit_total"),
        _amount("balance"),
        sa.Column("line_count", sa.Integer(), nullable=False),
        _amount("overdraft_limit", nullable=True),
        sa.CheckConstraint(
            "overdraft_limit IS NULL OR balance >= -overdraft_limit",
            name=op.f("ledger_balances_within_overdraft_check"),
        ),
        sa.CheckConstraint(
            "balance = debit_total - credit_total", name=op.f("ledger_balances_totals_agree_check")
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ledger_balances_currency_iso_check")
        ),
        _composite_fk("ledger_balances", "account_id", "ledger_accounts"),
        _tenant_fk("ledger_balances"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "account_id", "currency", name=op.f("ledger_balances_pkey")
        ),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=False),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        _amount("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("transfer_on", sa.Date(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ledger_transfers_amount_positive_check")),
        sa.CheckConstraint(
            "from_account_id <> to_account_id", name=op.f("ledger_transfers_two_accounts_check")
        ),
        sa.CheckConstraint(
            "currency ~ '^[A-Z]{3}$'", name=op.f("ledger_transfers_currency_iso_check")
        ),
        _composite_fk("ledger_transfers", "from_account_id", "ledger_accounts"),
        _composite_fk("ledger_transfers", "to_account_id", "ledger_accounts"),
        _composite_fk("ledger_transfers", "entry_id", "journal_entries"),
        _tenant_fk("ledger_transfers"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("ledger_transfers_pkey")),
        sa.UniqueConstraint(
            "tenant_id", "entry_id", name=op.f("ledger_transfers_tenant_id_entry_id_key")
        ),
    )


def _evolve_invoices() -> None:
    """Vendors get a default expense account, invoice lines an account code, and invoice
    payments their paying account, journal entries and reversal."""
    op.add_column("vendors", sa.Column("default_expense_account_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("vendors_tenant_id_default_expense_account_id_fkey"),
        "vendors",
        "ledger_accounts",
        ["tenant_id", "default_expense_account_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    op.add_column("invoice_lines", sa.Column("account_code", sa.String(length=16), nullable=True))
    op.create_foreign_key(
        op.f("invoice_lines_tenant_id_account_code_fkey"),
        "invoice_lines",
        "ledger_accounts",
        ["tenant_id", "account_code"],
        ["tenant_id", "code"],
        ondelete="RESTRICT",
    )
    payments = "invoice_payments"
    op.add_column(payments, sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.alter_column(payments, "version", server_default=None)
    for column in ("vendor_id", "paying_account_id", "entry_id", "reversal_entry_id"):
        op.add_column(payments, sa.Column(column, sa.Uuid(), nullable=True))
    op.add_column(payments, sa.Column("currency", sa.String(length=3), nullable=True))
    op.add_column(payments, sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        op.f("invoice_payments_tenant_id_vendor_id_fkey"),
        payments,
        "vendors",
        ["tenant_id", "vendor_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        op.f("invoice_payments_tenant_id_paying_account_id_fkey"),
        payments,
        "ledger_accounts",
        ["tenant_id", "paying_account_id"],
        ["tenant_id", "id"],
        ondelete="RESTRICT",
    )
    for column in ("entry_id", "reversal_entry_id"):
        op.create_foreign_key(
            op.f(f"invoice_payments_tenant_id_{column}_fkey"),
            payments,
            "journal_entries",
            ["tenant_id", column],
            ["tenant_id", "id"],
            ondelete="RESTRICT",
        )
        op.create_unique_constraint(
            op.f(f"invoice_payments_tenant_id_{column}_key"), payments, ["tenant_id", column]
        )
    op.create_check_constraint(
        op.f("invoice_payments_currency_iso_check"), payments, "currency ~ '^[A-Z]{3}$'"
    )
    op.create_check_constraint(
        op.f("invoice_payments_reversal_complete_check"),
        payments,
        "(reversed_at IS NULL) = (reversal_entry_id IS NULL)",
    )
    op.create_index(
        op.f("invoice_payments_tenant_id_paid_on_id_idx"),
        payments,
        ["tenant_id", "paid_on", "id"],
        unique=False,
    )
    op.create_index(
        op.f("invoice_payments_tenant_id_vendor_id_idx"),
        payments,
        ["tenant_id", "vendor_id"],
        unique=False,
    )


def _default_charts_for_existing_tenants() -> None:
    """Every existing tenant gets the default chart; payments recorded before the ledger
    name its bank account. Row security is forced on the owner too, so it is lifted for
    the owner within this transaction while the rows are written (new tables get theirs
    afterwards)."""
    op.execute("ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE invoice_payments NO FORCE ROW LEVEL SECURITY")
    tenants = op.get_bind().execute(sa.text("SELECT id FROM tenants")).scalars().all()
    accounts = sa.table(
        "ledger_accounts",
        *(sa.column(name) for name in ("tenant_id", "id", "code", "name", "type")),
        sa.column("active", sa.Boolean()),
        sa.column("version", sa.Integer()),
    )
    rows = [
        {
            "tenant_id": tenant,
            "id": new_id(),
            "code": code,
            "name": name,
            "type": str(kind),
            "active": True,
            "version": 1,
        }
        for tenant in tenants
        for code, name, kind in DEFAULT_CHART
    ]
    if rows:
        op.bulk_insert(accounts, rows)
    op.execute(
        "UPDATE invoice_payments p SET paying_account_id = a.id FROM ledger_accounts a"
        " WHERE a.tenant_id = p.tenant_id AND a.code = '1000'"
    )
    op.execute("ALTER TABLE invoices NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "UPDATE invoice_payments p SET vendor_id = i.vendor_id, currency = i.currency"
        " FROM invoices i WHERE i.tenant_id = p.tenant_id AND i.id = p.invoice_id"
    )
    op.execute("ALTER TABLE invoices FORCE ROW LEVEL SECURITY")
    op.alter_column("invoice_payments", "vendor_id", nullable=False)
    op.alter_column("invoice_payments", "currency", nullable=False)
    op.execute("ALTER TABLE invoice_payments FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")


TRIGGERS = f"""
CREATE FUNCTION ledger_open_period(tenant uuid, month date) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_periods (tenant_id, period, status) VALUES (tenant, month, 'open')
    ON CONFLICT DO NOTHING;
    -- A share lock: closing the period (an UPDATE) waits for this transaction.
    IF (SELECT status FROM ledger_periods WHERE tenant_id = tenant AND period = month
        FOR SHARE) = 'closed' THEN
        RAISE EXCEPTION 'period % is closed', to_char(month, 'YYYY-MM')
            USING ERRCODE = '{PERIOD_CLOSED}';
    END IF;
END $$;

CREATE FUNCTION journal_entry_checks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_open_period(NEW.tenant_id, NEW.period);
    RETURN NEW;
END $$;

CREATE TRIGGER journal_entries_period_open BEFORE INSERT ON journal_entries
FOR EACH ROW EXECUTE FUNCTION journal_entry_checks();

CREATE FUNCTION journal_line_checks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry_day date;
    entry_period date;
    account_currency text;
BEGIN
    SELECT posted_on, period INTO entry_day, entry_period FROM journal_entries
    WHERE tenant_id = NEW.tenant_id AND id = NEW.entry_id;
    IF FOUND THEN
        PERFORM ledger_open_period(NEW.tenant_id, entry_period);
        NEW.posted_on := entry_day;
    END IF;
    SELECT currency INTO account_currency FROM ledger_accounts
    WHERE tenant_id = NEW.tenant_id AND id = NEW.account_id;
    IF account_currency IS NOT NULL AND account_currency <> NEW.currency THEN
        RAISE EXCEPTION 'account % holds % only, not %', NEW.account_id, account_currency,
            NEW.currency USING ERRCODE = '{ACCOUNT_CURRENCY}';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER journal_lines_checks BEFORE INSERT ON journal_lines
FOR EACH ROW EXECUTE FUNCTION journal_line_checks();

CREATE FUNCTION ledger_check_balanced(tenant uuid, entry uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM journal_lines WHERE tenant_id = tenant AND entry_id = entry)
    THEN
        RAISE EXCEPTION 'journal entry % has no lines', entry USING ERRCODE = '{UNBALANCED}';
    END IF;
    SELECT currency, sum(debit) AS debits, sum(credit) AS credits INTO off
    FROM journal_lines WHERE tenant_id = tenant AND entry_id = entry
    GROUP BY currency HAVING sum(debit) <> sum(credit) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits %, credits %',
            entry, off.currency, off.debits, off.credits USING ERRCODE = '{UNBALANCED}';
    END IF;
END $$;

CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_balanced(NEW.tenant_id, NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION journal_line_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_balanced(NEW.tenant_id, NEW.entry_id);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced();

CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_line_balanced();
"""


def upgrade() -> None:
    _create_tables()
    _evolve_invoices()
    _default_charts_for_existing_tenants()
    # One statement per call (asyncpg prepares each): they are separated by blank lines.
    for statement in TRIGGERS.strip().split("\n\n"):
        op.execute(statement)

    runtime, platform = migration_roles()
    privileges = {
        "ledger_periods": ["SELECT", "INSERT", "UPDATE"],
        "journal_entries": ["SELECT", "INSERT"],  # no UPDATE, no DELETE: insert-only
        "journal_lines": ["SELECT", "INSERT"],
        "ledger_balances": ["SELECT", "INSERT", "UPDATE"],
        "ledger_transfers": ["SELECT", "INSERT"],
    }
    enable_tenant_rls("ledger_accounts")
    # Code, type, currency and overdraft limit never change once an account exists.
    grant("ledger_accounts", runtime, ["SELECT", "INSERT"])
    op.execute(
        f'GRANT UPDATE (name, active, version, updated_at) ON ledger_accounts TO "{runtime}"'
    )
    grant("ledger_accounts", platform, ["SELECT", "INSERT"])  # the chart of a new tenant
    for table, granted in privileges.items():
        enable_tenant_rls(table)
        grant(table, runtime, granted)
    # A payment changes only when it is reversed.
    op.execute(f'REVOKE UPDATE ON invoice_payments FROM "{runtime}"')
    op.execute(
        f'GRANT UPDATE (version, reversed_at, reversal_entry_id) ON invoice_payments TO "{runtime}"'
    )


def downgrade() -> None:
    runtime, _ = migration_roles()
    op.execute(
        "REVOKE UPDATE (version, reversed_at, reversal_entry_id) ON invoice_payments"
        f' FROM "{runtime}"'
    )
    op.drop_index(op.f("invoice_payments_tenant_id_vendor_id_idx"), table_name="invoice_payments")
    op.drop_index(op.f("invoice_payments_tenant_id_paid_on_id_idx"), table_name="invoice_payments")
    for check in ("reversal_complete", "currency_iso"):
        op.drop_constraint(
            op.f(f"invoice_payments_{check}_check"), "invoice_payments", type_="check"
        )
    for column in ("entry_id", "reversal_entry_id"):
        op.drop_constraint(
            op.f(f"invoice_payments_tenant_id_{column}_key"), "invoice_payments", type_="unique"
        )
    for column in ("vendor_id", "paying_account_id", "entry_id", "reversal_entry_id"):
        op.drop_constraint(
            op.f(f"invoice_payments_tenant_id_{column}_fkey"),
            "invoice_payments",
            type_="foreignkey",
        )
        op.drop_column("invoice_payments", column)
    op.drop_column("invoice_payments", "reversed_at")
    op.drop_column("invoice_payments", "currency")
    op.drop_column("invoice_payments", "version")
    op.drop_constraint(
        op.f("invoice_lines_tenant_id_account_code_fkey"), "invoice_lines", type_="foreignkey"
    )
    op.drop_column("invoice_lines", "account_code")
    op.drop_constraint(
        op.f("vendors_tenant_id_default_expense_account_id_fkey"), "vendors", type_="foreignkey"
    )
    op.drop_column("vendors", "default_expense_account_id")
    for table in (
        "ledger_transfers",
        "ledger_balances",
        "journal_lines",
        "journal_entries",
        "ledger_periods",
        "ledger_accounts",
    ):
        op.drop_table(table)
    for function in (
        "journal_line_balanced()",
        "journal_entry_balanced()",
        "ledger_check_balanced(uuid, uuid)",
        "journal_line_checks()",
        "journal_entry_checks()",
        "ledger_open_period(uuid, date)",
    ):
        op.execute(f"DROP FUNCTION {function}")
