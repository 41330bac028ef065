"""dashboard approval times: each invoice keeps when it was last submitted and when it was
approved, so the median submit-to-approve time reads one index instead of the history

- `invoices.submitted_at` (its latest move to `submitted`) and `invoices.approved_at`
  (its move from `submitted` to `approved`), filled from the status history for the
  invoices there are;
- trigger `invoices_approval_times`: the UPDATE that changes the status sets them
  (`now()`, the time the status history records for the same step), so a reject ->
  reopen -> resubmit starts the clock again; a direct write of either column is refused
  (SQLSTATE `LL024`): they follow the status;
- trigger `invoice_status_history_corrected`: a corrected history row (only the owner
  role may update the history) sets the invoice's times from the history again;
- `invoices (tenant_id, currency, issue_date) INCLUDE (submitted_at, approved_at)` over
  the approved invoices: the median is an index-only scan of the tenant's approvals;
- `invoices (tenant_id, currency, vendor_id) INCLUDE (due_date, total, amount_paid,
  issue_date)` over the approved invoices: the aging reads only the open payables, and
  only the columns it needs;
- `invoices (tenant_id, currency, status, issue_date) INCLUDE (due_date, total,
  amount_paid)` over invoices (not credit notes): the summary's counts and amounts, in
  (currency, status) order and, within each, a range of issue dates;
- `invoice_payments (tenant_id, currency, paid_on) INCLUDE (amount)` over the payments
  not reversed: the summary's payments, index-only;
- migration 0020's partial index on the history (submissions and approvals in order) is
  dropped: nothing reads it any more.

No table is created, and no grant or policy changes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-28 00:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.citus import citus_installed

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPROVAL_TIMES_WRITTEN = "LL024"

# The invoice's times as its history tells them: the latest submission, the approval.
FROM_HISTORY = """SELECT h.tenant_id, h.invoice_id,
           max(h.occurred_at) FILTER (WHERE h.to_status = 'submitted') AS submitted_at,
           min(h.occurred_at) FILTER (
               WHERE h.to_status = 'approved' AND h.from_status = 'submitted'
           ) AS approved_at
    FROM invoice_status_history h"""

BACKFILL = f"""
UPDATE invoices i SET submitted_at = t.submitted_at, approved_at = t.approved_at
FROM ({FROM_HISTORY} GROUP BY h.tenant_id, h.invoice_id) t
WHERE i.tenant_id = t.tenant_id AND i.id = t.invoice_id
"""

TRIGGERS = f"""
CREATE FUNCTION invoice_approval_times() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.approved_at IS NOT NULL
           OR (NEW.submitted_at IS NOT NULL AND NEW.status <> 'submitted') THEN
            RAISE EXCEPTION 'invoice %: its submission and approval times follow its status',
                NEW.id USING ERRCODE = '{APPROVAL_TIMES_WRITTEN}';
        END IF;
        IF NEW.status = 'submitted' THEN
            NEW.submitted_at := now();
        END IF;
        RETURN NEW;
    END IF;
    -- Written by a statement (depth 1), not by invoice_status_history_corrected.
    IF pg_trigger_depth() = 1 AND (NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
                                   OR NEW.approved_at IS DISTINCT FROM OLD.approved_at) THEN
        RAISE EXCEPTION 'invoice %: its submission and approval times follow its status',
            NEW.id USING ERRCODE = '{APPROVAL_TIMES_WRITTEN}';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.status = 'submitted' THEN
            NEW.submitted_at := now();
        ELSIF NEW.status = 'approved' AND OLD.status = 'submitted' THEN
            NEW.approved_at := now();
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER invoices_approval_times BEFORE INSERT OR UPDATE ON invoices
FOR EACH ROW EXECUTE FUNCTION invoice_approval_times();

CREATE FUNCTION invoice_status_history_corrected() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE invoices i SET submitted_at = t.submitted_at, approved_at = t.approved_at
    FROM ({FROM_HISTORY}
          WHERE h.tenant_id = NEW.tenant_id AND h.invoice_id = NEW.invoice_id
          GROUP BY h.tenant_id, h.invoice_id) t
    WHERE i.tenant_id = t.tenant_id AND i.id = t.invoice_id
      AND (i.submitted_at IS DISTINCT FROM t.submitted_at
           OR i.approved_at IS DISTINCT FROM t.approved_at);
    RETURN NULL;
