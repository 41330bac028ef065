"""platform audit: platform admins' own events (logins, lockouts, sign-outs)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerline.db.rls import grant, migration_roles

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _, platform = migration_roles()
    op.create_table(
        "platform_audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.Uuid(), nullable=True),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("platform_audit_events_pkey")),
    )
    op.create_index(
        op.f("platform_audit_events_actor_id_idx"), "platform_audit_events", ["actor_id"]
    )
    op.create_index(
        op.f("platform_audit_events_occurred_at_idx"), "platform_audit_events", ["occurred_at"]
    )
    # Append-only, like the tenants' trail.
    grant("platform_audit_events", platform, ["SELECT", "INSERT"])


def downgrade() -> None:
    op.drop_table("platform_audit_events")
