from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select

from ledgerline import csvfiles
from ledgerline.auth.deps import TenantRequest, tenant_request
from ledgerline.deps import DatabaseDep
from ledgerline.errors import Problem
from ledgerline.etags import require_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.invoices import csv_io, service, vendor_service
from ledgerline.invoices.filters import InvoiceFilter, invoice_filters, invoice_sort
from ledgerline.invoices.models import Invoice, InvoiceStatusChange, Vendor
from ledgerline.invoices.schemas import (
    InvoiceCreate,
    InvoiceOut,
    InvoiceUpdate,
    LineIn,
    LineOut,
    PaymentIn,
    Rejection,
    StatusChangeOut,
    VendorCreate,
    VendorOut,
    VendorUpdate,
)
from ledgerline.pagination import (
    Page,
    PageRequest,
    SortKey,
    contains,
    keyset_page,
    page_request,
)
from ledgerline.security.permissions import Permission

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
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
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


Approve = Annotated[TenantRequest, tenant_request(Permission.INVOICES_APPROVE)]
CreateInvoice = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE, idempotent=True)]
DeleteInvoice = Annotated[TenantRequest, tenant_request(Permission.INVOICES_DELETE)]


def _lines(items: list[LineIn]) -> list[service.Line]:
    return [service.Line(i.description, i.quantity, i.unit_price, i.tax_rate) for i in items]


async def _invoice_out(context: TenantRequest, invoice: Invoice, response: Response) -> InvoiceOut:
    set_etag(response, invoice.version)
    out = InvoiceOut.model_validate(invoice)
    lines = await service.lines_of(context.session, invoice)
    return out.model_copy(update={"lines": [LineOut.model_validate(x) for x in lines]})


async def _locked(context: TenantRequest, invoice_id: UUID, request: Request) -> Invoice:
    """The invoice, locked, at the version the caller read (If-Match)."""
    invoice = await service.get_invoice(context.session, invoice_id, for_update=True)
    require_if_match(request, invoice.version)
    return invoice


@router.post("/invoices", operation_id="create_invoice", status_code=201, tags=["invoices"])
async def create_invoice(
    body: InvoiceCreate, context: CreateInvoice, response: Response
) -> InvoiceOut:
    """A draft invoice. Totals come from the lines; a sent `total` must agree (422)."""
    fields = body.model_dump(exclude={"lines"})
    invoice = await service.create_invoice(
        context.session, context.audit_context, lines=_lines(body.lines), **fields
    )
    return await _invoice_out(context, invoice, response)


@router.get("/invoices", operation_id="list_invoices", tags=["invoices"])
async def list_invoices(
    context: Read,
    page: Annotated[PageRequest, Depends(page_request)],
    filtered: Annotated[InvoiceFilter, Depends(invoice_filters)],
    sort: Annotated[SortKey | None, Depends(invoice_sort)],
) -> Page[InvoiceOut]:
    """Newest first unless `sort` says otherwise; invoices lacking the sort key come last."""
    rows, cursor = await keyset_page(context.session, filtered.invoices(), Invoice.id, page, sort)
    return Page(items=[InvoiceOut.model_validate(i) for i in rows], next_cursor=cursor)


@router.get(
    "/invoices/export.csv",
    operation_id="export_invoices_csv",
    tags=["invoices"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_invoices_csv(
    context: Read,
    database: DatabaseDep,
    filtered: Annotated[InvoiceFilter, Depends(invoice_filters)],
) -> StreamingResponse:
    """The invoices the list filters select, one row per line, streamed."""
    return StreamingResponse(
        csv_io.export_rows(database, context.tenant_id, filtered),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="invoices.csv"'},
    )


@router.post(
    "/invoices/import",
    operation_id="import_invoices",
    tags=["invoices"],
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {}}}},
)
async def import_invoices(
    request: Request,
    context: Write,
    partial: Annotated[bool, Query(description="import the valid rows, report the rest")] = False,
) -> dict[str, Any]:
    """Draft invoices from CSV (the export's columns), with a per-row report. Nothing is
    imported when a row is invalid, unless `partial=true`; a vendor's invoice number
    that exists is skipped, so the same file can be sent twice."""
    text = csvfiles.decode(await request.body())
    return await csv_io.import_invoices(
        context.session, context.audit_context, text, partial=partial
    )


