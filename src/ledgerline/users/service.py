"""Tenant users: create, change, deactivate, unlock; one's own profile and password.

Each endpoint makes one call here that does its whole step. A change locks the tenant's
owners and then the user (see `_lock_owners`), checks the caller's If-Match version
(404, then 428 or 412), then the step's rules (409), changes, audits and returns the
user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext, diff
from ledgerline.auth import lockout
from ledgerline.auth.sessions import revoke_user_sessions
from ledgerline.config import Settings
from ledgerline.db.rows import locked_at_version, record_by_id, row_by_id
from ledgerline.pagination import PageRequest, contains, keyset_page
from ledgerline.problems import Problem
from ledgerline.security.passwords import Passwords, check_password_policy
from ledgerline.users.models import TenantRole, User
from ledgerline.values import normalize_email


def _snapshot(user: User) -> dict[str, Any]:
    return {"full_name": user.full_name, "role": user.role, "is_active": user.is_active}


async def get_user(session: AsyncSession, user_id: UUID) -> User:
    return await row_by_id(session, User, user_id, what="user")


# A user as GET /users/me shows it, read with asyncpg itself (db/driver.py).
_PROFILE = """
SELECT id, tenant_id, email, full_name, role, is_active, last_login_at, created_at,
       updated_at, version
  FROM users
 WHERE id = $1
"""


async def read_profile(session: AsyncSession, user_id: UUID) -> asyncpg.Record:
    """The caller's own user row, for the response (its lock state is not shown)."""
    return await record_by_id(session, _PROFILE, user_id, what="user")


async def _lock_owners(session: AsyncSession) -> None:
    """Lock the tenant's owners in id order, before the user a change is about.

    A change may demote or deactivate an owner, which must leave another active owner.
    With the owners locked first, two owners changing each other at once queue instead
    of deadlocking, and the count of the other owners stays true until commit.
    """
    owners = select(User.id).where(User.role == TenantRole.TENANT_OWNER).order_by(User.id)
    await session.execute(owners.with_for_update())


async def _locked(session: AsyncSession, user_id: UUID, if_match: str | None) -> User:
    """The user, locked after the owners, at the version the caller read (If-Match)."""
    await _lock_owners(session)
    return await locked_at_version(session, User, user_id, if_match, what="user")


async def list_users(
    session: AsyncSession,
    page: PageRequest,
    *,
    role: TenantRole | None,
    is_active: bool | None,
    q: str | None,
) -> tuple[Sequence[User], str | None]:
    """A page of the tenant's users (`q` in email or name), and the next page's cursor."""
    statement = select(User)
    if role is not None:
        statement = statement.where(User.role == role)
    if is_active is not None:
        statement = statement.where(User.is_active == is_active)
    if q:
        pattern = contains(q)
        statement = statement.where(or_(User.email.ilike(pattern), User.full_name.ilike(pattern)))
    return await keyset_page(session, statement, User.id, page)


async def create_user(
    session: AsyncSession,
    audit: AuditContext,
    passwords: Passwords,
    *,
    email: str,
    full_name: str,
    role: TenantRole,
    password: str,
) -> User:
    check_password_policy(password)
    user = User(
        tenant_id=audit.tenant_id,
        email=normalize_email(email),
        full_name=full_name.strip(),
        role=role,
        password_hash=await passwords.hash(password),
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise Problem(409, "email_taken", "A user with this email exists.") from error
    audit.record(
        session,
        "user.created",
        target_type="user",
        target_id=user.id,
        changes={"email": user.email, **_snapshot(user)},
    )
    return user


async def _other_active_owners(session: AsyncSession, user_id: UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == TenantRole.TENANT_OWNER, User.is_active, User.id != user_id)
    )
    return count or 0


async def _keep_an_owner(session: AsyncSession, user: User, after: dict[str, Any]) -> None:
    """Refuse a change that would leave the tenant without an active owner."""
    stays_owner = after.get("role", user.role) == TenantRole.TENANT_OWNER and after.get(
        "is_active", user.is_active
    )
    # The owners are locked already (`_lock_owners`): the count is stable.
    if (
        user.role == TenantRole.TENANT_OWNER
        and user.is_active
        and not stays_owner
        and await _other_active_owners(session, user.id) == 0
    ):
        raise Problem(409, "last_owner", "A tenant keeps at least one active owner.")


async def update_user(
    session: AsyncSession,
    audit: AuditContext,
    user_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> User:
    """Change a user (one's own profile too) at the version the caller read."""
    return await _change(session, audit, await _locked(session, user_id, if_match), changes)


async def _change(
    session: AsyncSession, audit: AuditContext, user: User, changes: dict[str, Any]
) -> User:
    await _keep_an_owner(session, user, changes)
    before = _snapshot(user)
    for field, value in changes.items():
        setattr(user, field, value)
    if changes.get("is_active") is False:
        await revoke_user_sessions(session, user_id=user.id, reason="deactivated")
    await session.flush()
    audit.record(
        session,
        "user.updated",
        target_type="user",
        target_id=user.id,
        changes=diff(before, _snapshot(user)),
    )
    return user


async def deactivate_user(
    session: AsyncSession, audit: AuditContext, user_id: UUID, *, if_match: str | None
) -> None:
    """Users are never deleted (the audit trail points at them); a second time changes
    nothing."""
    user = await _locked(session, user_id, if_match)
    if user.is_active:
        await _change(session, audit, user, {"is_active": False})


async def unlock_user(
    session: AsyncSession, audit: AuditContext, user_id: UUID, *, if_match: str | None
) -> None:
    """Lift a lockout and start the failure count afresh."""
    user = await _locked(session, user_id, if_match)
    before = {"locked_until": user.locked_until, "failed_login_count": user.failed_login_count}
    lockout.unlock(user)
    audit.record(
        session,
        "user.unlocked",
        target_type="user",
        target_id=user.id,
        changes={
            "locked_until": {"before": str(before["locked_until"]), "after": None},
            "failed_login_count": {"before": before["failed_login_count"], "after": 0},
        },
    )


async def change_password(
    session: AsyncSession,
    audit: AuditContext,
    passwords: Passwords,
    user_id: UUID,
    *,
    current_password: str,
    new_password: str,
    keep_session: UUID | None,
    settings: Settings,
) -> None:
    """Needs the current password; revokes the user's other sessions.

    A wrong current password counts as a failed login (a stolen token must not become
    a way to guess the password): at the threshold the account locks and every session
    of the user ends, this one too. The 403 keeps those writes: the request's
    transaction commits them before answering.
    """
    await _lock_owners(session)
    user = await row_by_id(session, User, user_id, what="user", for_update=True)
    matches, _ = await passwords.verify(current_password, user.password_hash)
    if not matches:
        audit.record(session, "user.password_change_failed", target_type="user", target_id=user.id)
        if await lockout.count_failure(session, settings, user.id):
            await revoke_user_sessions(session, user_id=user.id, reason="locked")
            audit.record(session, "auth.account_locked", target_type="user", target_id=user.id)
        raise Problem(
            403, "current_password_wrong", "The current password is not right.", keep_writes=True
        )
    check_password_policy(new_password)
    user.password_hash = await passwords.hash(new_password)
    await revoke_user_sessions(
        session, user_id=user.id, reason="password_changed", keep=keep_session
    )
    audit.record(
        session, "user.password_changed", target_type="user", target_id=user.id, changes=None
    )
