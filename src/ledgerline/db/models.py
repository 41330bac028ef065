"""Imports every model so that `Base.metadata` knows all tables (Alembic, tests)."""

from ledgerline.db.base import Base
from ledgerline.tenants.models import Tenant
from ledgerline.users.models import PlatformAdmin, User

__all__ = ["Base", "PlatformAdmin", "Tenant", "User"]
