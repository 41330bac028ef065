"""discussion threads: comments on invoices and assets, their edit history, mentions

`comments` are changed only by their authors and never removed (a deleted comment is a
tombstone). `comment_edits` keeps each earlier body: the runtime role may read and
append, never change or remove one. `notifications` are the mentions of a user; the
runtime role may mark them read.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 22:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("asset_id", sa.Uuid(), nullable=True),
        sa.Column("author_user_id", sa.Uuid(), nullable=True),
        sa.Column("author_api_key_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
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
            "(author_user_id IS NULL) <> (author_api_key_id IS NULL)",
            name=op.f("comments_one_author_check"),
        ),
        sa.CheckConstraint(
            "(deleted_at IS NULL) = (body IS NOT NULL)",
            name=op.f("comments_tombstone_has_no_body_check"),
        ),
        sa.CheckConstraint(
            "(invoice_id IS NULL) <> (asset_id IS NULL)", name=op.f("comments_one_subject_check")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "asset_id"],
            ["assets.tenant_id", "assets.id"],
            name=op.f("comments_tenant_id_asset_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "author_api_key_id"],
            ["api_keys.tenant_id", "api_keys.id"],
            name=op.f("comments_tenant_id_author_api_key_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "author_user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("comments_tenant_id_author_user_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("comments_tenant_id_invoice_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("comments_tenant_id_fkey"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("comments_pkey")),
    )
    op.create_index(
        op.f("comments_tenant_id_asset_id_id_idx"),
        "comments",
        ["tenant_id", "asset_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("comments_tenant_id_invoice_id_id_idx"),
        "comments",
        ["tenant_id", "invoice_id", "id"],
        unique=False,
    )
    op.create_table(
        "comment_edits",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "edited_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "comment_id"],
            ["comments.tenant_id", "comments.id"],
            name=op.f("comment_edits_tenant_id_comment_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("comment_edits_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("comment_edits_pkey")),
    )
    op.create_index(
        op.f("comment_edits_tenant_id_comment_id_idx"),
        "comment_edits",
        ["tenant_id", "comment_id"],
        unique=False,
    )
    op.create_table(
        "notifications",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("comment_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "comment_id"],
            ["comments.tenant_id", "comments.id"],
            name=op.f("notifications_tenant_id_comment_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("notifications_tenant_id_user_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("notifications_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("notifications_pkey")),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "comment_id",
            name=op.f("notifications_tenant_id_user_id_comment_id_key"),
        ),
    )
    op.create_index(
        op.f("notifications_tenant_id_user_id_id_idx"),
        "notifications",
        ["tenant_id", "user_id", "id"],
        unique=False,
    )
    runtime, _ = migration_roles()
    for table in ("comments", "comment_edits", "notifications"):
        enable_tenant_rls(table)
    grant("comments", runtime, ["SELECT", "INSERT", "UPDATE"])  # no DELETE: tombstones
    grant("comment_edits", runtime, ["SELECT", "INSERT"])  # no UPDATE, no DELETE: history
    grant("notifications", runtime, ["SELECT", "INSERT", "UPDATE"])


def downgrade() -> None:
    op.drop_index(op.f("notifications_tenant_id_user_id_id_idx"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("comment_edits_tenant_id_comment_id_idx"), table_name="comment_edits")
    op.drop_table("comment_edits")
    op.drop_index(op.f("comments_tenant_id_invoice_id_id_idx"), table_name="comments")
    op.drop_index(op.f("comments_tenant_id_asset_id_id_idx"), table_name="comments")
    op.drop_table("comments")
