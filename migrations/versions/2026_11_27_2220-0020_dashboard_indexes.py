"""dashboard indexes: what the dashboard's aggregates read, each leading with tenant_id

- `invoices (tenant_id, status, currency) INCLUDE (kind, issue_date, due_date, total,
  amount_paid, vendor_id, id)`: the summary, the aging, the vendors view and the cash
  weeks read only these columns, so they scan the index alone (no heap visit once
  vacuumed), and the median's join to the history finds each invoice's currency there;
- `invoice_status_history (tenant_id, invoice_id, occurred_at) INCLUDE (to_status)` for
  submissions and approvals only: the median submit-to-approve time walks it in order,
  each approval meeting the latest submission before it without a sort;
- `invoice_documents (tenant_id, created_at)`: the processing view's window of uploads.

Indexes only: no table, grant or policy changes.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 22:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("invoices_tenant_id_status_currency_idx"),
        "invoices",
        ["tenant_id", "status", "currency"],
        postgresql_include=[
            "kind",
            "issue_date",
            "due_date",
            "total",
            "amount_paid",
            "vendor_id",
            "id",
        ],
    )
    op.create_index(
        op.f("invoice_status_history_tenant_id_invoice_id_occurred_at_idx"),
        "invoice_status_history",
        ["tenant_id", "invoice_id", "occurred_at"],
        postgresql_include=["to_status"],
        postgresql_where=sa.text("to_status IN ('submitted', 'approved')"),
    )
    op.create_index(
        op.f("invoice_documents_tenant_id_created_at_idx"),
        "invoice_documents",
        ["tenant_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("invoice_documents_tenant_id_created_at_idx"), "invoice_documents")
    op.drop_index(
        op.f("invoice_status_history_tenant_id_invoice_id_occurred_at_idx"),
        "invoice_status_history",
    )
    op.drop_index(op.f("invoices_tenant_id_status_currency_idx"), "invoices")
