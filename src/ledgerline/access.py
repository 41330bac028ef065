"""Who is calling, in which tenant, allowed to do what: the one tenant-context hook.

`Requires(permission)` is the dependency of every tenant endpoint. It takes the caller's
credential (an access token, or an integration's API key as `Authorization: Bearer` or
`X-API-Key`), checks X-Tenant-ID against the caller (a tenant user's or key's own
tenant, or any tenant for a platform ADMIN, whose every such request is audited), opens
the request's transaction in that tenant, re-reads the caller there (active, session
not revoked, token not signed out, key not revoked or expired, role as it is now, tenant
status) and checks the permission. The transaction commits before the response is sent,
or rolls back on error (a `Problem` raised with `keep_writes` commits too).

It reads the rows it needs (users, sessions, signed-out tokens, API keys, tenants) with
its own statements, in `security.liveness`, not through feature services. Of the
features it imports only enums and, from the audit writer, the context every service
records with (`audit.service`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline import idempotency
from ledgerline.audit.models import ActorType
from ledgerline.audit.service import Actor, AuditContext, RequestMeta
from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.deps import DatabaseDep
from ledgerline.log import request_id_var
from ledgerline.problems import Problem, Unauthorized
from ledgerline.ratelimit import count_failed_credential, rate_limits
from ledgerline.security.api_keys import (
    API_KEY_PREFIX,
    MalformedApiKey,
    ParsedApiKey,
    parse_api_key,
)
from ledgerline.security.liveness import admin_is_live, live_api_key, live_user
from ledgerline.security.permissions import API_KEY_SCOPES, ROLE_PERMISSIONS, Permission, Role
from ledgerline.security.tokens import AccessClaims, InvalidToken, VerifiedAccessTokens
from ledgerline.tenants.models import TenantStatus

TENANT_HEADER = "X-Tenant-ID"
_bearer = HTTPBearer(
    auto_error=False, description="Access token from /api/v1/auth/login, or an API key"
)
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or ADMIN (by role), or an API key (by its scopes)."""

    kind: ActorType
    id: UUID
    permissions: frozenset[Permission]
    session_id: UUID | None = None
    role: Role | None = None  # None for an API key

    @classmethod
    def with_role(cls, kind: ActorType, id: UUID, role: Role, session_id: UUID) -> Principal:
        return cls(kind, id, ROLE_PERMISSIONS[role], session_id, role)

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.id)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class TenantRequest:
    """What a tenant endpoint works with: its transaction, caller and tenant."""

    session: AsyncSession
    principal: Principal
    tenant_id: UUID
    meta: RequestMeta

    @property
    def audit_context(self) -> AuditContext:
        return AuditContext(self.tenant_id, self.principal.actor, self.meta)


@dataclass(frozen=True, slots=True)
class AdminRequest:
    """What a platform-console endpoint works with (platform role, BYPASSRLS)."""

    session: AsyncSession
    principal: Principal
    meta: RequestMeta


def unauthorized(detail: str, code: str = "invalid_token") -> Problem:
    return Unauthorized(code, detail)


def request_meta(request: Request) -> RequestMeta:
    return RequestMeta(
        request_id=request_id_var.get(),
        ip=getattr(request.state, "client_ip", None),
        user_agent=request.headers.get("user-agent"),
    )


def _claims(request: Request, token: str | None) -> AccessClaims:
    if token is None:
        raise unauthorized("Send an access token as 'Authorization: Bearer <token>'.")
    verified: VerifiedAccessTokens = request.app.state.access_tokens
    try:
        return verified.decode(token)
    except InvalidToken as error:
        raise unauthorized("The access token is invalid or expired.") from error


async def access_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessClaims:
    """The verified access token of a request to a route outside any tenant."""
    return _claims(request, credentials.credentials if credentials else None)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _caller_credential(
    request: Request, bearer: str | None, api_key: str | None
) -> AccessClaims | ParsedApiKey:
    """An API key (X-API-Key, or a bearer token with the key prefix) or access claims.

    A credential that does not verify counts as a failure against the client address and
    the claimed tenant (429 past the limit); one that verifies is never refused for
    failures, its own or anyone's.
    """
    token = api_key or bearer
    try:
        if token is None:
            raise unauthorized("Send 'Authorization: Bearer <access token or API key>'.")
        if api_key is not None or token.startswith(API_KEY_PREFIX):
            try:
                return parse_api_key(token)
            except MalformedApiKey as error:
                raise unauthorized("The API key is not valid.", "invalid_api_key") from error
        return _claims(request, bearer)
    except Unauthorized:
        await _credential_failed(request)
        raise


async def _credential_failed(request: Request) -> None:
    """Count a credential that did not verify (429 past the limit, else the caller's 401)."""
    claimed = request.headers.get(TENANT_HEADER)
    try:
        tenant = str(UUID(claimed)) if claimed else None
    except ValueError:
        tenant = None
    await count_failed_credential(request, tenant)


