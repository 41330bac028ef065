"""Ending a tenant user's sign-ins: what deactivation, a password change or reset and a
lockout during a password change do."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth.models import AuthSession


async def revoke_user_sessions(
    session: AsyncSession, *, user_id: UUID, reason: str, keep: UUID | None = None
) -> None:
    """Revoke every live refresh family of a user (but `keep`), in the caller's transaction."""
    statement = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    await session.execute(statement.values(revoked_at=datetime.now(UTC), revoked_reason=reason))
