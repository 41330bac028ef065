from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ledgerline.audit.models import ActorType


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    occurred_at: datetime
    actor_type: ActorType
    actor_id: UUID | None
    action: str
    target_type: str | None
    target_id: UUID | None
    changes: dict[str, Any] | None
    request_id: str | None
    ip: str | None
    user_agent: str | None
