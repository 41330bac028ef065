"""Tax code endpoints: a tenant's codes, created whole and then only renamed or
deactivated. Each endpoint makes one `tax_codes` call and translates the answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.invoices import tax_codes
from ledgerline.invoices.models import TaxCode
from ledgerline.invoices.schemas import TaxCodeCreate, TaxCodeOut, TaxCodeUpdate
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.responses import json_with_etag
from ledgerline.security.permissions import Permission

router = APIRouter(tags=["tax codes"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.INVOICES_READ)]
Create = Annotated[TenantRequest, tenant_request(Permission.TAX_CODES_MANAGE, idempotent=True)]
Manage = Annotated[TenantRequest, tenant_request(Permission.TAX_CODES_MANAGE)]


def _out(row: TaxCode, response: Response) -> TaxCodeOut:
    set_etag(response, row.version)
    return TaxCodeOut.model_validate(row)


@router.post("/tax-codes", operation_id="create_tax_code", status_code=201)
async def create_tax_code(body: TaxCodeCreate, context: Create, response: Response) -> TaxCodeOut:
    """A tax code: kind, rate, recoverable share, components of a split tax (GST: CGST and
    SGST intra-state, IGST inter-state), the accounts it posts to. What it computes never
    changes afterwards."""
    row = await tax_codes.create_tax_code(
        context.session,
        context.audit_context,
        code=body.code,
        name=body.name,
        kind=body.kind,
        rate=body.rate,
        recoverable=body.recoverable,
        components=[part.model_dump(mode="json") for part in body.components],
        input_account_code=body.input_account_code,
        output_account_code=body.output_account_code,
        home_state_code=body.home_state_code,
    )
    return _out(row, response)


@router.get("/tax-codes", operation_id="list_tax_codes")
async def list_tax_codes(
    context: Read,
    page: Annotated[PageRequest, Depends(page_request)],
    active: bool | None = None,
) -> Page[TaxCodeOut]:
    """The tenant's tax codes, newest first."""
    rows, cursor = await tax_codes.list_tax_codes(context.session, page, active=active)
    return Page(items=[TaxCodeOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/tax-codes/{tax_code_id}",
    operation_id="get_tax_code",
    response_model=TaxCodeOut,
    description="One tax code (`ETag`: its version).",
)
async def get_tax_code(tax_code_id: UUID, context: Read) -> Response:
    row = await tax_codes.get_tax_code(context.session, tax_code_id)
    return json_with_etag(TaxCodeOut.model_validate(row), row.version)


@router.patch("/tax-codes/{tax_code_id}", operation_id="update_tax_code")
async def update_tax_code(
    tax_code_id: UUID,
    body: TaxCodeUpdate,
    context: Manage,
    response: Response,
    if_match: IfMatch = None,
) -> TaxCodeOut:
    """Rename or (de)activate a tax code; takes If-Match."""
    row = await tax_codes.update_tax_code(
        context.session,
        context.audit_context,
        tax_code_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return _out(row, response)
