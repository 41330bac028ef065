"""The approval policy and the approvals it asks for.

A tenant's policy (one row; the default below until an owner writes one) sets amount
thresholds, each asking for a number of distinct approvals and, optionally, the roles
that may give them; the highest threshold the invoice's total (in its own currency)
reaches applies. With segregation of duties, whoever created or submitted an invoice may
not approve it; with `approver_cannot_pay`, whoever approved it may not record its
payment. A refusal is 403 `approval_policy` naming the rule.

Each approval is a row (who, role, when, step) of the invoice's current submission; the
invoice is approved, and posts, when the last one required lands. Every approval runs
under the invoice's row lock, so two approvers at the same moment are recorded one after
the other, and only the one that completes the count approves and posts (unique keys on
(invoice, submission, approver) and (invoice, submission, step) back this up).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db import driver
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version
from ledgerline.invoices.models import (
    ApprovalPolicy,
    Invoice,
    InvoiceApproval,
    InvoiceStatus,
    InvoiceStatusChange,
)
from ledgerline.problems import Problem

DEFAULT_THRESHOLDS: list[dict[str, Any]] = [{"min_amount": "0.00", "approvals": 1, "roles": []}]


@dataclass(frozen=True, slots=True)
class Policy:
    segregation_of_duties: bool
    approver_cannot_pay: bool
    thresholds: list[dict[str, Any]]
    version: int


def _policy(row: ApprovalPolicy | None) -> Policy:
    if row is None:
        return Policy(False, False, DEFAULT_THRESHOLDS, 1)
    return Policy(row.segregation_of_duties, row.approver_cannot_pay, row.thresholds, row.version)


# Sent with asyncpg itself (db/driver.py): every approval reads both; approvals are
# inserted by a statement of their own, never left pending in the session.
_POLICY = (
    "SELECT segregation_of_duties, approver_cannot_pay, thresholds, version FROM approval_policies"
)
_APPROVERS = "SELECT approver_id FROM invoice_approvals WHERE invoice_id = $1 AND submission = $2"


async def read_policy(session: AsyncSession) -> Policy:
    connection = await driver.driver_connection(session)
    row = await connection.fetchrow(_POLICY)
    if row is None:
        return _policy(None)
    return Policy(
        row["segregation_of_duties"],
        row["approver_cannot_pay"],
        row["thresholds"],
        row["version"],
    )


async def replace_policy(
    session: AsyncSession,
    audit: AuditContext,
    *,
    if_match: str | None,
    segregation_of_duties: bool,
    approver_cannot_pay: bool,
    thresholds: list[dict[str, Any]],
) -> Policy:
    """The tenant's policy replaced (If-Match: the version read; the default is
    version 1). Threshold amounts are distinct."""
    amounts = [Decimal(t["min_amount"]) for t in thresholds]
    if len(set(amounts)) != len(amounts):
        raise Problem(422, "thresholds_overlap", "Each threshold needs its own min_amount.")
    await session.execute(
        pg_insert(ApprovalPolicy)
        .values(
            tenant_id=audit.tenant_id,
            id=new_id(),
            segregation_of_duties=False,
            approver_cannot_pay=False,
            thresholds=DEFAULT_THRESHOLDS,
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    row_id = await session.scalar(select(ApprovalPolicy.id))
    assert row_id is not None
    row = await locked_at_version(session, ApprovalPolicy, row_id, if_match, what="approval_policy")
    before = _policy(row)
    row.segregation_of_duties = segregation_of_duties
    row.approver_cannot_pay = approver_cannot_pay
    row.thresholds = sorted(thresholds, key=lambda t: Decimal(str(t["min_amount"])))
    await session.flush()
    audit.record(
        session,
        "approval_policy.updated",
        target_type="approval_policy",
        target_id=row.id,
        changes={
            "before": {
                "segregation_of_duties": before.segregation_of_duties,
                "approver_cannot_pay": before.approver_cannot_pay,
                "thresholds": before.thresholds,
            },
            "after": {
                "segregation_of_duties": segregation_of_duties,
                "approver_cannot_pay": approver_cannot_pay,
                "thresholds": row.thresholds,
            },
        },
    )
    return _policy(row)


def threshold_for(policy: Policy, total: Decimal) -> dict[str, Any]:
    """The highest threshold the total reaches (one approval by anyone below them all)."""
    reached = [t for t in policy.thresholds if Decimal(t["min_amount"]) <= total]
    return reached[-1] if reached else {"min_amount": "0.00", "approvals": 1, "roles": []}


def refused(rule: str, detail: str, **extra: Any) -> Problem:
    return Problem(403, "approval_policy", detail, extra={"rule": rule, **extra})


async def _creators_and_submitters(session: AsyncSession, invoice: Invoice) -> set[UUID]:
    rows = await session.scalars(
        select(InvoiceStatusChange.actor_id).where(
            InvoiceStatusChange.invoice_id == invoice.id,
            (InvoiceStatusChange.from_status.is_(None))
            | (InvoiceStatusChange.to_status == InvoiceStatus.SUBMITTED),
        )
    )
    return {actor for actor in rows if actor is not None}


async def _approvers(session: AsyncSession, invoice: Invoice) -> list[UUID]:
    """Who approved the invoice's current submission, one per approval given."""
    connection = await driver.driver_connection(session)
    rows = await connection.fetch(_APPROVERS, invoice.id, invoice.submissions)
    return [row["approver_id"] for row in rows]


