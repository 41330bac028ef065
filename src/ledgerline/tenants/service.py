"""Tenant rules shared by sign-up, the platform console and the command line.

The console's endpoints each make one call here (lock, If-Match, change, audit in the
tenant changed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import Actor, AuditContext, RequestMeta, diff
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.ledger.chart import add_default_chart
from ledgerline.pagination import PageRequest, contains, keyset_page
from ledgerline.problems import Problem
from ledgerline.tenants.models import SLUG_PATTERN, Tenant, TenantStatus
from ledgerline.users.models import User

_SLUG = re.compile(SLUG_PATTERN)


def normalize_slug(slug: str) -> str:
    normalized = slug.strip().lower()
    if not _SLUG.match(normalized):
        raise Problem(
            422,
            "invalid_slug",
            "a slug is 1-63 lowercase letters, digits and inner hyphens (e.g. 'acme-gmbh')",
        )
    return normalized


async def create_tenant(
    session: AsyncSession,
    *,
    name: str,
    slug: str,
    plan: str = "standard",
    tenant_id: UUID | None = None,
) -> Tenant:
    """Insert a tenant with its default chart of accounts. The session must be allowed to
    write it: the platform role, or a runtime transaction whose tenant context is the new
    tenant's id."""
    name = name.strip()
    if not name:
        raise Problem(422, "tenant_name_blank", "A tenant needs a name.")
    tenant = Tenant(id=tenant_id or new_id(), name=name, slug=normalize_slug(slug), plan=plan)
    session.add(tenant)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        if "tenants_slug_key" in str(error.orig):
            raise Problem(409, "slug_taken", f"the slug {tenant.slug!r} is taken") from error
        raise
    await add_default_chart(session, tenant.id)
    return tenant


def _record(
    session: AsyncSession,
    actor: Actor,
    meta: RequestMeta,
    tenant_id: UUID,
    action: str,
    changes: dict[str, object],
) -> None:
    AuditContext(tenant_id, actor, meta).record(
        session, action, target_type="tenant", target_id=tenant_id, changes=changes
    )


async def admin_create_tenant(
    session: AsyncSession, actor: Actor, meta: RequestMeta, *, name: str, slug: str, plan: str
) -> Tenant:
    """A tenant the platform console creates, audited in that tenant."""
    tenant = await create_tenant(session, name=name, slug=slug, plan=plan)
    _record(
        session,
        actor,
        meta,
        tenant.id,
        "tenant.created",
        {"name": name, "slug": slug, "plan": plan},
    )
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: UUID) -> Tenant:
    return await row_by_id(session, Tenant, tenant_id, what="tenant")


async def list_tenants(
    session: AsyncSession, page: PageRequest, *, status: TenantStatus | None, q: str | None
) -> tuple[Sequence[Tenant], str | None]:
    """A page of tenants (`q` in name or slug), and the cursor of the next one."""
    statement = select(Tenant)
    if status is not None:
        statement = statement.where(Tenant.status == status)
    if q:
        pattern = contains(q)
        statement = statement.where(or_(Tenant.name.ilike(pattern), Tenant.slug.ilike(pattern)))
    return await keyset_page(session, statement, Tenant.id, page)


async def update_tenant(
    session: AsyncSession,
    actor: Actor,
    meta: RequestMeta,
    tenant_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> Tenant:
    """Change name, plan or status at the version the caller read (If-Match)."""
    tenant = await locked_at_version(session, Tenant, tenant_id, if_match, what="tenant")
    before = {field: getattr(tenant, field) for field in changes}
    for field, value in changes.items():
        setattr(tenant, field, value)
    await session.flush()
    _record(session, actor, meta, tenant.id, "tenant.updated", diff(before, changes))
    return tenant


async def tenant_users(
    session: AsyncSession, tenant_id: UUID, page: PageRequest
) -> tuple[Sequence[User], str | None]:
    """A page of one tenant's users."""
    await get_tenant(session, tenant_id)
    statement = select(User).where(User.tenant_id == tenant_id)
    return await keyset_page(session, statement, User.id, page)
