"""Vendor endpoints: create, list, read, update with If-Match, deactivate.

Each endpoint makes one `vendor_service` call; bank accounts show masked unless the
caller may see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.responses import json_with_etag
from ledgerline.security.permissions import Permission
from ledgerline.values import Currency
from ledgerline.vendors import service as vendor_service
from ledgerline.vendors.models import Vendor
from ledgerline.vendors.schemas import VendorCreate, VendorOut, VendorUpdate

router = APIRouter(tags=["vendors"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.INVOICES_READ)]
Write = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE)]
Create = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE, idempotent=True)]
Remove = Annotated[TenantRequest, tenant_request(Permission.INVOICES_DELETE)]


def _out(
    vendor: Vendor | Mapping[str, Any], context: TenantRequest, response: Response | None = None
) -> VendorOut:
    """The vendor (a row, or the mapping of one), its bank account masked unless the caller
    may see bank details; its ETag on `response` when given (a row)."""
    out = VendorOut.model_validate(vendor)
    if response is not None and isinstance(vendor, Vendor):
        set_etag(response, vendor.version)
    if not context.principal.can(Permission.VENDOR_BANK_DETAILS):
        out = out.model_copy(update={"bank_account": vendor_service.masked(out.bank_account)})
    return out


@router.post("/vendors", operation_id="create_vendor", status_code=201)
async def create_vendor(body: VendorCreate, context: Create, response: Response) -> VendorOut:
    """A vendor; its tax id is normalised and unique in the tenant. Bank details
    only from those who may see them."""
    vendor = await vendor_service.create_vendor(
        context.session,
        context.audit_context,
        may_set_bank_details=context.principal.can(Permission.VENDOR_BANK_DETAILS),
        **body.model_dump(),
    )
    return _out(vendor, context, response)


@router.get("/vendors", operation_id="list_vendors")
async def list_vendors(
    context: Read,
    page: Annotated[PageRequest, Depends(page_request)],
    q: Annotated[str | None, Query(max_length=200, description="in name or tax id")] = None,
    is_active: bool | None = None,
    currency: Currency | None = None,
) -> Page[VendorOut]:
    """The tenant's vendors, newest first; bank accounts masked unless the caller
    may see them."""
    rows, cursor = await vendor_service.list_vendors(
        context.session, page, q=q, is_active=is_active, currency=currency
    )
    return Page(items=[_out(v, context) for v in rows], next_cursor=cursor)


@router.get(
    "/vendors/{vendor_id}",
    operation_id="get_vendor",
    response_model=VendorOut,
    description="One vendor (`ETag`: its version); its bank account masked unless the "
    "caller may see it.",
)
async def get_vendor(vendor_id: UUID, context: Read) -> Response:
    vendor = await vendor_service.read_vendor(context.session, vendor_id)
    return json_with_etag(_out(dict(vendor), context), vendor["version"])


@router.patch("/vendors/{vendor_id}", operation_id="update_vendor")
async def update_vendor(
    vendor_id: UUID,
    body: VendorUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> VendorOut:
    """Change a vendor; takes If-Match."""
    vendor = await vendor_service.update_vendor(
        context.session,
        context.audit_context,
        vendor_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
        may_set_bank_details=context.principal.can(Permission.VENDOR_BANK_DETAILS),
    )
    return _out(vendor, context, response)


@router.delete("/vendors/{vendor_id}", operation_id="deactivate_vendor", status_code=204)
async def deactivate_vendor(vendor_id: UUID, context: Remove, if_match: IfMatch = None) -> Response:
    """Deactivates: a vendor's invoices keep pointing at it. Takes If-Match."""
    await vendor_service.deactivate_vendor(
        context.session, context.audit_context, vendor_id, if_match=sent_if_match(if_match)
    )
    return Response(status_code=204)
