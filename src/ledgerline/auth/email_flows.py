"""Flows that go through the user's mailbox: login codes, password reset, email check.

Requests always answer the same (202), whether or not the account exists: nothing to
enumerate. Failures that must be remembered (a wrong code counts toward the account
lockout) are committed before the error is raised.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.models import ActorType
from ledgerline.audit.service import ANONYMOUS, Actor, AuditContext, RequestMeta
from ledgerline.auth import lockout
from ledgerline.auth.one_time import OneTimeSecret, Purpose, replace_secret
from ledgerline.auth.service import (
    TokenPair,
    invalid_credentials,
    open_tenant_session,
    resolve_tenant,
)
from ledgerline.auth.sessions import revoke_user_sessions
from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.mail.service import queue_mail
from ledgerline.problems import Problem
from ledgerline.security.passwords import Passwords, check_password_policy
from ledgerline.security.tokens import (
    EMAIL_VERIFICATION_PREFIX,
    PASSWORD_RESET_PREFIX,
    InvalidToken,
    new_tenant_token,
    tenant_of_token,
    token_digest,
)
from ledgerline.tenants.models import Tenant, TenantStatus
from ledgerline.users.models import User
from ledgerline.values import normalize_email

LOGIN_CODE_TTL = timedelta(minutes=5)
LOGIN_CODE_ATTEMPTS = 5
PASSWORD_RESET_TTL = timedelta(minutes=30)


def _now() -> datetime:
    return datetime.now(UTC)


def _code_digest(settings: Settings, secret_id: UUID, code: str) -> bytes:
    """A code is bound to its row: the same six digits hash differently elsewhere."""
    return token_digest(settings, f"{secret_id}:{code}")


async def _active_user(session: AsyncSession, email: str) -> User | None:
    """The active user of `email`, locked: concurrent requests replace its secret in turn
    (else each would retire only what it could see and several would stay live)."""
    user = await session.scalar(
        select(User).where(User.email == normalize_email(email)).with_for_update()
    )
    if user is None or not user.is_active:
        return None
    return user


async def _for_known_user(
    database: Database,
    tenant_reference: str,
    email: str,
    meta: RequestMeta,
    action: str,
    mail_for: Callable[[AsyncSession, User], Awaitable[tuple[str, str]]],
) -> None:
    """If `email` names an active user of the tenant: `mail_for` makes the secret and
    returns (subject, body), which is queued, and the request is audited. Otherwise
    nothing happens, silently: the caller answers alike either way."""
    tenant_id = await resolve_tenant(database, tenant_reference)
    if tenant_id is None:
        return
    async with database.tenant_transaction(tenant_id) as session:
        user = await _active_user(session, email)
        if user is None:
            return
        subject, body = await mail_for(session, user)
        queue_mail(session, tenant_id=tenant_id, to=user.email, subject=subject, body=body)
        AuditContext(tenant_id, ANONYMOUS, meta).record(
            session, action, target_type="user", target_id=user.id
        )


async def request_login_code(
    database: Database, settings: Settings, *, tenant_reference: str, email: str, meta: RequestMeta
) -> None:
    async def code_mail(session: AsyncSession, user: User) -> tuple[str, str]:
        secret = await replace_secret(session, user, Purpose.LOGIN_CODE, LOGIN_CODE_TTL)
        code = f"{secrets.randbelow(10**6):06d}"
        secret.secret_hash = _code_digest(settings, secret.id, code)
        return (
            "Your Ledgerline sign-in code",
            f"Your sign-in code is {code}. It is valid for 5 minutes and works once.\n"
            "If you did not ask for it, ignore this mail.",
        )

    await _for_known_user(
        database, tenant_reference, email, meta, "auth.login_code_requested", code_mail
    )


async def verify_login_code(
    database: Database,
    settings: Settings,
    *,
    tenant_reference: str,
    email: str,
    code: str,
    meta: RequestMeta,
) -> TokenPair:
    """Tokens for a right code. A wrong one counts against the code (5 tries) and toward
    the account lockout, committed before the 401."""
    tenant_id = await resolve_tenant(database, tenant_reference)
    if tenant_id is None:
        raise invalid_credentials()
    async with database.tenant_transaction(tenant_id) as session:
        user = await session.scalar(
            select(User).where(User.email == normalize_email(email)).with_for_update()
        )
        secret = None
        if user is not None:
            secret = await session.scalar(
                select(OneTimeSecret)
                .where(
                    OneTimeSecret.user_id == user.id,
                    OneTimeSecret.purpose == Purpose.LOGIN_CODE,
                    OneTimeSecret.consumed_at.is_(None),
                    OneTimeSecret.expires_at > func.now(),
                )
                .order_by(OneTimeSecret.created_at.desc())
                .limit(1)
                .with_for_update()
            )
        failure: Problem
        if user is None or not user.is_active or secret is None or lockout.is_locked(user):
            failure = invalid_credentials()
        elif not hmac.compare_digest(
            _code_digest(settings, secret.id, code.strip()), secret.secret_hash
        ):
            secret.attempts += 1
            if secret.attempts >= LOGIN_CODE_ATTEMPTS:
                secret.consumed_at = _now()
            await _count_failure(session, settings, user, meta)
            failure = invalid_credentials()
        else:
            secret.consumed_at = _now()
            status = await session.scalar(select(Tenant.status))
            if status == TenantStatus.SUSPENDED:
                failure = Problem(403, "tenant_suspended", "This tenant is suspended.")
            else:
                await lockout.succeeded(
                    session,
                    User,
                    user.id,
                    email_verified_at=func.coalesce(User.email_verified_at, func.now()),
                )
                AuditContext(tenant_id, Actor(ActorType.USER, user.id), meta).record(
                    session,
                    "auth.login",
                    target_type="user",
                    target_id=user.id,
                    changes={"method": "email_code"},
                )
                return await open_tenant_session(session, settings, user, meta)
    raise failure


async def _count_failure(
    session: AsyncSession, settings: Settings, user: User, meta: RequestMeta
) -> None:
    record = AuditContext(user.tenant_id, ANONYMOUS, meta).record
    record(
        session,
        "auth.login_failed",
        target_type="user",
        target_id=user.id,
        changes={"reason": "bad_code"},
    )
    if await lockout.count_failure(session, settings, user.id):
        record(session, "auth.account_locked", target_type="user", target_id=user.id)


async def request_password_reset(
    database: Database, settings: Settings, *, tenant_reference: str, email: str, meta: RequestMeta
) -> None:
    async def reset_mail(session: AsyncSession, user: User) -> tuple[str, str]:
        secret = await replace_secret(session, user, Purpose.PASSWORD_RESET, PASSWORD_RESET_TTL)
        token = new_tenant_token(PASSWORD_RESET_PREFIX, user.tenant_id)
        secret.secret_hash = token_digest(settings, token)
        return (
            "Reset your Ledgerline password",
            "To choose a new password, open this link within 30 minutes:\n"
            f"{settings.portal_base_url}/reset-password?token={token}\n"
            "If you did not ask for it, ignore this mail; your password stays as it is.",
        )

    await _for_known_user(
        database, tenant_reference, email, meta, "auth.password_reset_requested", reset_mail
    )


async def _consume_link_token(
    session: AsyncSession, settings: Settings, token: str, purpose: Purpose
) -> User:
    secret = await session.scalar(
        select(OneTimeSecret)
        .where(
            OneTimeSecret.secret_hash == token_digest(settings, token),
            OneTimeSecret.purpose == purpose,
            OneTimeSecret.consumed_at.is_(None),
            OneTimeSecret.expires_at > func.now(),
        )
        .with_for_update()
    )
    user = None
    if secret is not None:
        user = await session.scalar(select(User).where(User.id == secret.user_id))
    if secret is None or user is None or not user.is_active:
        raise Problem(400, "invalid_link", "This link is invalid, used or expired.")
    secret.consumed_at = _now()
    return user


def _link_tenant(token: str, prefix: str) -> UUID:
    try:
        return tenant_of_token(token, prefix)
    except InvalidToken as error:
        raise Problem(400, "invalid_link", "This link is invalid, used or expired.") from error


async def confirm_password_reset(
    database: Database,
    settings: Settings,
    passwords: Passwords,
    *,
    token: str,
    new_password: str,
    meta: RequestMeta,
) -> None:
    """Set the password, end every session of the user, lift a lockout."""
    check_password_policy(new_password)
    tenant_id = _link_tenant(token, PASSWORD_RESET_PREFIX)
    password_hash = await passwords.hash(new_password)
    async with database.tenant_transaction(tenant_id) as session:
        user = await _consume_link_token(session, settings, token, Purpose.PASSWORD_RESET)
        user.password_hash = password_hash
        lockout.unlock(user)
        await revoke_user_sessions(session, user_id=user.id, reason="password_reset")
        AuditContext(tenant_id, Actor(ActorType.USER, user.id), meta).record(
            session, "user.password_reset", target_type="user", target_id=user.id
        )


async def verify_email(
    database: Database, settings: Settings, *, token: str, meta: RequestMeta
) -> None:
    tenant_id = _link_tenant(token, EMAIL_VERIFICATION_PREFIX)
    async with database.tenant_transaction(tenant_id) as session:
        user = await _consume_link_token(session, settings, token, Purpose.EMAIL_VERIFICATION)
        if user.email_verified_at is None:
            user.email_verified_at = _now()
        AuditContext(tenant_id, Actor(ActorType.USER, user.id), meta).record(
            session, "user.email_verified", target_type="user", target_id=user.id
        )
