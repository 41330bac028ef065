from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TimestampMixin, Versioned, new_id

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    READ_ONLY = "read_only"


class Tenant(Versioned, TimestampMixin, Base):
    """A customer company. The root of tenancy: its row is visible to its own tenant.

    Versioned: the platform console changes it with If-Match, like any versioned row."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="slug_format"),
        CheckConstraint("status IN ('active', 'suspended', 'read_only')", name="status_allowed"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[TenantStatus] = mapped_column(String(16), default=TenantStatus.ACTIVE)
    plan: Mapped[str] = mapped_column(String(32), default="standard")
