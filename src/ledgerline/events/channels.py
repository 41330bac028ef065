"""What a caller may subscribe to. Every event is checked again when it is sent; this
refuses at once what could never deliver, and never confirms another tenant's ids."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from ledgerline.assets.models import Asset
from ledgerline.db.engine import Database
from ledgerline.invoices.models import Invoice, InvoiceBatch
from ledgerline.security.permissions import Permission

# The channel, and the permission its events need (`comments` events carry their own).
PLAIN_CHANNELS: dict[str, Permission] = {
    "invoices": Permission.INVOICES_READ,
    "comments": Permission.EVENTS_READ,
    "assets": Permission.ASSETS_READ,
    "ledger": Permission.LEDGER_READ,
    "financing": Permission.FINANCING_READ,
    "dashboard": Permission.DASHBOARD_READ,
    "me": Permission.EVENTS_READ,
    "purchase-orders": Permission.PURCHASING_READ,
}
# `<kind>:<id>` channels: the row that must exist in the tenant, and the permission.
_BY_ID: dict[str, tuple[type[Invoice] | type[InvoiceBatch] | type[Asset], Permission]] = {
    "invoice": (Invoice, Permission.INVOICES_READ),
    "batch": (InvoiceBatch, Permission.INVOICES_READ),
    "asset": (Asset, Permission.ASSETS_READ),
}


async def refusal(
    database: Database, tenant_id: UUID, permissions: frozenset[str], channel: object
) -> str | None:
    """Why `channel` is refused, or None when the caller may subscribe to it."""
    if not isinstance(channel, str):
        return "unknown_channel"
    if channel in PLAIN_CHANNELS:
        return None if PLAIN_CHANNELS[channel] in permissions else "permission_denied"
    kind, _, raw_id = channel.partition(":")
    if kind not in _BY_ID:
        return "unknown_channel"
    model, needed = _BY_ID[kind]
    if needed not in permissions:
        return "permission_denied"
    try:
        row_id = UUID(raw_id)
    except ValueError:
        return f"{kind}_not_found"
    async with database.tenant_transaction(tenant_id) as session:
        found = await session.scalar(select(model.id).where(model.id == row_id))
    return None if found is not None else f"{kind}_not_found"


def invoice_channels(invoice_id: UUID, *, batch_id: UUID | None = None) -> list[str]:
    """Where an invoice's events are delivered."""
    found = ["invoices", f"invoice:{invoice_id}", "dashboard"]
    if batch_id is not None:
        found.append(f"batch:{batch_id}")
    return found


def comment_channels(subject_type: str, subject_id: UUID) -> list[str]:
    """Where a comment's events are delivered: `comments` and its subject's channel."""
    return ["comments", f"{subject_type}:{subject_id}"]


def asset_channels(asset_id: UUID) -> list[str]:
    """Where an asset's events are delivered."""
    return ["assets", f"asset:{asset_id}", "dashboard"]
