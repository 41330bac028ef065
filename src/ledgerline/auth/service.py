"""Sign-up, login, refresh rotation, sign-out: the identity rules.

Flows that must remember a failure (a failed login, a lockout, a reused refresh token)
commit their own transaction first and raise only afterwards: the 401 never rolls back
what it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from uuid import UUID

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.models import ActorType
from ledgerline.audit.service import (
    ANONYMOUS,
    Actor,
    AuditContext,
    PlatformAuditContext,
    RequestMeta,
)
from ledgerline.auth import lockout
from ledgerline.auth.models import (
    AdminRefreshToken,
    AdminSession,
    AuthSession,
    DeniedAccessToken,
    RefreshToken,
)
from ledgerline.auth.one_time import send_email_verification
from ledgerline.auth.sessions import (
    revoke_admin_session,
    revoke_admin_sessions,
    revoke_user_session,
    revoke_user_sessions,
)
from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from ledgerline.db.rls import TENANT_SLUG_SETTING
from ledgerline.problems import Problem, Unauthorized
from ledgerline.security.liveness import admin_is_live, live_user
from ledgerline.security.passwords import Passwords, check_password_policy
from ledgerline.security.permissions import Role
from ledgerline.security.tokens import (
    AccessClaims,
    InvalidToken,
    issue_access_token,
    new_refresh_token,
    refresh_token_tenant,
    token_digest,
)
from ledgerline.tenants.models import Tenant, TenantStatus
from ledgerline.tenants.service import create_tenant
from ledgerline.users.models import PlatformAdmin, TenantRole, User
from ledgerline.values import normalize_email


def invalid_credentials() -> Unauthorized:
    return Unauthorized("invalid_credentials", "The email or password is not right.")


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret


def _now() -> datetime:
    return datetime.now(UTC)


async def open_tenant_session(
    session: AsyncSession, settings: Settings, user: User, meta: RequestMeta
) -> TokenPair:
    family = AuthSession(
        tenant_id=user.tenant_id,
        id=new_id(),
        user_id=user.id,
        expires_at=_now() + timedelta(days=settings.refresh_token_ttl_days),
        user_agent=(meta.user_agent or "")[:512] or None,
        ip=meta.ip,
    )
    session.add(family)
    return await _issue(session, settings, family, user.id, user.tenant_id, user.role)


async def _issue(
    session: AsyncSession,
    settings: Settings,
    family: AuthSession | AdminSession,
    subject: UUID,
    tenant_id: UUID | None,
    role: str,
) -> TokenPair:
    refresh = new_refresh_token(tenant_id)
    digest = token_digest(settings, refresh)
    await session.flush()  # the family row first: its token references it
    if isinstance(family, AuthSession):
        session.add(
            RefreshToken(tenant_id=family.tenant_id, session_id=family.id, token_hash=digest)
        )
    else:
        session.add(AdminRefreshToken(session_id=family.id, token_hash=digest))
    access = issue_access_token(
        settings, subject=subject, tenant_id=tenant_id, role=role, session_id=family.id
    )
    await session.flush()
    return TokenPair(access.token, refresh, access.expires_in)


async def signup(
    database: Database,
    settings: Settings,
    passwords: Passwords,
    *,
    tenant_name: str,
    slug: str,
    email: str,
    password: str,
    full_name: str,
    meta: RequestMeta,
) -> tuple[Tenant, User, TokenPair]:
    """A new tenant and its first TENANT_OWNER, in one transaction."""
    check_password_policy(password)
    password_hash = await passwords.hash(password)
    tenant_id = new_id()
    async with database.tenant_transaction(tenant_id) as session:
        tenant = await create_tenant(session, tenant_id=tenant_id, name=tenant_name, slug=slug)
        user = User(
            tenant_id=tenant_id,
            id=new_id(),
            email=normalize_email(email),
            full_name=full_name.strip(),
            role=TenantRole.TENANT_OWNER,
            password_hash=password_hash,
            last_login_at=_now(),
        )
        session.add(user)
        await session.flush()
        AuditContext(tenant_id, Actor(ActorType.USER, user.id), meta).record(
            session,
            "tenant.signed_up",
            target_type="tenant",
            target_id=tenant_id,
            changes={"name": tenant.name, "slug": tenant.slug, "owner_email": user.email},
        )
        await send_email_verification(session, settings, user)
        tokens = await open_tenant_session(session, settings, user, meta)
    return tenant, user, tokens


async def resolve_tenant(database: Database, reference: str) -> UUID | None:
    """A tenant's id from its UUID or slug, read under row-level security."""
    try:
        return UUID(reference)
    except ValueError:
        pass
    async with database.runtime_sessions() as session, session.begin():
        await session.execute(
            text("SELECT set_config(:name, :slug, true)"),
            {"name": TENANT_SLUG_SETTING, "slug": reference.strip().lower()},
        )
        tenant_id: UUID | None = await session.scalar(select(Tenant.id))
    return tenant_id


