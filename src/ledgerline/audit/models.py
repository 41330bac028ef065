"""The audit trail: one append-only table, written in the transaction it records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import CheckConstraint, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped, new_id


class ActorType(StrEnum):
    USER = "user"
    ADMIN = "admin"
    API_KEY = "api_key"
    ANONYMOUS = "anonymous"


class AuditColumns:
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_id: Mapped[UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[UUID | None]
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)


class AuditEvent(AuditColumns, TenantScoped, Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(
            "actor_type IN ('user', 'admin', 'api_key', 'anonymous')", name="actor_type_allowed"
        ),
        Index(None, "tenant_id", "occurred_at"),
        Index(None, "tenant_id", "actor_id"),
        Index(None, "tenant_id", "target_type", "target_id"),
    )

    actor_type: Mapped[ActorType] = mapped_column(String(16))


class PlatformAuditEvent(AuditColumns, Base):
    """What platform ADMINs do outside any tenant (logins, lockouts, sign-outs).

    Their actions inside a tenant go to that tenant's `audit_events`.
    """

    __tablename__ = "platform_audit_events"
    __table_args__ = (Index(None, "occurred_at"), Index(None, "actor_id"))

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
