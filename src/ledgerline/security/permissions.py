"""The one permission table: every endpoint names the permission it needs.

ADMIN is the platform operator (no tenant of its own; acts in a tenant through
X-Tenant-ID, audited). TENANT_OWNER has everything in its tenant. ASSISTANT does the
day-to-day work: no approvals, no user or key management, no audit trail, no deletes, no
disposal. API keys (scopes) never exceed TENANT_OWNER.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    TENANT_OWNER = "TENANT_OWNER"
    ASSISTANT = "ASSISTANT"


class Permission(StrEnum):
    PROFILE = "profile"  # one's own account
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    INVOICES_APPROVE = "invoices:approve"
    INVOICES_DELETE = "invoices:delete"
    TAX_CODES_MANAGE = "tax-codes:manage"  # creating, renaming, deactivating tax codes
    APPROVAL_POLICY_MANAGE = "approval-policy:manage"  # thresholds, segregation of duties
    VENDOR_BANK_DETAILS = "vendors:bank-details"  # unmasked bank accounts
    ASSETS_READ = "assets:read"
    ASSETS_WRITE = "assets:write"
    ASSETS_DELETE = "assets:delete"
    ASSETS_DISPOSE = "assets:dispose"
    ASSETS_POST = "assets:post"  # depreciation runs, capitalization, adjustments
    LEDGER_READ = "ledger:read"  # accounts, journal, periods, transfers, reports
    LEDGER_POST = "ledger:post"  # transfers, manual entries and their reversals, the chart
    PERIODS_MANAGE = "periods:manage"  # closing and reopening months
    FINANCING_READ = "financing:read"  # programs, opportunities, offers, settlements
    FINANCING_MANAGE = "financing:manage"  # programs, offers, settling and repaying them
    PURCHASING_READ = "purchasing:read"  # purchase orders, receipts, their reports
    PURCHASING_MANAGE = "purchasing:manage"  # ordering, receiving, reversing receipts
    PURCHASING_APPROVE = "purchasing:approve"  # approving orders, the matching settings
    API_KEYS_MANAGE = "api-keys:manage"
    COMMENTS_READ = "comments:read"  # discussion threads, one's own notifications
    COMMENTS_WRITE = "comments:write"  # commenting; editing and deleting one's own comments
    EVENTS_READ = "events:read"  # live events (WebSocket, SSE); each event checks its own
    DASHBOARD_READ = "dashboard:read"  # the dashboard's figures (JSON and CSV)
    PLATFORM_MANAGE = "platform:manage"


_TENANT_WORK = frozenset(
    {
        Permission.PROFILE,
        Permission.USERS_READ,
        Permission.INVOICES_READ,
        Permission.INVOICES_WRITE,
        Permission.ASSETS_READ,
        Permission.ASSETS_WRITE,
        Permission.LEDGER_READ,
        Permission.COMMENTS_READ,
        Permission.COMMENTS_WRITE,
        Permission.EVENTS_READ,
        Permission.DASHBOARD_READ,
        Permission.PURCHASING_READ,
        Permission.PURCHASING_MANAGE,
    }
)
_TENANT_OWNER = _TENANT_WORK | {
    Permission.USERS_MANAGE,
    Permission.AUDIT_READ,
    Permission.INVOICES_APPROVE,
    Permission.INVOICES_DELETE,
    Permission.TAX_CODES_MANAGE,
    Permission.APPROVAL_POLICY_MANAGE,
    Permission.VENDOR_BANK_DETAILS,
    Permission.ASSETS_DELETE,
    Permission.ASSETS_DISPOSE,
    Permission.ASSETS_POST,
    Permission.LEDGER_POST,
    Permission.PERIODS_MANAGE,
    Permission.FINANCING_READ,
    Permission.FINANCING_MANAGE,
    Permission.PURCHASING_APPROVE,
    Permission.API_KEYS_MANAGE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.TENANT_OWNER: frozenset(_TENANT_OWNER),
    Role.ASSISTANT: _TENANT_WORK,
}


# What an integration API key may be granted: never more than an owner, and never the
# management of people or keys, nor of the controls over approvals.
API_KEY_SCOPES: frozenset[Permission] = ROLE_PERMISSIONS[Role.TENANT_OWNER] - {
    Permission.PROFILE,
    Permission.USERS_MANAGE,
    Permission.API_KEYS_MANAGE,
    Permission.VENDOR_BANK_DETAILS,
    Permission.PERIODS_MANAGE,
    Permission.APPROVAL_POLICY_MANAGE,
}


def permission_table_markdown() -> str:
    """The role-by-permission table, as the README prints it."""
    roles = list(Role)
    lines = [
        "| permission | " + " | ".join(roles) + " | API key scope |",
        "| --- | " + " | ".join("---" for _ in roles) + " | --- |",
    ]
    for permission in Permission:
        marks = ["yes" if permission in ROLE_PERMISSIONS[role] else "" for role in roles]
        marks.append("grantable" if permission in API_KEY_SCOPES else "")
        lines.append(f"| `{permission}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)
