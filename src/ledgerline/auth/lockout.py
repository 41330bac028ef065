"""Account lockout: one rule for every way of proving who one is.

Each failure (a wrong password at login or at a password change, a wrong sign-in code)
counts on the account's row. At `LOCKOUT_THRESHOLD` consecutive failures the account
locks for `LOCKOUT_MINUTES` and the count starts afresh. A success resets the count; an
owner's unlock and a password reset lift the lock.

Counting and locking are plain UPDATEs, not the ORM's: the row's version (its ETag)
stays, because nobody changed the account. A login reserves its attempt with one atomic
UPDATE, committed before the password is hashed: no row lock is held while hashing, and
concurrent guesses cannot pass the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.config import Settings
from ledgerline.security.passwords import Passwords
from ledgerline.users.models import PlatformAdmin, User

Account = type[User] | type[PlatformAdmin]


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt, counted before its password is checked."""

    account_id: UUID
    password_hash: str | None
    number: int  # this attempt among the consecutive unresolved ones


@dataclass(frozen=True, slots=True)
class Verdict:
    """What checking an attempt's password found."""

    matches: bool
    checked: bool  # False: no such account, or refused unchecked beyond the threshold
    locks: bool  # the account locks now
    new_hash: str | None  # the password rehashed with the current parameters


async def reserve_attempt(session: AsyncSession, model: Account, email: str) -> Attempt | None:
    """Count an attempt on the active, unlocked account of `email`; None when there is
    none. Commit before checking the password."""
    row = (
        await session.execute(
            update(model)
            .where(
                model.email == email,
                model.is_active,
                or_(model.locked_until.is_(None), model.locked_until <= func.now()),
            )
            .values(failed_login_count=model.failed_login_count + 1)
            .returning(model.id, model.password_hash, model.failed_login_count)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return Attempt(*row) if row is not None else None


async def check_password(
    passwords: Passwords, settings: Settings, attempt: Attempt | None, password: str
) -> Verdict:
    """Check the attempt's password, outside any transaction.

    An attempt beyond the threshold (concurrent guesses) is refused unchecked, and locks
    the account; it still costs a hash, so that it takes as long as any other answer.
    """
    if attempt is None or attempt.number > settings.lockout_threshold:
        await passwords.verify(password, None)
        return Verdict(matches=False, checked=False, locks=attempt is not None, new_hash=None)
    matches, new_hash = await passwords.verify(password, attempt.password_hash)
    locks = not matches and attempt.number >= settings.lockout_threshold
    return Verdict(matches=matches, checked=True, locks=locks, new_hash=new_hash)


async def settle(
    session: AsyncSession,
    model: Account,
    settings: Settings,
    attempt: Attempt | None,
    verdict: Verdict,
) -> None:
    """Write what a checked login attempt means: a success resets the count and lifts
    an expired lock, a locking failure locks; any other failure is counted already."""
    if attempt is None:
        return
    if verdict.matches:
        rehashed = {"password_hash": verdict.new_hash} if verdict.new_hash is not None else {}
        await succeeded(session, model, attempt.account_id, locked_until=None, **rehashed)
    elif verdict.locks:
        await _lock(session, model, attempt.account_id, settings)


async def count_failure(session: AsyncSession, settings: Settings, user_id: UUID) -> bool:
    """One more consecutive failure of a tenant user (a wrong code, a wrong current
    password); lock at the threshold. True when this failure locked the account."""
    failures = await session.scalar(
        update(User)
        .where(User.id == user_id)
        .values(failed_login_count=User.failed_login_count + 1)
        .returning(User.failed_login_count)
        .execution_options(synchronize_session=False)
    )
    if (failures or 0) < settings.lockout_threshold:
        return False
    await _lock(session, User, user_id, settings)
    return True


async def succeeded(session: AsyncSession, model: Account, account_id: UUID, **also: Any) -> None:
    """A successful sign-in: the count starts afresh; `also` are more columns to set."""
    await session.execute(
        update(model)
        .where(model.id == account_id)
        .values(failed_login_count=0, last_login_at=func.now(), **also)
        .execution_options(synchronize_session=False)
    )


async def _lock(
    session: AsyncSession, model: Account, account_id: UUID, settings: Settings
) -> None:
    await session.execute(
        update(model)
        .where(model.id == account_id)
        .values(
            failed_login_count=0,
            locked_until=func.now() + timedelta(minutes=settings.lockout_minutes),
        )
        .execution_options(synchronize_session=False)
    )


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > datetime.now(UTC)


def unlock(user: User) -> None:
    """Lift the lock by hand (an owner's unlock, a password reset). Through the ORM: the
    row's version moves, as somebody changed the account."""
    user.locked_until = None
    user.failed_login_count = 0