async def login_tenant_user(
    database: Database,
    settings: Settings,
    passwords: Passwords,
    *,
    tenant_reference: str,
    email: str,
    password: str,
    meta: RequestMeta,
) -> TokenPair:
    email = normalize_email(email)
    tenant_id = await resolve_tenant(database, tenant_reference)
    if tenant_id is None:
        await passwords.verify(password, None)
        raise invalid_credentials()

    async with database.tenant_transaction(tenant_id) as session:
        status = await session.scalar(select(Tenant.status))
        attempt = await lockout.reserve_attempt(session, User, email)
        known = (
            attempt is not None
            or (await session.scalar(select(User.id).where(User.email == email))) is not None
        )
    verdict = await lockout.check_password(passwords, settings, attempt, password)

    async with database.tenant_transaction(tenant_id) as session:

        def record(action: str, actor: Actor = ANONYMOUS, **changes: object) -> None:
            AuditContext(tenant_id, actor, meta).record(
                session,
                action,
                target_type="user",
                target_id=attempt.account_id if attempt else None,
                # The typed email only when it names an account: it might be a password.
                changes={**({"email": email} if known else {}), **changes},
            )

        if status is None:  # no such tenant (or not visible): nothing to record
            raise invalid_credentials()
        await lockout.settle(session, User, settings, attempt, verdict)
        failure: Problem
        if not verdict.matches:
            if attempt is None:
                record("auth.login_failed", reason="locked" if known else "unknown_or_inactive")
            elif not verdict.checked:
                record("auth.login_failed", reason="locked")
            else:
                record("auth.login_failed", reason="bad_password")
            if verdict.locks:
                record("auth.account_locked", lockout_minutes=settings.lockout_minutes)
            failure = invalid_credentials()
        elif status == TenantStatus.SUSPENDED:
            failure = Problem(403, "tenant_suspended", "This tenant is suspended.")
        elif settings.require_email_verification and not await _email_verified(session, attempt):
            failure = Problem(
                403, "email_not_verified", "Confirm your email address first (see the mail)."
            )
        else:
            assert attempt is not None
            user = await session.get(User, (tenant_id, attempt.account_id))
            assert user is not None
            record("auth.login", Actor(ActorType.USER, user.id))
            return await open_tenant_session(session, settings, user, meta)
    raise failure  # after the transaction above committed what it records


async def _email_verified(session: AsyncSession, attempt: lockout.Attempt | None) -> bool:
    if attempt is None:
        return False
    verified_at = await session.scalar(
        select(User.email_verified_at).where(User.id == attempt.account_id)
    )
    return verified_at is not None


async def login_admin(
    database: Database,
    settings: Settings,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    meta: RequestMeta,
) -> TokenPair:
    email = normalize_email(email)
    async with database.platform_sessions() as session, session.begin():
        attempt = await lockout.reserve_attempt(session, PlatformAdmin, email)
    verdict = await lockout.check_password(passwords, settings, attempt, password)
    async with database.platform_sessions() as session, session.begin():
        await lockout.settle(session, PlatformAdmin, settings, attempt, verdict)
        actor = Actor(ActorType.ADMIN, attempt.account_id) if attempt else ANONYMOUS
        trail = PlatformAuditContext(actor, meta)
        trail.record(
            session,
            "auth.login" if verdict.matches else "auth.login_failed",
            changes={"email": email} if attempt else None,
        )
        if verdict.locks:
            trail.record(session, "auth.account_locked")
        if verdict.matches:
            assert attempt is not None
            family = AdminSession(
                id=new_id(),
                admin_id=attempt.account_id,
                expires_at=_now() + timedelta(days=settings.refresh_token_ttl_days),
                user_agent=(meta.user_agent or "")[:512] or None,
                ip=meta.ip,
            )
            session.add(family)
            return await _issue(session, settings, family, attempt.account_id, None, Role.ADMIN)
    raise invalid_credentials()


def _no_longer_valid() -> Unauthorized:
    return Unauthorized("invalid_token", "The access token is no longer valid.")


def _invalid_refresh() -> Unauthorized:
    return Unauthorized("invalid_refresh_token", "The refresh token is not valid.")


async def refresh(
    database: Database, settings: Settings, *, refresh_token: str, meta: RequestMeta
) -> TokenPair:
    """Spend `refresh_token` for a new pair of the same family.

    The token's row is locked, so of two concurrent refreshes exactly one wins. A token
    spent within the grace period is refused without harm (tabs racing); a token spent
    earlier than that means it was stolen or replayed: the whole family is revoked.
    """
    try:
        tenant_id = refresh_token_tenant(refresh_token)
    except InvalidToken as error:
        raise _invalid_refresh() from error
    digest = token_digest(settings, refresh_token)
    outcome: TokenPair | Problem
    if tenant_id is None:
        async with database.platform_sessions() as session, session.begin():
            outcome = await _rotate(session, settings, digest, None, meta)
    else:
        async with database.tenant_transaction(tenant_id) as session:
            outcome = await _rotate(session, settings, digest, tenant_id, meta)
    if isinstance(outcome, Problem):
        raise outcome  # after the revocation was committed
    return outcome


