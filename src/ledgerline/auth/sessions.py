"""Ending sign-ins: revoking refresh families, in the caller's transaction.

A tenant user's families end on sign-out, deactivation, a password change or reset, a
lockout during a password change, and the reuse of a spent refresh token; a platform
ADMIN's on sign-out and refresh-token reuse. Each function revokes the live families it
names (a revoked one keeps its first reason) and returns their ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.auth.models import AdminSession, AuthSession


async def _revoke(
    session: AsyncSession,
    family: type[AuthSession] | type[AdminSession],
    reason: str,
    *which: ColumnElement[bool],
) -> list[UUID]:
    statement = (
        update(family)
        .where(family.revoked_at.is_(None), *which)
        .values(revoked_at=datetime.now(UTC), revoked_reason=reason)
        .returning(family.id)
    )
    return list(await session.scalars(statement))


async def revoke_user_sessions(
    session: AsyncSession, *, user_id: UUID, reason: str, keep: UUID | None = None
) -> list[UUID]:
    """Every live refresh family of a tenant user, but `keep`."""
    which = [AuthSession.user_id == user_id]
    if keep is not None:
        which.append(AuthSession.id != keep)
    return await _revoke(session, AuthSession, reason, *which)


async def revoke_user_session(
    session: AsyncSession, *, session_id: UUID, reason: str
) -> list[UUID]:
    """One refresh family of a tenant user (none when it has ended already)."""
    return await _revoke(session, AuthSession, reason, AuthSession.id == session_id)


async def revoke_admin_sessions(
    session: AsyncSession, *, admin_id: UUID, reason: str
) -> list[UUID]:
    """Every live refresh family of a platform ADMIN (platform connection only)."""
    return await _revoke(session, AdminSession, reason, AdminSession.admin_id == admin_id)


async def revoke_admin_session(
    session: AsyncSession, *, session_id: UUID, reason: str
) -> list[UUID]:
    """One refresh family of a platform ADMIN (platform connection only)."""
    return await _revoke(session, AdminSession, reason, AdminSession.id == session_id)