def _tenant_header(request: Request) -> UUID:
    value = request.headers.get(TENANT_HEADER)
    if not value:
        raise Problem(400, "tenant_header_missing", f"Send the {TENANT_HEADER} header.")
    try:
        return UUID(value)
    except ValueError as error:
        raise Problem(
            400, "tenant_header_invalid", f"{TENANT_HEADER} must be the tenant's UUID."
        ) from error


_TENANT_STATUS = text("SELECT status FROM tenants")


async def verified_admin(session: AsyncSession, claims: AccessClaims) -> Principal:
    """The admin of `claims`, checked on the platform connection."""
    if not await admin_is_live(session, claims):
        raise unauthorized("The access token is no longer valid.")
    return Principal.with_role(ActorType.ADMIN, claims.subject, Role.ADMIN, claims.session_id)


def _check_tenant_status(status: str, method: str, *, is_admin: bool) -> None:
    if status == TenantStatus.SUSPENDED and not is_admin:
        raise Problem(403, "tenant_suspended", "This tenant is suspended.")
    if status == TenantStatus.READ_ONLY and method not in idempotency.SAFE_METHODS:
        raise Problem(403, "tenant_read_only", "This tenant is read-only: nothing can change.")


class Requires:
    """`Depends(Requires(Permission.X))`: a tenant request allowed to do X."""

    def __init__(self, permission: Permission, *, idempotent: bool = False) -> None:
        self.permission = permission
        self.idempotent = idempotent

    async def __call__(
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key_header)],
    ) -> AsyncIterator[TenantRequest]:
        """One async dependency whose only sub-dependencies are the two credential
        headers (which also declare the security schemes): nothing on a tenant request
        goes through the thread pool, and FastAPI solves three dependencies, not seven."""
        settings = _settings(request)
        database: Database = request.app.state.database
        credential = await _caller_credential(
            request, bearer.credentials if bearer else None, api_key
        )
        tenant_id = _tenant_header(request)
        meta = request_meta(request)
        admin: Principal | None = None
        admin_status = ""
        if isinstance(credential, AccessClaims) and credential.role == Role.ADMIN:
            async with database.platform_sessions() as platform:
                admin = await verified_admin(platform, credential)
            admin_status = await _record_admin_access(database, admin, tenant_id, request, meta)
        elif credential.tenant_id != tenant_id:
            raise Problem(403, "tenant_mismatch", f"{TENANT_HEADER} is not your tenant.")

        async with database.tenant_transaction(tenant_id) as session:
            plan: str | None = None
            try:
                if admin is not None:
                    principal, status = admin, admin_status
                elif isinstance(credential, AccessClaims):
                    principal, status, plan = await _user(session, credential)
                else:
                    principal, status, plan = await _api_key(session, settings, credential)
            except Unauthorized:
                await _credential_failed(request)
                raise
            limits = rate_limits(request)
            await limits.hit(
                request, limits.for_plan(plan), "caller", principal.kind, str(principal.id)
            )
            _check_tenant_status(status, request.method, is_admin=admin is not None)
            if not principal.can(self.permission):
                raise Problem(
                    403, "permission_denied", f"This needs the '{self.permission}' permission."
                )
            request.state.tenant_id = tenant_id
            if self.idempotent:
                caller = f"{principal.kind}:{principal.id}"
                await idempotency.claim(session, request, tenant_id, caller)
            yield TenantRequest(session, principal, tenant_id, meta)


async def _user(session: AsyncSession, claims: AccessClaims) -> tuple[Principal, str, str]:
    row = await live_user(session, claims)
    if row is None:
        raise unauthorized("The access token is no longer valid.")
    principal = Principal.with_role(
        ActorType.USER, claims.subject, Role(row["role"]), claims.session_id
    )
    return principal, str(row["status"]), str(row["plan"])


async def _api_key(
    session: AsyncSession, settings: Settings, parsed: ParsedApiKey
) -> tuple[Principal, str, str]:
    found = await live_api_key(session, settings, parsed)
    if found is None:
        raise unauthorized("The API key is not valid.", "invalid_api_key")
    key_scopes, status, plan = found
    scopes = frozenset(Permission(scope) for scope in key_scopes) & API_KEY_SCOPES
    return Principal(ActorType.API_KEY, parsed.key_id, scopes), status, plan


