from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ledgerline.security.permissions import Permission
from ledgerline.values import AwareMoment, TrimmedStr


class ApiKeyCreate(BaseModel):
    name: TrimmedStr = Field(max_length=100)
    scopes: list[Permission] = Field(min_length=1, max_length=len(Permission))
    expires_at: AwareMoment | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown once: store it now.")
