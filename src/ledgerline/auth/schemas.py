from __future__ import annotations

from pydantic import BaseModel, Field

from ledgerline.tenants.schemas import TenantOut
from ledgerline.users.schemas import Password, UserOut
from ledgerline.values import IdentityEmail, TrimmedStr


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Password


class TenantSignup(BaseModel):
    name: TrimmedStr = Field(max_length=200)
    slug: str = Field(min_length=1, max_length=63)


class OwnerSignup(BaseModel):
    email: IdentityEmail
    password: str = Password
    full_name: TrimmedStr = Field(max_length=200)


class SignupRequest(BaseModel):
    tenant: TenantSignup
    owner: OwnerSignup


class SignupResponse(BaseModel):
    tenant: TenantOut
    user: UserOut
    tokens: TokenResponse


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class EmailOnly(BaseModel):
    email: str = Field(min_length=1, max_length=320)


class CodeLogin(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class PasswordResetConfirm(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Password


class LinkToken(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class Accepted(BaseModel):
    status: str = "accepted"
    detail: str
