"""Approval endpoints: the tenant's approval policy and an invoice's approvals; credit
notes set against open invoices. Each endpoint makes one service call and translates."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.invoices import approvals, credit_notes, service
from ledgerline.invoices.schemas import (
    AllocationOut,
    ApprovalOut,
    ApprovalPolicyIn,
    ApprovalPolicyOut,
    CreditNoteApplication,
    CreditNoteApplied,
)
from ledgerline.responses import json_with_etag
from ledgerline.security.permissions import Permission

router = APIRouter(route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.INVOICES_READ)]
Manage = Annotated[TenantRequest, tenant_request(Permission.APPROVAL_POLICY_MANAGE)]
Posting = Annotated[TenantRequest, tenant_request(Permission.INVOICES_APPROVE, idempotent=True)]


def _policy_out(policy: approvals.Policy) -> ApprovalPolicyOut:
    return ApprovalPolicyOut.model_validate(
        {
            "segregation_of_duties": policy.segregation_of_duties,
            "approver_cannot_pay": policy.approver_cannot_pay,
            "thresholds": policy.thresholds,
        }
    )


@router.get(
    "/approval-policy",
    operation_id="get_approval_policy",
    tags=["approvals"],
    response_model=ApprovalPolicyOut,
    description="The tenant's approval policy (`ETag`: its version; the default, one "
    "approval by anyone who may approve, is version 1).",
)
async def get_approval_policy(context: Read) -> Response:
    policy = await approvals.read_policy(context.session)
    return json_with_etag(_policy_out(policy), policy.version)


@router.put("/approval-policy", operation_id="replace_approval_policy", tags=["approvals"])
async def replace_approval_policy(
    body: ApprovalPolicyIn, context: Manage, response: Response, if_match: IfMatch = None
) -> ApprovalPolicyOut:
    """Replace the policy: amount thresholds asking for distinct approvals (and the roles
    that may give them), segregation of duties; takes If-Match."""
    policy = await approvals.replace_policy(
        context.session,
        context.audit_context,
        if_match=sent_if_match(if_match),
        segregation_of_duties=body.segregation_of_duties,
        approver_cannot_pay=body.approver_cannot_pay,
        thresholds=[t.model_dump(mode="json") for t in body.thresholds],
    )
    set_etag(response, policy.version)
    return _policy_out(policy)


@router.get(
    "/invoices/{invoice_id}/approvals", operation_id="invoice_approvals", tags=["approvals"]
)
async def invoice_approvals(invoice_id: UUID, context: Read) -> list[ApprovalOut]:
    """The invoice's approvals, every submission's, in order: who, in which role, when."""
    found = await service.approvals_of_invoice(context.session, invoice_id)
    return [ApprovalOut.model_validate(a) for a in found]


@router.post(
    "/credit-notes/{credit_note_id}/apply",
    operation_id="apply_credit_note",
    tags=["credit notes"],
)
async def apply_credit_note(
    credit_note_id: UUID,
    body: CreditNoteApplication,
    context: Posting,
    response: Response,
    if_match: IfMatch = None,
) -> CreditNoteApplied:
    """Allocate an approved credit note to approved invoices of its vendor (partly, too);
    an invoice's open amount never goes below zero. Takes the credit note's If-Match."""
    applied = await credit_notes.apply_credit_note(
        context.session,
        context.audit_context,
        credit_note_id,
        [(a.invoice_id, a.amount) for a in body.allocations],
        if_match=sent_if_match(if_match),
    )
    note = applied.credit_note
    set_etag(response, note.version)
    return CreditNoteApplied(
        credit_note_id=note.id,
        applied=note.amount_paid,
        remaining=note.total - note.amount_paid,
        status=note.status,
        allocations=[AllocationOut.model_validate(a) for a in applied.allocations],
    )


@router.get(
    "/invoices/{invoice_id}/allocations",
    operation_id="invoice_allocations",
    tags=["credit notes"],
)
async def invoice_allocations(invoice_id: UUID, context: Read) -> list[AllocationOut]:
    """Credit-note allocations a credit note made or an invoice received, oldest first."""
    found = await service.allocations_of_invoice(context.session, invoice_id)
    return [AllocationOut.model_validate(a) for a in found]
