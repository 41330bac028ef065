"""The model registry: every feature's models, so that `Base.metadata` knows all tables.

Only Alembic (`migrations/env.py`) and the tests import it; it sits above the features.
"""

from ledgerline.api_keys.models import ApiKey
from ledgerline.assets.models import (
    Asset,
    AssetCategory,
    AssetEvent,
    AssetTagCounter,
    AssetUsage,
    Custodian,
    DepreciationEntry,
    Location,
    MaintenanceRecord,
)
from ledgerline.audit.models import AuditEvent, PlatformAuditEvent
from ledgerline.auth.models import (
    AdminRefreshToken,
    AdminSession,
    AuthSession,
    DeniedAccessToken,
    RefreshToken,
)
from ledgerline.auth.one_time import OneTimeSecret
from ledgerline.db.base import Base
from ledgerline.events.models import DomainEvent
from ledgerline.idempotency import IdempotencyRecord
from ledgerline.invoices.models import (
    Invoice,
    InvoiceLine,
    InvoicePayment,
    InvoiceStatusChange,
)
from ledgerline.ledger.models import (
    Account,
    Balance,
    JournalEntry,
    JournalLine,
    Period,
    Transfer,
)
from ledgerline.mail.models import OutboxMessage
from ledgerline.tenants.models import Tenant
from ledgerline.users.models import PlatformAdmin, User
from ledgerline.vendors.models import Vendor

__all__ = [
    "Account",
    "AdminRefreshToken",
    "AdminSession",
    "ApiKey",
    "Asset",
    "AssetCategory",
    "AssetEvent",
    "AssetTagCounter",
    "AssetUsage",
    "AuditEvent",
    "AuthSession",
    "Balance",
    "Base",
    "Custodian",
    "DeniedAccessToken",
    "DepreciationEntry",
    "DomainEvent",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceLine",
    "InvoicePayment",
    "InvoiceStatusChange",
    "JournalEntry",
    "JournalLine",
    "Location",
    "MaintenanceRecord",
    "OneTimeSecret",
    "OutboxMessage",
    "Period",
    "PlatformAdmin",
    "PlatformAuditEvent",
    "RefreshToken",
    "Tenant",
    "Transfer",
    "User",
    "Vendor",
]
