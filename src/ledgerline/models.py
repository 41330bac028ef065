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
from ledgerline.financing.models import (
    FinancingAcceptance,
    FinancingOffer,
    FinancingProgram,
    FinancingSettlement,
)
from ledgerline.idempotency import IdempotencyRecord
from ledgerline.invoices.models import (
    ApprovalPolicy,
    CreditNoteAllocation,
    Invoice,
    InvoiceApproval,
    InvoiceLine,
    InvoicePayment,
    InvoiceStatusChange,
    TaxCode,
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
from ledgerline.purchasing.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    MatchResolution,
    PurchaseOrder,
    PurchaseOrderApproval,
    PurchaseOrderLine,
    PurchaseOrderMatch,
    PurchaseOrderStatusChange,
    PurchasingSettings,
)
from ledgerline.tenants.models import Tenant
from ledgerline.threads.models import Comment, CommentEdit, Notification
from ledgerline.users.models import PlatformAdmin, User
from ledgerline.vendors.models import Vendor

__all__ = [
    "Account",
    "AdminRefreshToken",
    "AdminSession",
    "ApiKey",
    "ApprovalPolicy",
    "Asset",
    "AssetCategory",
    "AssetEvent",
    "AssetTagCounter",
    "AssetUsage",
    "AuditEvent",
    "AuthSession",
    "Balance",
    "Base",
    "Comment",
    "CommentEdit",
    "CreditNoteAllocation",
    "Custodian",
    "DeniedAccessToken",
    "DepreciationEntry",
    "DomainEvent",
    "FinancingAcceptance",
    "FinancingOffer",
    "FinancingProgram",
    "FinancingSettlement",
    "GoodsReceipt",
    "GoodsReceiptLine",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceApproval",
    "InvoiceLine",
    "InvoicePayment",
    "InvoiceStatusChange",
    "JournalEntry",
    "JournalLine",
    "Location",
    "MaintenanceRecord",
    "MatchResolution",
    "Notification",
    "OneTimeSecret",
    "OutboxMessage",
    "Period",
    "PlatformAdmin",
    "PlatformAuditEvent",
    "PurchaseOrder",
    "PurchaseOrderApproval",
    "PurchaseOrderLine",
    "PurchaseOrderMatch",
    "PurchaseOrderStatusChange",
    "PurchasingSettings",
    "RefreshToken",
    "TaxCode",
    "Tenant",
    "Transfer",
    "User",
    "Vendor",
]
