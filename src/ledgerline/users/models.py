from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, TimestampMixin, Versioned, new_id


class TenantRole(StrEnum):
    TENANT_OWNER = "TENANT_OWNER"
    ASSISTANT = "ASSISTANT"


class LoginTracking:
    """Consecutive failed logins and the lock they lead to."""

    failed_login_count: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]


class User(Versioned, LoginTracking, TenantScoped, TimestampMixin, Base):
    """A person of a tenant. Platform ADMINs belong to no tenant and live elsewhere."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        CheckConstraint("role IN ('TENANT_OWNER', 'ASSISTANT')", name="role_allowed"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str] = mapped_column(Text)
    role: Mapped[TenantRole] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]


class PlatformAdmin(LoginTracking, TimestampMixin, Base):
    """A platform operator (role ADMIN). Belongs to no tenant; the runtime role cannot see it."""

    __tablename__ = "platform_admins"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
