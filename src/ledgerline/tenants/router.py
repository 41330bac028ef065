"""The platform console: tenants and their users, for platform ADMINs (platform role).

A tenant's ETag is its version; changing one takes If-Match.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from ledgerline.access import AdminDep
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.tenants import service
from ledgerline.tenants.models import Tenant, TenantStatus
from ledgerline.tenants.schemas import TenantCreate, TenantOut, TenantUpdate
from ledgerline.users.schemas import UserOut

router = APIRouter(prefix="/admin/tenants", tags=["platform console"])


def _tenant_out(tenant: Tenant, response: Response) -> TenantOut:
    set_etag(response, tenant.version)
    return TenantOut.model_validate(tenant)


@router.get("", operation_id="admin_list_tenants")
async def list_tenants(
    context: AdminDep,
    page: Annotated[PageRequest, Depends(page_request)],
    status: TenantStatus | None = None,
    q: Annotated[str | None, Query(max_length=200, description="in name or slug")] = None,
) -> Page[TenantOut]:
    """Every tenant, newest first, by status or by a text in name or slug."""
    rows, next_cursor = await service.list_tenants(context.session, page, status=status, q=q)
    return Page(items=[TenantOut.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.post("", operation_id="admin_create_tenant", status_code=201)
async def create(
    body: TenantCreate, context: AdminDep, request: Request, response: Response
) -> TenantOut:
    """A tenant, without users yet; audited in that tenant."""
    tenant = await service.admin_create_tenant(
        context.session,
        context.principal.actor,
        context.meta,
        name=body.name,
        slug=body.slug,
        plan=body.plan,
    )
    response.headers["Location"] = f"{request.url.path}/{tenant.id}"
    return _tenant_out(tenant, response)


@router.get("/{tenant_id}", operation_id="admin_get_tenant")
async def get(tenant_id: UUID, context: AdminDep, response: Response) -> TenantOut:
    """One tenant (`ETag`: its version)."""
    return _tenant_out(await service.get_tenant(context.session, tenant_id), response)


@router.patch("/{tenant_id}", operation_id="admin_update_tenant")
async def update(
    tenant_id: UUID,
    body: TenantUpdate,
    context: AdminDep,
    response: Response,
    if_match: IfMatch = None,
) -> TenantOut:
    """Change name, plan or status (active | suspended | read_only); takes If-Match."""
    tenant = await service.update_tenant(
        context.session,
        context.principal.actor,
        context.meta,
        tenant_id,
        body.model_dump(exclude_unset=True, exclude_none=True),
        if_match=sent_if_match(if_match),
    )
    return _tenant_out(tenant, response)


@router.get("/{tenant_id}/users", operation_id="admin_list_tenant_users")
async def list_tenant_users(
    tenant_id: UUID, context: AdminDep, page: Annotated[PageRequest, Depends(page_request)]
) -> Page[UserOut]:
    """A tenant's users, newest first."""
    rows, next_cursor = await service.tenant_users(context.session, tenant_id, page)
    return Page(items=[UserOut.model_validate(u) for u in rows], next_cursor=next_cursor)