async def _successor_spent(session: AsyncSession, token: RefreshToken | AdminRefreshToken) -> bool:
    """Whether a token issued after `token` in its family was spent too: then `token` is
    not the one just replaced, and its reuse is no race between tabs."""
    model = type(token)
    later = select(model.id).where(
        model.session_id == token.session_id,
        model.created_at > token.created_at,
        model.spent_at.is_not(None),
    )
    return await session.scalar(later.limit(1)) is not None


async def _rotate(
    session: AsyncSession,
    settings: Settings,
    digest: bytes,
    tenant_id: UUID | None,
    meta: RequestMeta,
) -> TokenPair | Problem:
    """The new pair; or, for a replayed token, the error to raise once the family's
    revocation is committed. Errors that change nothing are raised at once."""
    token_model: type[RefreshToken] | type[AdminRefreshToken]
    family_model: type[AuthSession] | type[AdminSession]
    if tenant_id is None:
        token_model, family_model = AdminRefreshToken, AdminSession
    else:
        token_model, family_model = RefreshToken, AuthSession
    found = (
        await session.execute(
            select(token_model, family_model)
            .join(family_model, family_model.id == token_model.session_id)
            .where(token_model.token_hash == digest)
            .with_for_update()
        )
    ).one_or_none()
    if found is None:
        raise _invalid_refresh()
    token = cast(RefreshToken | AdminRefreshToken, found[0])
    family = cast(AuthSession | AdminSession, found[1])
    now = _now()
    if family.revoked_at is not None or family.expires_at <= now:
        raise _invalid_refresh()
    if token.spent_at is not None:
        grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
        if now - token.spent_at <= grace and not await _successor_spent(session, token):
            raise Problem(
                409,
                "refresh_token_just_rotated",
                "This refresh token was just used by another request; use the newer one.",
            )
        if isinstance(family, AuthSession):
            await revoke_user_session(session, session_id=family.id, reason="reuse_detected")
            AuditContext(family.tenant_id, ANONYMOUS, meta).record(
                session,
                "auth.refresh_reuse_detected",
                target_type="auth_session",
                target_id=family.id,
            )
        else:
            await revoke_admin_session(session, session_id=family.id, reason="reuse_detected")
            PlatformAuditContext(ANONYMOUS, meta).record(
                session,
                "auth.refresh_reuse_detected",
                target_type="admin_session",
                target_id=family.id,
            )
        return Unauthorized(
            "refresh_token_reused", "This refresh token was already used; sign in again."
        )
    token.spent_at = now
    family.last_used_at = now
    if isinstance(family, AuthSession):
        user = await session.get(User, (family.tenant_id, family.user_id))
        if user is None or not user.is_active:
            raise _invalid_refresh()
        if await session.scalar(select(Tenant.status)) == TenantStatus.SUSPENDED:
            raise Problem(403, "tenant_suspended", "This tenant is suspended.")
        return await _issue(session, settings, family, user.id, user.tenant_id, user.role)
    admin = await session.get(PlatformAdmin, family.admin_id)
    if admin is None or not admin.is_active:
        raise _invalid_refresh()
    return await _issue(session, settings, family, admin.id, None, Role.ADMIN)


async def logout(
    database: Database, claims: AccessClaims, *, everywhere: bool, meta: RequestMeta
) -> None:
    """Revoke the caller's refresh family (or all of the user's) and deny this access
    token until it expires."""
    action = "auth.logout_all" if everywhere else "auth.logout"
    if claims.tenant_id is None:
        async with database.platform_sessions() as session, session.begin():
            if not await admin_is_live(session, claims):
                raise _no_longer_valid()
            if everywhere:
                revoked = await revoke_admin_sessions(
                    session, admin_id=claims.subject, reason="logout"
                )
            else:
                revoked = await revoke_admin_session(
                    session, session_id=claims.session_id, reason="logout"
                )
            await _deny(session, claims)
            PlatformAuditContext(Actor(ActorType.ADMIN, claims.subject), meta).record(
                session,
                action,
                changes={"revoked_sessions": [str(family) for family in revoked]},
            )
        return
    async with database.tenant_transaction(claims.tenant_id) as session:
        if await live_user(session, claims) is None:
            raise _no_longer_valid()
        if everywhere:
            revoked = await revoke_user_sessions(session, user_id=claims.subject, reason="logout")
        else:
            revoked = await revoke_user_session(
                session, session_id=claims.session_id, reason="logout"
            )
        await _deny(session, claims)
        AuditContext(claims.tenant_id, Actor(ActorType.USER, claims.subject), meta).record(
            session,
            action,
            target_type="user",
            target_id=claims.subject,
            changes={"revoked_sessions": [str(family) for family in revoked]},
        )


async def _deny(session: AsyncSession, claims: AccessClaims) -> None:
    await session.execute(delete(DeniedAccessToken).where(DeniedAccessToken.expires_at < _now()))
    await session.execute(
        insert(DeniedAccessToken)
        .values(jti=claims.jti, expires_at=claims.expires_at)
        .on_conflict_do_nothing()
    )
