"""`domain_events`: the tenant's outbox of committed changes, read by live subscribers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base, TenantScoped


class DomainEvent(TenantScoped, Base):
    """One committed change. Ids are UUIDv7 in commit order per tenant (events/outbox.py),
    so "everything after id X" is exactly what a subscriber has not seen yet."""

    __tablename__ = "domain_events"

    type: Mapped[str] = mapped_column(String(64))
    # The subscription channels it is delivered on ("invoices", "invoice:<id>", ...).
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(80)))
    # The permission a subscriber needs at the moment the event is sent.
    permission: Mapped[str] = mapped_column(String(40))
    # Set for events meant for one user only (the `me` channel).
    recipient_id: Mapped[UUID | None]
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[UUID]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
