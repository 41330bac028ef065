"""Comments on an invoice or an asset, the history of their edits, and the notifications
their mentions create.

A comment belongs to exactly one subject (an invoice or an asset) and one author (a
user or an API key), each a composite foreign key. Its earlier bodies are kept in
`comment_edits`, which the runtime role may only read and append to: the database
refuses changing or removing a history row. A deleted comment is a tombstone (its body
cleared, `deleted_at` set), never a removed row.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, child_of


class Comment(Versioned, TenantScoped, TimestampMixin, Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("(invoice_id IS NULL) <> (asset_id IS NULL)", name="one_subject"),
        CheckConstraint(
            "(author_user_id IS NULL) <> (author_api_key_id IS NULL)", name="one_author"
        ),
        CheckConstraint("(deleted_at IS NULL) = (body IS NOT NULL)", name="tombstone_has_no_body"),
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "asset_id"], ["assets.tenant_id", "assets.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "author_user_id"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "author_api_key_id"],
            ["api_keys.tenant_id", "api_keys.id"],
            ondelete="RESTRICT",
        ),
        # A thread is read newest first by its subject.
        Index(None, "tenant_id", "invoice_id", "id"),
        Index(None, "tenant_id", "asset_id", "id"),
    )

    invoice_id: Mapped[UUID | None]
    asset_id: Mapped[UUID | None]
    author_user_id: Mapped[UUID | None]
    author_api_key_id: Mapped[UUID | None]
    # Markdown as the author wrote it (clients render it); NULL once deleted.
    body: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None]


class CommentEdit(TenantScoped, Base):
    """A comment's body before one of its edits (append-only)."""

    __tablename__ = "comment_edits"
    __table_args__ = (*child_of("comments", "comment_id", ondelete="RESTRICT"),)

    comment_id: Mapped[UUID]
    # The version the edit replaced, and the body it had.
    version: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    edited_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Notification(TenantScoped, Base):
    """A user mentioned in a comment; read once they mark it so."""

    __tablename__ = "notifications"
    __table_args__ = (
        # One notification per user and comment, however often an edit repeats the mention.
        UniqueConstraint("tenant_id", "user_id", "comment_id"),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "comment_id"],
            ["comments.tenant_id", "comments.id"],
            ondelete="RESTRICT",
        ),
        # The caller's own, newest first.
        Index(None, "tenant_id", "user_id", "id"),
    )

    user_id: Mapped[UUID]
    comment_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(20), default="mention")
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
