"""mail outbox, one-time secrets (login codes, reset and verification links), verified emails

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    runtime, platform = migration_roles()
    now = sa.text("now()")
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True)))
    op.create_table(
        "mail_outbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=now, nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("mail_outbox_status_allowed_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("mail_outbox_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("mail_outbox_pkey")),
    )
    op.create_index(
        op.f("mail_outbox_tenant_id_status_next_attempt_at_idx"),
        "mail_outbox",
        ["tenant_id", "status", "next_attempt_at"],
    )
    op.create_table(
        "one_time_secrets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(
            "purpose IN ('login_code', 'password_reset', 'email_verification')",
            name=op.f("one_time_secrets_purpose_allowed_check"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("one_time_secrets_tenant_id_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("one_time_secrets_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("one_time_secrets_pkey")),
    )
    op.create_index(
        op.f("one_time_secrets_tenant_id_user_id_purpose_idx"),
        "one_time_secrets",
        ["tenant_id", "user_id", "purpose"],
    )
    op.create_index(
        op.f("one_time_secrets_tenant_id_secret_hash_idx"),
        "one_time_secrets",
        ["tenant_id", "secret_hash"],
    )
    for table in ("mail_outbox", "one_time_secrets"):
        enable_tenant_rls(table)
        grant(table, runtime, ["SELECT", "INSERT", "UPDATE"])
    # The background sender claims due mail across tenants.
    grant("mail_outbox", platform, ["SELECT", "UPDATE"])


def downgrade() -> None:
    op.drop_table("one_time_secrets")
    op.drop_table("mail_outbox")
    op.drop_column("users", "email_verified_at")
