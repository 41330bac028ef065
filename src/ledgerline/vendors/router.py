"""Vendor endpoints: create, list, read, update with If-Match, deactivate."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import or_, select

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import require_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, contains, keyset_page, page_request
from ledgerline.problems import Problem
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


def _out(vendor: Vendor, context: TenantRequest, response: Response | None = None) -> VendorOut:
    if response is not None:
        set_etag(response, vendor.version)
    out = VendorOut.model_validate(vendor)
    if not context.principal.can(Permission.VENDOR_BANK_DETAILS):
        out = out.model_copy(update={"bank_account": vendor_service.masked(vendor.bank_account)})
    return out


def _bank_details_allowed(context: TenantRequest, given: bool) -> None:
    """Setting a vendor's bank account redirects payments: owners only."""
    if given and not context.principal.can(Permission.VENDOR_BANK_DETAILS):
        raise Problem(
            403,
            "permission_denied",
            f"Setting bank details needs the '{Permission.VENDOR_BANK_DETAILS}' permission.",
        )


@router.post("/vendors", operation_id="create_vendor", status_code=201)
async def create_vendor(body: VendorCreate, context: Create, response: Response) -> VendorOut:
    _bank_details_allowed(context, body.bank_account is not None)
    vendor = await vendor_service.create_vendor(
        context.session, context.audit_context, **body.model_dump()
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
    statement = select(Vendor)
    if q:
        pattern = contains(q)
        statement = statement.where(or_(Vendor.name.ilike(pattern), Vendor.tax_id.ilike(pattern)))
    if is_active is not None:
        statement = statement.where(Vendor.is_active == is_active)
    if currency is not None:
        statement = statement.where(Vendor.default_currency == currency)
    rows, cursor = await keyset_page(context.session, statement, Vendor.id, page)
    return Page(items=[_out(v, context) for v in rows], next_cursor=cursor)


@router.get("/vendors/{vendor_id}", operation_id="get_vendor")
async def get_vendor(vendor_id: UUID, context: Read, response: Response) -> VendorOut:
    return _out(await vendor_service.get_vendor(context.session, vendor_id), context, response)


@router.patch("/vendors/{vendor_id}", operation_id="update_vendor")
async def update_vendor(
    vendor_id: UUID, body: VendorUpdate, context: Write, request: Request, response: Response
) -> VendorOut:
    vendor = await vendor_service.get_vendor(context.session, vendor_id, for_update=True)
    require_if_match(request, vendor.version)
    _bank_details_allowed(context, "bank_account" in body.model_fields_set)
    await vendor_service.update_vendor(
        context.session, context.audit_context, vendor, body.model_dump(exclude_unset=True)
    )
    return _out(vendor, context, response)


@router.delete("/vendors/{vendor_id}", operation_id="deactivate_vendor", status_code=204)
async def deactivate_vendor(vendor_id: UUID, context: Remove, request: Request) -> Response:
    """Deactivates: a vendor's invoices keep pointing at it. Takes If-Match."""
    vendor = await vendor_service.get_vendor(context.session, vendor_id, for_update=True)
    require_if_match(request, vendor.version)
    if vendor.is_active:
        await vendor_service.update_vendor(
            context.session, context.audit_context, vendor, {"is_active": False}
        )
    return Response(status_code=204)