@router.get("/invoices/{invoice_id}", operation_id="get_invoice", tags=["invoices"])
async def get_invoice(invoice_id: UUID, context: Read, response: Response) -> InvoiceOut:
    invoice = await service.get_invoice(context.session, invoice_id)
    return await _invoice_out(context, invoice, response)


@router.patch("/invoices/{invoice_id}", operation_id="update_invoice", tags=["invoices"])
async def update_invoice(
    invoice_id: UUID, body: InvoiceUpdate, context: Write, request: Request, response: Response
) -> InvoiceOut:
    """Drafts only; sending `lines` replaces them."""
    invoice = await _locked(context, invoice_id, request)
    changes = body.model_dump(exclude_unset=True, exclude={"lines"})
    if body.lines is not None:
        changes["lines"] = _lines(body.lines)
    await service.update_invoice(context.session, context.audit_context, invoice, changes)
    return await _invoice_out(context, invoice, response)


@router.delete(
    "/invoices/{invoice_id}", operation_id="delete_invoice", status_code=204, tags=["invoices"]
)
async def delete_invoice(invoice_id: UUID, context: DeleteInvoice, request: Request) -> Response:
    """Drafts only; takes If-Match."""
    invoice = await _locked(context, invoice_id, request)
    await service.delete_invoice(context.session, context.audit_context, invoice)
    return Response(status_code=204)


async def _step(
    context: TenantRequest,
    invoice_id: UUID,
    request: Request,
    response: Response,
    step: str,
    reason: str | None = None,
) -> InvoiceOut:
    """One lifecycle step on the locked invoice at the version the caller read."""
    invoice = await _locked(context, invoice_id, request)
    await service.transition(context.session, context.audit_context, invoice, step, reason=reason)
    return await _invoice_out(context, invoice, response)


@router.post("/invoices/{invoice_id}/submit", operation_id="submit_invoice", tags=["invoices"])
async def submit_invoice(
    invoice_id: UUID, context: Write, request: Request, response: Response
) -> InvoiceOut:
    return await _step(context, invoice_id, request, response, "submit")


@router.post("/invoices/{invoice_id}/approve", operation_id="approve_invoice", tags=["invoices"])
async def approve_invoice(
    invoice_id: UUID, context: Approve, request: Request, response: Response
) -> InvoiceOut:
    return await _step(context, invoice_id, request, response, "approve")


@router.post("/invoices/{invoice_id}/reject", operation_id="reject_invoice", tags=["invoices"])
async def reject_invoice(
    invoice_id: UUID, body: Rejection, context: Approve, request: Request, response: Response
) -> InvoiceOut:
    return await _step(context, invoice_id, request, response, "reject", body.reason)


@router.post("/invoices/{invoice_id}/void", operation_id="void_invoice", tags=["invoices"])
async def void_invoice(
    invoice_id: UUID, context: Approve, request: Request, response: Response
) -> InvoiceOut:
    return await _step(context, invoice_id, request, response, "void")


@router.post("/invoices/{invoice_id}/pay", operation_id="pay_invoice", tags=["invoices"])
async def pay_invoice(
    invoice_id: UUID, body: PaymentIn, context: Approve, request: Request, response: Response
) -> InvoiceOut:
    """Record a payment (partial ones allowed); settled in full, the invoice is paid."""
    invoice = await _locked(context, invoice_id, request)
    await service.pay(
        context.session,
        context.audit_context,
        invoice,
        paid_on=body.paid_on,
        amount=body.amount,
        reference=body.reference,
    )
    return await _invoice_out(context, invoice, response)


@router.get("/invoices/{invoice_id}/history", operation_id="invoice_history", tags=["invoices"])
async def invoice_history(invoice_id: UUID, context: Read) -> list[StatusChangeOut]:
    await service.get_invoice(context.session, invoice_id)
    changes = await context.session.scalars(
        select(InvoiceStatusChange)
        .where(InvoiceStatusChange.invoice_id == invoice_id)
        .order_by(InvoiceStatusChange.id)
    )
    return [StatusChangeOut.model_validate(c) for c in changes]
