"""The mail outbox: messages written in the transaction that causes them, sent after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped


class MailStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender until next_attempt_at (its lease)
    SENT = "sent"
    FAILED = "failed"


UNDELIVERED = "status IN ('pending', 'sending', 'failed')"


class OutboxMessage(TenantScoped, Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')", name="status_allowed"
        ),
        Index(None, "tenant_id", "status", "next_attempt_at"),
        # Undelivered mail only, for /metrics across tenants (migration 0013).
        Index(None, "tenant_id", "status", "created_at", postgresql_where=text(UNDELIVERED)),
    )

    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    # Emptied once an SMTP server took the message: codes and links do not stay at rest.
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(String(16), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
