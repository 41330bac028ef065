from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.tenants.models import TenantStatus
from ledgerline.values import TrimmedStr, refuse_null


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    slug: str
    name: str
    status: TenantStatus
    plan: str
    created_at: datetime
    updated_at: datetime


class TenantCreate(BaseModel):
    name: TrimmedStr = Field(max_length=200)
    slug: str = Field(min_length=1, max_length=63)
    plan: TrimmedStr = Field(default="standard", max_length=32)


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _no_nulls = field_validator("name", "status", "plan", mode="before")(refuse_null)

    name: TrimmedStr | None = Field(default=None, max_length=200)
    status: TenantStatus | None = None
    plan: TrimmedStr | None = Field(default=None, max_length=32)
