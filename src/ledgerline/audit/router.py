"""The tenant's audit trail; the endpoint makes one `service` call."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.audit import service
from ledgerline.audit.schemas import AuditEventOut
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.security.permissions import Permission
from ledgerline.values import Moment

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", operation_id="list_audit_events")
async def list_audit_events(
    context: Annotated[TenantRequest, tenant_request(Permission.AUDIT_READ)],
    page: Annotated[PageRequest, Depends(page_request)],
    actor_id: UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=32)] = None,
    target_id: UUID | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
) -> Page[AuditEventOut]:
    """The tenant's audit trail, newest first."""
    rows, next_cursor = await service.list_events(
        context.session,
        page,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=since,
        until=until,
    )
    return Page(items=[AuditEventOut.model_validate(e) for e in rows], next_cursor=next_cursor)