async def _record_admin_access(
    database: Database, admin: Principal, tenant_id: UUID, request: Request, meta: RequestMeta
) -> str:
    """Audit an ADMIN's request in a tenant in its own transaction, committed before the
    request runs: the record stays even when the request fails. Returns the status."""
    async with database.tenant_transaction(tenant_id) as session:
        status: str | None = await session.scalar(_TENANT_STATUS)
        if status is None:
            raise Problem(404, "tenant_not_found", "No such tenant.")
        AuditContext(tenant_id, admin.actor, meta).record(
            session,
            "admin.tenant_access",
            changes={"method": request.method, "path": request.url.path},
        )
    return status


async def require_admin(
    request: Request,
    database: DatabaseDep,
    claims: Annotated[AccessClaims, Depends(access_claims)],
) -> AsyncIterator[AdminRequest]:
    if claims.role != Role.ADMIN:
        raise Problem(403, "permission_denied", "This is for platform administrators.")
    async with database.platform_sessions() as session, session.begin():
        principal = await verified_admin(session, claims)
        yield AdminRequest(session, principal, request_meta(request))


def tenant_request(permission: Permission, *, idempotent: bool = False) -> Any:
    """`Annotated[TenantRequest, tenant_request(Permission.X)]` for an endpoint.

    `idempotent`: a creating POST that honours Idempotency-Key (its router must use
    `IdempotentRoute`, which stores the response)."""
    return Depends(Requires(permission, idempotent=idempotent), scope="function")


AdminDep = Annotated[AdminRequest, Depends(require_admin, scope="function")]
ClaimsDep = Annotated[AccessClaims, Depends(access_claims)]


@dataclass(frozen=True, slots=True)
class StreamCaller:
    """Who holds a live event stream: checked when it opens and again while it runs."""

    principal: Principal
    tenant_id: UUID
    credential: AccessClaims | ParsedApiKey
    expires_at: datetime | None  # an access token's expiry; API keys are re-read instead


def _stream_credential(verified: VerifiedAccessTokens, token: str) -> AccessClaims | ParsedApiKey:
    try:
        if token.startswith(API_KEY_PREFIX):
            return parse_api_key(token)
        return verified.decode(token)
    except (MalformedApiKey, InvalidToken) as error:
        raise unauthorized("The token or API key is invalid or expired.") from error


async def _current_principal(
    database: Database, settings: Settings, credential: AccessClaims | ParsedApiKey, tenant: UUID
) -> Principal:
    async with database.tenant_transaction(tenant) as session:
        if isinstance(credential, AccessClaims):
            principal, status, _ = await _user(session, credential)
        else:
            principal, status, _ = await _api_key(session, settings, credential)
    _check_tenant_status(status, "GET", is_admin=False)
    if not principal.can(Permission.EVENTS_READ):
        raise Problem(403, "permission_denied", f"This needs the '{Permission.EVENTS_READ}' one.")
    return principal


async def stream_caller(
    database: Database,
    settings: Settings,
    verified: VerifiedAccessTokens,
    token: str,
    tenant: str,
) -> StreamCaller:
    """The caller of a WebSocket, from the token and tenant of its first message.

    Raises `Unauthorized` (close 4401) or a 403 `Problem` (close 4403). Platform ADMINs
    do not subscribe: live events are for a tenant's own users and keys."""
    credential = _stream_credential(verified, token)
    try:
        tenant_id = UUID(tenant)
    except ValueError as error:
        raise Problem(403, "tenant_header_invalid", "tenant_id must be a UUID.") from error
    if isinstance(credential, AccessClaims) and credential.role == Role.ADMIN:
        raise Problem(403, "permission_denied", "Live events are for a tenant's callers.")
    if credential.tenant_id != tenant_id:
        raise Problem(403, "tenant_mismatch", "tenant_id is not your tenant.")
    principal = await _current_principal(database, settings, credential, tenant_id)
    expires = credential.expires_at if isinstance(credential, AccessClaims) else None
    return StreamCaller(principal, tenant_id, credential, expires)


async def stream_caller_now(
    database: Database, settings: Settings, caller: StreamCaller
) -> StreamCaller:
    """The stream's caller re-read (revoked, deactivated, role changed, key revoked):
    raises like `stream_caller`."""
    principal = await _current_principal(database, settings, caller.credential, caller.tenant_id)
    return StreamCaller(principal, caller.tenant_id, caller.credential, caller.expires_at)


def stream_request(request: Request, tenant: TenantRequest) -> StreamCaller:
    """The SSE stream's caller, from the request the access hook let through."""
    if tenant.principal.kind == ActorType.ADMIN:
        raise Problem(403, "permission_denied", "Live events are for a tenant's callers.")
    verified: VerifiedAccessTokens = request.app.state.access_tokens
    header = request.headers.get("authorization", "")
    token = request.headers.get("x-api-key") or header.removeprefix("Bearer ").strip()
    credential = _stream_credential(verified, token)
    expires = credential.expires_at if isinstance(credential, AccessClaims) else None
    return StreamCaller(tenant.principal, tenant.tenant_id, credential, expires)
