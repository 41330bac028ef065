"""The platform console: tenants and their users, for platform ADMINs (platform role)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_, select

from ledgerline.access import AdminDep, AdminRequest
from ledgerline.audit.service import AuditContext, diff
from ledgerline.pagination import Page, PageRequest, contains, keyset_page, page_request
from ledgerline.problems import Problem
from ledgerline.tenants.models import Tenant, TenantStatus
from ledgerline.tenants.schemas import TenantCreate, TenantOut, TenantUpdate
from ledgerline.tenants.service import InvalidSlug, SlugTaken, create_tenant
from ledgerline.users.models import User
from ledgerline.users.schemas import UserOut

router = APIRouter(prefix="/admin/tenants", tags=["platform console"])


async def _tenant(context: AdminRequest, tenant_id: UUID, *, for_update: bool = False) -> Tenant:
    statement = select(Tenant).where(Tenant.id == tenant_id)
    if for_update:
        statement = statement.with_for_update()
    tenant = await context.session.scalar(statement)
    if tenant is None:
        raise Problem(404, "tenant_not_found", "No such tenant.")
    return tenant


def _record(
    context: AdminRequest, tenant_id: UUID, action: str, changes: dict[str, object]
) -> None:
    AuditContext(tenant_id, context.principal.actor, context.meta).record(
        context.session, action, target_type="tenant", target_id=tenant_id, changes=changes
    )


@router.get("", operation_id="admin_list_tenants")
async def list_tenants(
    context: AdminDep,
    page: Annotated[PageRequest, Depends(page_request)],
    status: TenantStatus | None = None,
    q: Annotated[str | None, Query(max_length=200, description="in name or slug")] = None,
) -> Page[TenantOut]:
    statement = select(Tenant)
    if status is not None:
        statement = statement.where(Tenant.status == status)
    if q:
        pattern = contains(q)
        statement = statement.where(or_(Tenant.name.ilike(pattern), Tenant.slug.ilike(pattern)))
    rows, next_cursor = await keyset_page(context.session, statement, Tenant.id, page)
    return Page(items=[TenantOut.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.post("", operation_id="admin_create_tenant", status_code=201)
async def create(body: TenantCreate, context: AdminDep) -> TenantOut:
    try:
        tenant = await create_tenant(
            context.session, name=body.name, slug=body.slug, plan=body.plan
        )
    except InvalidSlug as error:
        raise Problem(422, "invalid_slug", str(error)) from error
    except SlugTaken as error:
        raise Problem(409, "slug_taken", str(error)) from error
    _record(context, tenant.id, "tenant.created", body.model_dump())
    return TenantOut.model_validate(tenant)


@router.get("/{tenant_id}", operation_id="admin_get_tenant")
async def get(tenant_id: UUID, context: AdminDep) -> TenantOut:
    return TenantOut.model_validate(await _tenant(context, tenant_id))


@router.patch("/{tenant_id}", operation_id="admin_update_tenant")
async def update(tenant_id: UUID, body: TenantUpdate, context: AdminDep) -> TenantOut:
    """Change name, plan or status (active | suspended | read_only)."""
    tenant = await _tenant(context, tenant_id, for_update=True)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    before = {field: getattr(tenant, field) for field in changes}
    for field, value in changes.items():
        setattr(tenant, field, value)
    await context.session.flush()
    _record(context, tenant.id, "tenant.updated", diff(before, changes))
    return TenantOut.model_validate(tenant)


@router.get("/{tenant_id}/users", operation_id="admin_list_tenant_users")
async def list_tenant_users(
    tenant_id: UUID, context: AdminDep, page: Annotated[PageRequest, Depends(page_request)]
) -> Page[UserOut]:
    await _tenant(context, tenant_id)
    statement = select(User).where(User.tenant_id == tenant_id)
    rows, next_cursor = await keyset_page(context.session, statement, User.id, page)
    return Page(items=[UserOut.model_validate(u) for u in rows], next_cursor=next_cursor)