END $$;

CREATE TRIGGER invoice_status_history_corrected AFTER UPDATE ON invoice_status_history
FOR EACH ROW EXECUTE FUNCTION invoice_status_history_corrected()
"""

APPROVED_INVOICES = "kind = 'invoice' AND approved_at IS NOT NULL AND submitted_at IS NOT NULL"
OPEN_PAYABLES = "status = 'approved' AND kind = 'invoice'"


def upgrade() -> None:
    op.add_column("invoices", sa.Column("submitted_at", sa.DateTime(timezone=True)))
    op.add_column("invoices", sa.Column("approved_at", sa.DateTime(timezone=True)))
    # Row security is forced on the owner too: lifted within this transaction to backfill.
    for table in ("invoices", "invoice_status_history"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(BACKFILL)
    for table in ("invoices", "invoice_status_history"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    # On Citus the triggers touch only rows of their own tenant (colocated), as the
    # ledger's do (db/citus.distribute), so it is told to allow them.
    if citus_installed(op.get_bind()):
        op.execute("SET LOCAL citus.enable_unsafe_triggers = on")
    # One statement per call (asyncpg prepares each): they are separated by blank lines.
    for statement in TRIGGERS.strip().split("\n\n"):
        op.execute(statement)
    op.create_index(
        op.f("invoices_tenant_id_currency_issue_date_idx"),
        "invoices",
        ["tenant_id", "currency", "issue_date"],
        postgresql_include=["submitted_at", "approved_at"],
        postgresql_where=sa.text(APPROVED_INVOICES),
    )
    op.create_index(
        op.f("invoices_tenant_id_currency_vendor_id_idx"),
        "invoices",
        ["tenant_id", "currency", "vendor_id"],
        postgresql_include=["due_date", "total", "amount_paid", "issue_date"],
        postgresql_where=sa.text(OPEN_PAYABLES),
    )
    op.create_index(
        op.f("invoices_tenant_id_currency_status_issue_date_idx"),
        "invoices",
        ["tenant_id", "currency", "status", "issue_date"],
        postgresql_include=["due_date", "total", "amount_paid"],
        postgresql_where=sa.text("kind = 'invoice'"),
    )
    op.create_index(
        op.f("invoice_payments_tenant_id_currency_paid_on_idx"),
        "invoice_payments",
        ["tenant_id", "currency", "paid_on"],
        postgresql_include=["amount"],
        postgresql_where=sa.text("reversed_at IS NULL"),
    )
    op.drop_index(
        op.f("invoice_status_history_tenant_id_invoice_id_occurred_at_idx"),
        "invoice_status_history",
    )


def downgrade() -> None:
    op.create_index(
        op.f("invoice_status_history_tenant_id_invoice_id_occurred_at_idx"),
        "invoice_status_history",
        ["tenant_id", "invoice_id", "occurred_at"],
        postgresql_include=["to_status"],
        postgresql_where=sa.text("to_status IN ('submitted', 'approved')"),
    )
    op.drop_index(op.f("invoice_payments_tenant_id_currency_paid_on_idx"), "invoice_payments")
    op.drop_index(op.f("invoices_tenant_id_currency_status_issue_date_idx"), "invoices")
    op.drop_index(op.f("invoices_tenant_id_currency_vendor_id_idx"), "invoices")
    op.drop_index(op.f("invoices_tenant_id_currency_issue_date_idx"), "invoices")
    op.execute("DROP TRIGGER invoice_status_history_corrected ON invoice_status_history")
    op.execute("DROP FUNCTION invoice_status_history_corrected()")
    op.execute("DROP TRIGGER invoices_approval_times ON invoices")
    op.execute("DROP FUNCTION invoice_approval_times()")
    op.drop_column("invoices", "approved_at")
    op.drop_column("invoices", "submitted_at")
