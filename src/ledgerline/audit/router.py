from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.audit.models import AuditEvent
from ledgerline.audit.schemas import AuditEventOut
from ledgerline.pagination import Page, PageRequest, keyset_page, page_request
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
    statement = select(AuditEvent)
    for column, value in (
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.action, action),
        (AuditEvent.target_type, target_type),
        (AuditEvent.target_id, target_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.occurred_at < until)
    rows, next_cursor = await keyset_page(context.session, statement, AuditEvent.id, page)
    return Page(items=[AuditEventOut.model_validate(e) for e in rows], next_cursor=next_cursor)
