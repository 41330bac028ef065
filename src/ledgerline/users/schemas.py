from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledgerline.users.models import TenantRole
from ledgerline.values import IdentityEmail, TrimmedStr, refuse_null

Password = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    tenant_id: UUID
    email: str
    full_name: str
    role: TenantRole
    is_active: bool
    # Shown to callers who may manage users (null for everybody else).
    locked_until: datetime | None = None
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def as_seen_by(self, can_manage_users: bool) -> UserOut:
        return self if can_manage_users else self.model_copy(update={"locked_until": None})


class UserCreate(BaseModel):
    email: IdentityEmail
    full_name: TrimmedStr = Field(max_length=200)
    role: TenantRole = TenantRole.ASSISTANT
    password: str = Password


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _no_nulls = field_validator("full_name", "role", "is_active", mode="before")(refuse_null)

    full_name: TrimmedStr | None = Field(default=None, max_length=200)
    role: TenantRole | None = None
    is_active: bool | None = None


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: TrimmedStr = Field(max_length=200)


class PasswordChange(BaseModel):
    current_password: str = Password
    new_password: str = Password
