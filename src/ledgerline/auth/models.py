"""Refresh-token families (one login on one device) and their tokens.

Tenant users' live in tenant tables under row-level security; platform admins' in
platform tables that only the platform role reaches. Every token ever issued is kept
(hashed) with the time it was spent, so reuse of any spent token is recognised.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, child_of, new_id


class SessionColumns:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))


class TokenColumns:
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    spent_at: Mapped[datetime | None]


class AuthSession(SessionColumns, TenantScoped, Base):
    __tablename__ = "auth_sessions"
    __table_args__ = (*child_of("users", "user_id"),)

    user_id: Mapped[UUID]


class RefreshToken(TokenColumns, TenantScoped, Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        *child_of("auth_sessions", "session_id"),
        Index(None, "tenant_id", "token_hash", unique=True),
    )

    session_id: Mapped[UUID]


class AdminSession(SessionColumns, Base):
    __tablename__ = "admin_sessions"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    admin_id: Mapped[UUID] = mapped_column(
        ForeignKey("platform_admins.id", ondelete="CASCADE"), index=True
    )


class AdminRefreshToken(TokenColumns, Base):
    __tablename__ = "admin_refresh_tokens"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    session_id: Mapped[UUID] = mapped_column(
        ForeignKey("admin_sessions.id", ondelete="CASCADE"), index=True
    )
    __table_args__ = (Index(None, "token_hash", unique=True),)


class DeniedAccessToken(Base):
    """Access tokens signed out before they expire, by `jti`. Holds no tenant data."""

    __tablename__ = "denied_access_tokens"

    jti: Mapped[UUID] = mapped_column(primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