async def approvals_of(
    session: AsyncSession, invoice_id: UUID, submission: int | None = None
) -> list[InvoiceApproval]:
    statement = select(InvoiceApproval).where(InvoiceApproval.invoice_id == invoice_id)
    if submission is not None:
        statement = statement.where(InvoiceApproval.submission == submission)
    return list(
        await session.scalars(statement.order_by(InvoiceApproval.submission, InvoiceApproval.step))
    )


async def record_approval(
    session: AsyncSession,
    audit: AuditContext,
    invoice: Invoice,
    role: str | None,
    duplicate_override_reason: str | None,
) -> bool:
    """The caller's approval of the invoice's current submission (the invoice's row is
    locked); True when it is the last one the policy asks for."""
    policy = await read_policy(session)
    threshold = threshold_for(policy, invoice.total)
    required = int(threshold["approvals"])
    actor = audit.actor.id
    if policy.segregation_of_duties and actor in await _creators_and_submitters(session, invoice):
        raise refused(
            "segregation_of_duties",
            "Whoever created or submitted an invoice cannot approve it.",
        )
    roles = list(threshold.get("roles") or [])
    if roles and role not in roles:
        raise refused(
            "approver_role",
            f"Invoices from {threshold['min_amount']} need approvals by {', '.join(roles)}.",
            roles=roles,
            min_amount=threshold["min_amount"],
        )
    given = await _approvers(session, invoice)
    if actor in given:
        raise refused(
            "distinct_approvers",
            f"You have approved this submission already; it needs {required} approval(s),"
            " each by a different person.",
            approvals_required=required,
        )
    assert actor is not None
    await session.execute(
        insert(InvoiceApproval).values(
            tenant_id=invoice.tenant_id,
            id=new_id(),
            invoice_id=invoice.id,
            submission=invoice.submissions,
            step=len(given) + 1,
            approver_type=str(audit.actor.type),
            approver_id=actor,
            role=role,
            duplicate_override_reason=duplicate_override_reason,
        )
    )
    return len(given) + 1 >= required


async def refuse_approver_paying(
    session: AsyncSession, audit: AuditContext, invoice: Invoice
) -> None:
    """With `approver_cannot_pay`, 403 when the caller approved the invoice."""
    policy = await read_policy(session)
    if not policy.approver_cannot_pay:
        return
    if audit.actor.id in await _approvers(session, invoice):
        raise refused(
            "approver_cannot_pay", "Whoever approved an invoice cannot record its payment."
        )
