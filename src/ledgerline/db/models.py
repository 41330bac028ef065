"""Imports every model so that `Base.metadata` knows all tables (Alembic, tests)."""

from ledgerline.api_keys.models import ApiKey
from ledgerline.audit.models import AuditEvent, PlatformAuditEvent
from ledgerline.auth.models import (
    AdminRefreshToken,
    AdminSession,
    AuthSession,
    DeniedAccessToken,
    RefreshToken,
)
from ledgerline.db.base import Base
from ledgerline.tenants.models import Tenant
from ledgerline.users.models import PlatformAdmin, User

__all__ = [
    "AdminRefreshToken",
    "AdminSession",
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Base",
    "DeniedAccessToken",
    "PlatformAdmin",
    "PlatformAuditEvent",
    "RefreshToken",
    "Tenant",
    "User",
]
