"""Integration API keys: issue and revoke (the access hook authenticates them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.api_keys.models import ApiKey
from ledgerline.audit.service import AuditContext
from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem
from ledgerline.security.api_keys import (
    api_key_digest,
    new_api_key,
)
from ledgerline.security.permissions import API_KEY_SCOPES, Permission


async def create_api_key(
    session: AsyncSession,
    audit: AuditContext,
    settings: Settings,
    *,
    name: str,
    scopes: list[Permission],
    expires_at: datetime | None,
    created_by: UUID | None,
) -> tuple[ApiKey, str]:
    """The stored key and the secret key itself, which is never shown again."""
    not_grantable = sorted(set(scopes) - API_KEY_SCOPES)
    if not_grantable:
        raise Problem(
            422, "scope_not_grantable", f"An API key cannot hold: {', '.join(not_grantable)}."
        )
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise Problem(422, "expiry_in_past", "expires_at must lie in the future.")
    key_id = new_id()
    issued = new_api_key(key_id, audit.tenant_id)
    key = ApiKey(
        tenant_id=audit.tenant_id,
        id=key_id,
        name=name.strip(),
        prefix=issued.display_prefix,
        secret_hash=api_key_digest(settings, issued.token),
        scopes=sorted(set(scopes)),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        "api_key.created",
        target_type="api_key",
        target_id=key.id,
        changes={"name": key.name, "scopes": key.scopes, "expires_at": str(expires_at)},
    )
    return key, issued.token


async def list_api_keys(
    session: AsyncSession, page: PageRequest
) -> tuple[Sequence[ApiKey], str | None]:
    return await keyset_page(session, select(ApiKey), ApiKey.id, page)


async def revoke_api_key(session: AsyncSession, audit: AuditContext, key_id: UUID) -> None:
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id).with_for_update())
    if key is None:
        raise Problem(404, "api_key_not_found", "No such API key.")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        audit.record(session, "api_key.revoked", target_type="api_key", target_id=key.id)
