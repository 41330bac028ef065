"""Invoice endpoints: drafts, the lifecycle steps, payments, history, CSV in and out.

Each endpoint makes one `service` call that does its whole step (under the row lock, at
the version the caller sent in If-Match) and translates the answer to HTTP.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from ledgerline import csvfiles
from ledgerline.access import TenantRequest, tenant_request
from ledgerline.csvfiles import ImportReport
from ledgerline.deps import DatabaseDep
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.invoices import csv_io, service
from ledgerline.invoices.filters import InvoiceFilter, invoice_filters, invoice_sort
from ledgerline.invoices.schemas import (
    Approval,
    InvoiceCreate,
    InvoiceOut,
    InvoiceUpdate,
    LineIn,
    LineOut,
    MatchOverride,
    MatchResolutionIn,
    PaymentIn,
    Rejection,
    StatusChangeOut,
    Submission,
)
from ledgerline.pagination import Page, PageRequest, SortKey, page_request
from ledgerline.responses import json_with_etag
from ledgerline.security.permissions import Permission

router = APIRouter(tags=["invoices"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.INVOICES_READ)]
Write = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE)]
Create = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE, idempotent=True)]
Approve = Annotated[TenantRequest, tenant_request(Permission.INVOICES_APPROVE)]
# Approving, voiding and paying post to the ledger: the request may carry an
# Idempotency-Key, and a retry after a lost answer gets that answer again.
Posting = Annotated[TenantRequest, tenant_request(Permission.INVOICES_APPROVE, idempotent=True)]
Remove = Annotated[TenantRequest, tenant_request(Permission.INVOICES_DELETE)]


def _lines(items: list[LineIn]) -> list[service.Line]:
    return [
        service.Line(
            i.description,
            i.quantity,
            i.unit_price,
            i.tax_rate,
            i.account_code,
            i.tax_code,
            i.purchase_order_line_id,
        )
        for i in items
    ]


def _invoice_out(found: service.InvoiceWithLines, response: Response) -> InvoiceOut:
    set_etag(response, found.invoice.version)
    out = InvoiceOut.model_validate(found.invoice)
    return out.model_copy(update={"lines": [LineOut.model_validate(x) for x in found.lines]})


@router.post("/invoices", operation_id="create_invoice", status_code=201)
async def create_invoice(body: InvoiceCreate, context: Create, response: Response) -> InvoiceOut:
    """A draft invoice. Totals come from the lines; a sent `total` must agree (422)."""
    fields = body.model_dump(exclude={"lines"})
    created = await service.create_invoice(
        context.session, context.audit_context, lines=_lines(body.lines), **fields
    )
    return _invoice_out(created, response)


@router.get("/invoices", operation_id="list_invoices")
async def list_invoices(
    context: Read,
    page: Annotated[PageRequest, Depends(page_request)],
    filtered: Annotated[InvoiceFilter, Depends(invoice_filters)],
    sort: Annotated[SortKey | None, Depends(invoice_sort)],
) -> Page[InvoiceOut]:
    """Newest first unless `sort` says otherwise; invoices lacking the sort key come last."""
    rows, cursor = await service.list_invoices(context.session, filtered, page, sort)
    return Page(items=[InvoiceOut.model_validate(i) for i in rows], next_cursor=cursor)


@router.get(
    "/invoices/export.csv",
    operation_id="export_invoices_csv",
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
    response_model=ImportReport,
    response_model_exclude_none=True,
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


@router.get(
    "/invoices/{invoice_id}",
    operation_id="get_invoice",
    response_model=InvoiceOut,
    description="One invoice with its lines (`ETag`: its version, for the steps).",
)
async def get_invoice(invoice_id: UUID, context: Read) -> Response:
    found = await service.read_invoice_view(context.session, invoice_id)
    return json_with_etag(InvoiceOut.model_validate(found), found["version"])


@router.patch("/invoices/{invoice_id}", operation_id="update_invoice")
async def update_invoice(
    invoice_id: UUID,
    body: InvoiceUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """Drafts only; sending `lines` replaces them."""
    changes = body.model_dump(exclude_unset=True, exclude={"lines"})
    if body.lines is not None:
        changes["lines"] = _lines(body.lines)
    updated = await service.update_invoice(
        context.session,
        context.audit_context,
        invoice_id,
        changes,
        if_match=sent_if_match(if_match),
    )
    return _invoice_out(updated, response)


@router.delete("/invoices/{invoice_id}", operation_id="delete_invoice", status_code=204)
async def delete_invoice(invoice_id: UUID, context: Remove, if_match: IfMatch = None) -> Response:
    """Drafts only; takes If-Match."""
    await service.delete_invoice(
        context.session, context.audit_context, invoice_id, if_match=sent_if_match(if_match)
    )
    return Response(status_code=204)


async def _step(
    context: TenantRequest,
    invoice_id: UUID,
    if_match: list[str] | None,
    response: Response,
    step: str,
    reason: str | None = None,
    total_override_reason: str | None = None,
    duplicate_override_reason: str | None = None,
) -> InvoiceOut:
    stepped = await service.transition(
        context.session,
        context.audit_context,
        invoice_id,
        step,
        if_match=sent_if_match(if_match),
        reason=reason,
        total_override_reason=total_override_reason,
        role=context.principal.role,
        duplicate_override_reason=duplicate_override_reason,
    )
    return _invoice_out(stepped, response)


@router.post("/invoices/{invoice_id}/submit", operation_id="submit_invoice")
async def submit_invoice(
    invoice_id: UUID,
    context: Write,
    response: Response,
    body: Annotated[Submission, Body(default_factory=Submission)],
    if_match: IfMatch = None,
) -> InvoiceOut:
    """A draft goes for approval (vendor, number, dates and currency complete). An invoice
    made from a document whose total disagrees with its lines is 422
    `document_total_mismatch` unless the body gives `total_override_reason`."""
    return await _step(
        context,
        invoice_id,
        if_match,
        response,
        "submit",
        total_override_reason=body.total_override_reason,
    )


@router.post("/invoices/{invoice_id}/approve", operation_id="approve_invoice")
async def approve_invoice(
    invoice_id: UUID,
    context: Posting,
    response: Response,
    body: Annotated[Approval, Body(default_factory=Approval)],
    if_match: IfMatch = None,
) -> InvoiceOut:
    """The caller's approval of a submitted invoice, under the tenant's approval policy
    (403 `approval_policy` naming the rule it breaks). The invoice is approved, and
    posts, when the last approval its threshold asks for lands; until then it stays
    submitted (and its ETag the same). A possible duplicate needs
    `duplicate_override_reason` (409 `possible_duplicate` without)."""
    return await _step(
        context,
        invoice_id,
        if_match,
        response,
        "approve",
        duplicate_override_reason=body.duplicate_override_reason,
    )


@router.post("/invoices/{invoice_id}/override-match", operation_id="override_invoice_match")
async def override_invoice_match(
    invoice_id: UUID,
    body: MatchOverride,
    context: Approve,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """An invoice in `match_exception` goes on to approval despite the differences its
    lines show against their purchase orders, with a reason (audited); what can be
    matched is (on a three-way order no more than was received). Takes If-Match."""
    overridden = await service.override_match(
        context.session,
        context.audit_context,
        invoice_id,
        if_match=sent_if_match(if_match),
        reason=body.reason,
    )
    return _invoice_out(overridden, response)


@router.post("/invoices/{invoice_id}/resolve-match", operation_id="resolve_invoice_match")
async def resolve_invoice_match(
    invoice_id: UUID,
    body: MatchResolutionIn,
    context: Approve,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """Resolve an invoice in `match_exception` by a credit note: approved, of the same
    vendor and currency, crediting this invoice (`original_invoice_id`), used for no
    other resolution (409 `credit_note_used`). Per purchase order line, what the invoice
    bills less what the credit note's lines naming that order line credit must be within
    what matching accepts; then the lines are matched as on an override and the invoice
    is submitted. Otherwise 409 `match_not_resolved` with `remaining_differences`. Takes
    If-Match of the invoice."""
    resolved = await service.resolve_match(
        context.session,
        context.audit_context,
        invoice_id,
        if_match=sent_if_match(if_match),
        credit_note_id=body.credit_note_id,
    )
    return _invoice_out(resolved, response)


@router.post("/invoices/{invoice_id}/reject", operation_id="reject_invoice")
async def reject_invoice(
    invoice_id: UUID,
    body: Rejection,
    context: Approve,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """A submitted invoice goes back, with the reason."""
    return await _step(context, invoice_id, if_match, response, "reject", body.reason)


@router.post("/invoices/{invoice_id}/reopen", operation_id="reopen_invoice")
async def reopen_invoice(
    invoice_id: UUID,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """A rejected invoice goes back to draft, to be corrected and submitted again (its
    history keeps the rejection)."""
    return await _step(context, invoice_id, if_match, response, "reopen")


@router.post("/invoices/{invoice_id}/void", operation_id="void_invoice")
async def void_invoice(
    invoice_id: UUID,
    context: Posting,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """Cancel a draft, submitted, approved or rejected invoice."""
    return await _step(context, invoice_id, if_match, response, "void")


@router.post("/invoices/{invoice_id}/pay", operation_id="pay_invoice")
async def pay_invoice(
    invoice_id: UUID,
    body: PaymentIn,
    context: Posting,
    response: Response,
    if_match: IfMatch = None,
) -> InvoiceOut:
    """Record and post a payment (partial ones allowed); settled in full, the invoice is
    paid. The payment is then listed at `/invoices/{id}/payments` and `/payments`."""
    paid = await service.pay(
        context.session,
        context.audit_context,
        invoice_id,
        if_match=sent_if_match(if_match),
        paid_on=body.paid_on,
        amount=body.amount,
        reference=body.reference,
        paying_account_id=body.paying_account_id,
    )
    return _invoice_out(paid, response)


@router.get("/invoices/{invoice_id}/history", operation_id="invoice_history")
async def invoice_history(invoice_id: UUID, context: Read) -> list[StatusChangeOut]:
    """The invoice's status changes, oldest first: who, when, why."""
    changes = await service.status_history(context.session, invoice_id)
    return [StatusChangeOut.model_validate(c) for c in changes]
