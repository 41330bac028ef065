"""foundation: tenants and users, row-level security, grants

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    runtime, platform = migration_roles()
    now = sa.text("now()")
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("plan", sa.String(32), nullable=False, server_default="standard"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("id", name="tenants_pkey"),
        sa.UniqueConstraint("slug", name="tenants_slug_key"),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'", name="tenants_slug_format_check"
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'read_only')", name="tenants_status_allowed_check"
        ),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="users_pkey"),
        sa.UniqueConstraint("tenant_id", "email", name="users_tenant_id_email_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="users_tenant_id_fkey", ondelete="RESTRICT"
        ),
        sa.CheckConstraint(
            "role IN ('TENANT_OWNER', 'ASSISTANT')", name="users_role_allowed_check"
        ),
        sa.CheckConstraint("email = lower(email)", name="users_email_lowercase_check"),
    )

    op.create_table(
        "platform_admins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.PrimaryKeyConstraint("id", name="platform_admins_pkey"),
        sa.UniqueConstraint("email", name="platform_admins_email_key"),
        sa.CheckConstraint("email = lower(email)", name="platform_admins_email_lowercase_check"),
    )

    # The tenants row is the tenant's own: visible to it alone, keyed by id.
    enable_tenant_rls("tenants", key_column="id")
    enable_tenant_rls("users")

    grant("tenants", runtime, ["SELECT"])
    grant("tenants", platform, ["SELECT", "INSERT", "UPDATE"])
    grant("users", runtime, ["SELECT", "INSERT", "UPDATE"])
    grant("users", platform, ["SELECT"])
    # platform_admins: no grant to the runtime role at all.
    grant("platform_admins", platform, ["SELECT", "UPDATE"])
    for role in (runtime, platform):
        grant("alembic_version", role, ["SELECT"])


def downgrade() -> None:
    runtime, platform = migration_roles()
    op.drop_table("platform_admins")
    op.drop_table("users")
    op.drop_table("tenants")
    op.execute(f'REVOKE ALL ON alembic_version FROM "{runtime}", "{platform}"')
