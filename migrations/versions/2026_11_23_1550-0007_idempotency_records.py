"""idempotency records: creating POSTs replay their first response for a key (24 hours)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    runtime, _ = migration_roles()
    op.create_table(
        "idempotency_records",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("etag", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("idempotency_records_tenant_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("idempotency_records_pkey")),
    )
    enable_tenant_rls("idempotency_records")
    grant("idempotency_records", runtime, ["SELECT", "INSERT", "UPDATE", "DELETE"])


def downgrade() -> None:
    op.drop_table("idempotency_records")
