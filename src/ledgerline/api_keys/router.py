"""Integration API keys: issue, list, revoke; each endpoint makes one `service` call."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.api_keys import service
from ledgerline.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from ledgerline.audit.models import ActorType
from ledgerline.deps import SettingsDep
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.security.permissions import Permission

router = APIRouter(prefix="/api-keys", tags=["api keys"])
ManageKeys = Annotated[TenantRequest, tenant_request(Permission.API_KEYS_MANAGE)]


@router.post("", operation_id="create_api_key", status_code=201)
async def create_api_key(
    body: ApiKeyCreate,
    context: ManageKeys,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> ApiKeyCreated:
    """Issue a key with the given scopes. The response holds the key itself, once."""
    creator = context.principal.id if context.principal.kind is ActorType.USER else None
    key, secret = await service.create_api_key(
        context.session,
        context.audit_context,
        settings,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        created_by=creator,
    )
    response.headers["Location"] = f"{request.url.path}/{key.id}"
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)


@router.get("", operation_id="list_api_keys")
async def list_api_keys(
    context: ManageKeys, page: Annotated[PageRequest, Depends(page_request)]
) -> Page[ApiKeyOut]:
    """The tenant's keys: prefix, scopes, last use and expiry, never the secret."""
    rows, next_cursor = await service.list_api_keys(context.session, page)
    return Page(items=[ApiKeyOut.model_validate(k) for k in rows], next_cursor=next_cursor)


@router.delete("/{key_id}", operation_id="revoke_api_key", status_code=204)
async def revoke_api_key(key_id: UUID, context: ManageKeys) -> Response:
    """Revoke at once: the next request with the key is refused."""
    await service.revoke_api_key(context.session, context.audit_context, key_id)
    return Response(status_code=204)
