"""Financing endpoints: programs, opportunities, offers (made, withdrawn, accepted by the
vendor's link, settled, repaid), acceptances and settlements.

Each endpoint makes one `service` call and translates the answer to HTTP.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from ledgerline.access import TenantRequest, request_meta, tenant_request
from ledgerline.deps import DatabaseDep, SettingsDep
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.financing import service
from ledgerline.financing.models import (
    FinancingOffer,
    FinancingProgram,
    OfferStatus,
    SettlementKind,
)
from ledgerline.financing.schemas import (
    AcceptanceOut,
    AcceptBody,
    AcceptedOut,
    OfferCreate,
    OfferOut,
    OpportunitiesPage,
    OpportunityOut,
    ProgramCreate,
    ProgramOut,
    ProgramUpdate,
    RepayBody,
    SettlementOut,
)
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.ratelimit import limit_financing_accept
from ledgerline.security.permissions import Permission
from ledgerline.values import Day

router = APIRouter(prefix="/financing", tags=["financing"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.FINANCING_READ)]
Manage = Annotated[TenantRequest, tenant_request(Permission.FINANCING_MANAGE)]
Moves = Annotated[TenantRequest, tenant_request(Permission.FINANCING_MANAGE, idempotent=True)]
Paging = Annotated[PageRequest, Depends(page_request)]


def _program_out(program: FinancingProgram, response: Response | None = None) -> ProgramOut:
    if response is not None:
        set_etag(response, program.version)
    return ProgramOut.model_validate(program)


def _offer_out(offer: FinancingOffer, response: Response | None = None) -> OfferOut:
    if response is not None:
        set_etag(response, offer.version)
    return OfferOut.model_validate(offer).model_copy(
        update={"status": service.effective_status(offer)}
    )


# --- programs ----------------------------------------------------------------------------


@router.post("/programs", operation_id="create_financing_program", status_code=201)
async def create_program(body: ProgramCreate, context: Moves, response: Response) -> ProgramOut:
    """A financing program: currency, annual rate, day count, minimum days early, budget,
    and who pays early (own cash, or a named funder)."""
    program = await service.create_program(
        context.session, context.audit_context, body.model_dump()
    )
    return _program_out(program, response)


@router.get("/programs", operation_id="list_financing_programs")
async def list_programs(context: Read, page: Paging) -> Page[ProgramOut]:
    """The tenant's programs, newest first, with what each has committed and available."""
    rows, cursor = await service.list_programs(context.session, page)
    return Page(items=[_program_out(row) for row in rows], next_cursor=cursor)


@router.get("/programs/{program_id}", operation_id="get_financing_program")
async def get_program(program_id: UUID, context: Read, response: Response) -> ProgramOut:
    """One program; its ETag is its version."""
    return _program_out(await service.read_program(context.session, program_id), response)


