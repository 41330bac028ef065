"""Tenant rules shared by sign-up, the platform console and the command line."""

from __future__ import annotations

import re
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db.base import new_id
from ledgerline.tenants.models import SLUG_PATTERN, Tenant

_SLUG = re.compile(SLUG_PATTERN)


class InvalidSlug(ValueError):
    pass


class SlugTaken(ValueError):
    pass


def normalize_slug(slug: str) -> str:
    normalized = slug.strip().lower()
    if not _SLUG.match(normalized):
        raise InvalidSlug(
            "a slug is 1-63 lowercase letters, digits and inner hyphens (e.g. 'acme-gmbh')"
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
    """Insert a tenant. The session must be allowed to write it: the platform role, or a
    runtime transaction whose tenant context is the new tenant's id."""
    name = name.strip()
    if not name:
        raise ValueError("a tenant needs a name")
    tenant = Tenant(id=tenant_id or new_id(), name=name, slug=normalize_slug(slug), plan=plan)
    session.add(tenant)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        if "tenants_slug_key" in str(error.orig):
            raise SlugTaken(f"the slug {tenant.slug!r} is taken") from error
        raise
    return tenant
