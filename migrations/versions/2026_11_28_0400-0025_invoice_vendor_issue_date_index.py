"""The vendor index of invoices also orders by issue date.

An invoice's likely twins (invoices/duplicates.py: same vendor, kind, currency and total,
issued within 7 days) were found by reading every invoice of the vendor through
`(tenant_id, vendor_id)`: each create, save, submit and approval of a vendor's invoice
read all that vendor's invoices, so the check grew with the vendor's history. With
`(tenant_id, vendor_id, issue_date)` it reads the vendor's invoices of those 15 days.
The total cannot narrow an index scan here: under row-level security PostgreSQL applies
only leakproof operators before the policy, and numeric equality is not one; date
comparisons are. The new index serves every query the narrower one served (the same
leading columns), so it replaces it: one index per invoice write, as before.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("invoices_tenant_id_vendor_id_issue_date_idx"),
        "invoices",
        ["tenant_id", "vendor_id", "issue_date"],
    )
    op.drop_index(op.f("invoices_tenant_id_vendor_id_idx"), "invoices")


def downgrade() -> None:
    op.create_index(
        op.f("invoices_tenant_id_vendor_id_idx"), "invoices", ["tenant_id", "vendor_id"]
    )
    op.drop_index(op.f("invoices_tenant_id_vendor_id_issue_date_idx"), "invoices")