@router.patch("/programs/{program_id}", operation_id="update_financing_program")
async def update_program(
    program_id: UUID,
    body: ProgramUpdate,
    context: Manage,
    response: Response,
    if_match: IfMatch = None,
) -> ProgramOut:
    """Rename, change the rate or minimum days, raise or lower the budget (never below
    `committed`: 409 `budget_below_committed`). Takes If-Match."""
    program = await service.update_program(
        context.session,
        context.audit_context,
        program_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return _program_out(program, response)


# --- opportunities and offers ------------------------------------------------------------


@router.get("/opportunities", operation_id="list_financing_opportunities")
async def list_opportunities(
    context: Read,
    page: Paging,
    program_id: UUID,
    pay_on: Annotated[Day | None, Query(description="default: today")] = None,
) -> OpportunitiesPage:
    """Approved invoices with an open amount in the program's currency, due at least the
    program's minimum days after `pay_on`, without a live offer; each with the discount
    and net an offer paid on `pay_on` would carry."""
    day = pay_on or service.today()
    program, found, cursor = await service.opportunities(
        context.session, page, program_id=program_id, pay_on=day
    )
    return OpportunitiesPage(
        program_id=program.id,
        pay_on=day,
        items=[
            OpportunityOut(
                invoice_id=item.invoice.id,
                number=item.invoice.number,
                vendor_id=item.invoice.vendor_id,
                due_date=item.invoice.due_date,
                currency=item.invoice.currency,
                open_amount=item.open_amount,
                days_early=item.terms.days_early,
                discount=item.terms.discount,
                net_amount=item.terms.net_amount,
            )
            for item in found
        ],
        next_cursor=cursor,
    )


@router.post("/offers", operation_id="create_financing_offer", status_code=201)
async def create_offer(
    body: OfferCreate, context: Moves, settings: SettingsDep, response: Response
) -> OfferOut:
    """Offer the invoice's vendor early payment on `pay_on`; the offer is mailed to the
    vendor's address with a single-use acceptance link and expires. One live offer per
    invoice (409 `offer_exists`)."""
    offer = await service.create_offer(
        context.session,
        settings,
        context.audit_context,
        invoice_id=body.invoice_id,
        program_id=body.program_id,
        pay_on=body.pay_on,
    )
    return _offer_out(offer, response)


@router.get("/offers", operation_id="list_financing_offers")
async def list_offers(
    context: Read,
    page: Paging,
    program_id: UUID | None = None,
    invoice_id: UUID | None = None,
    status: OfferStatus | None = None,
) -> Page[OfferOut]:
    """Offers, newest first, filtered by program, invoice or status."""
    rows, cursor = await service.list_offers(
        context.session, page, program_id=program_id, invoice_id=invoice_id, status=status
    )
    return Page(items=[_offer_out(row) for row in rows], next_cursor=cursor)


@router.post(
    "/offers/accept",
    operation_id="accept_financing_offer",
    dependencies=[Depends(limit_financing_accept)],
    responses={
        404: {"description": "The link is unknown, used up or expired (one answer for all)."},
        409: {"description": "`offer_stale` or `budget_exhausted`."},
    },
)
async def accept_offer(
    body: AcceptBody, request: Request, database: DatabaseDep, settings: SettingsDep
) -> AcceptedOut:
    """The vendor accepts an offer with the token from its mail (no sign-in; limited per
    client address). Accepting again answers the same acceptance."""
    accepted = await service.accept_offer(
        database, settings, token=body.token, meta=request_meta(request)
    )
    offer = accepted.offer
    return AcceptedOut(
        acceptance_id=accepted.acceptance.id,
        offer_id=offer.id,
        invoice_id=offer.invoice_id,
        currency=offer.currency,
        open_amount=offer.open_amount,
        discount=offer.discount,
        net_amount=offer.net_amount,
        pay_on=offer.pay_on,
        accepted_at=accepted.acceptance.accepted_at,
    )


@router.get("/offers/{offer_id}", operation_id="get_financing_offer")
async def get_offer(offer_id: UUID, context: Read, response: Response) -> OfferOut:
    """One offer; its ETag is its version."""
    return _offer_out(await service.read_offer(context.session, offer_id), response)


@router.post("/offers/{offer_id}/withdraw", operation_id="withdraw_financing_offer")
async def withdraw_offer(
    offer_id: UUID, context: Manage, response: Response, if_match: IfMatch = None
) -> OfferOut:
    """Withdraw an offer not yet settled; an accepted one gives its reservation back to
    the budget. Takes If-Match."""
    offer = await service.withdraw_offer(
        context.session, context.audit_context, offer_id, if_match=sent_if_match(if_match)
    )
    return _offer_out(offer, response)


@router.post("/offers/{offer_id}/settle", operation_id="settle_financing_offer")
async def settle_offer(offer_id: UUID, context: Moves, if_match: IfMatch = None) -> SettlementOut:
    """Pay an accepted offer early, today, on or before its `pay_on`: posted to the
    ledger, the invoice marked paid. Takes If-Match."""
    settled = await service.settle_offer(
        context.session, context.audit_context, offer_id, if_match=sent_if_match(if_match)
    )
    return SettlementOut.model_validate(settled.settlement)


@router.post("/offers/{offer_id}/repay", operation_id="repay_financing_offer")
async def repay_offer(
    offer_id: UUID,
    context: Moves,
    body: Annotated[RepayBody, Body(default_factory=RepayBody)],
    if_match: IfMatch = None,
) -> SettlementOut:
    """Repay the funder of a settled funder-financed offer (dated the due date unless
    `paid_on` says otherwise); releases its reservation. Takes If-Match."""
    settled = await service.repay_offer(
        context.session,
        context.audit_context,
        offer_id,
        paid_on=body.paid_on,
        if_match=sent_if_match(if_match),
    )
    return SettlementOut.model_validate(settled.settlement)


# --- acceptances and settlements ---------------------------------------------------------


@router.get("/acceptances", operation_id="list_financing_acceptances")
async def list_acceptances(
    context: Read, page: Paging, program_id: UUID | None = None, offer_id: UUID | None = None
) -> Page[AcceptanceOut]:
    """Acceptances, newest first, filtered by program or offer."""
    rows, cursor = await service.list_acceptances(
        context.session, page, program_id=program_id, offer_id=offer_id
    )
    return Page(items=[AcceptanceOut.model_validate(row) for row in rows], next_cursor=cursor)


@router.get("/settlements", operation_id="list_financing_settlements")
async def list_settlements(
    context: Read,
    page: Paging,
    program_id: UUID | None = None,
    offer_id: UUID | None = None,
    kind: SettlementKind | None = None,
) -> Page[SettlementOut]:
    """Settlements (early payments) and repayments (to funders), newest first."""
    rows, cursor = await service.list_settlements(
        context.session, page, program_id=program_id, offer_id=offer_id, kind=kind
    )
    return Page(items=[SettlementOut.model_validate(row) for row in rows], next_cursor=cursor)
