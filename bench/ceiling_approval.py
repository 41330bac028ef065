"""The approval of the `http` benchmark's ceiling and floor: `POST /invoices/{id}/approve`
with the database work the app does for `POST /api/v1/invoices/{id}/approve` and nothing
else, statement by statement in its order, as the runtime role under row-level security.

What it covers is the benchmark's seeded kind of approval: a submitted invoice under the
default policy (one approval by anyone, no segregation of duties), none of whose lines
names a purchase order line or had an asset bought on it, approved without an
Idempotency-Key. Inside the transaction the caller's BEGIN opened:
- the caller's liveness (the access hook's query; 401, 403 as for the create, the role
  needing `invoices:approve`);
- the invoice, locked (`FOR UPDATE`, the ORM's statement): 404, then 428 without If-Match
  and 412 on a stale one (the app's `etags.check_if_match`), 409 `illegal_transition`
  unless it is submitted;
- its near duplicates (409 `possible_duplicate`: the benchmark gives no override reason);
- the approval policy and the approvals so far (403 `approval_policy` for a role its
  threshold does not name, or a second approval by the same caller), the approval row;
- the invoice's UPDATE (status, version), the status history row, the lines;
- the posting's reads as `invoices.postings.post_approval` sends them (the vendor's
  default expense account, the asset lines, the account ids by code), the audit row
  (written before the posting, as the app's flush orders it), then what
  `ledger.posting.post_many` sends: the accounts with the currencies they hold, the
  parties, the closed periods, the entry, any balance rows still missing, the balances
  (the moves CTE, locking them in the app's order), the lines with their place in each
  account's sequence;
- `invoice.approved` as `events.outbox.emit` appends it; the caller then commits.
Texts are imported from the app where it keeps them as plain SQL or `text()` (compiled as
the app's dialect sends them); the ORM's statements are written out as the app sends
them (tests/test_bench_ceiling_approve.py compares the traces). The answer is the app's:
200, the approved invoice with its lines, ETag `"3"`.

What the seeded kind never meets is refused with 409 `outside_the_ceiling` (rolled back)
rather than done differently: a policy asking for segregation of duties, an approval
that is not the last one the policy asks for, purchase order lines, assets bought on the
invoice, stale stored near duplicates (the app would rewrite them in its UPDATE). A race
the database settles (a period closed meanwhile, an overdraft) is not turned into the
app's problem: it fails the request.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from starlette.responses import Response

from bench.ceiling import (
    CALLER_QUERY,
    EVENT_APPEND,
    EVENT_LOCK,
    INSERT_AUDIT,
    INSERT_HISTORY,
    INVOICE_FIELDS,
    LAST_EVENT,
    LINE_FIELDS,
    Caller,
    Connection,
    Refused,
    _sent,
)
from ledgerline.db.base import new_id
from ledgerline.etags import check_if_match, etag
from ledgerline.events import outbox
from ledgerline.events.catalog import INVOICE_EVENTS
from ledgerline.events.channels import invoice_channels
from ledgerline.invoices import approvals, duplicates, postings
from ledgerline.invoices.duplicates import NEAR_DAYS, NEAR_LIMIT
from ledgerline.invoices.models import InvoiceKind, InvoiceStatus
from ledgerline.ledger import chart, posting
from ledgerline.ledger.models import PeriodStatus
from ledgerline.ledger.posting import PostingLine, month_of, next_month
from ledgerline.problems import Problem
from ledgerline.security.permissions import ROLE_PERMISSIONS, Permission, Role
from ledgerline.tenants.models import TenantStatus

# The ORM's statements, as the app sends them (traced through asyncpg).
LOCK_INVOICE = """
SELECT invoices.tenant_id, invoices.id, invoices.vendor_id, invoices.number,
    invoices.issue_date, invoices.due_date, invoices.currency, invoices.source,
    invoices.po_number, invoices.notes, invoices.subtotal, invoices.tax_total,
    invoices.total, invoices.amount_paid, invoices.status, invoices.rejection_reason,
    invoices.kind, invoices.original_invoice_id, invoices.tax_rounding,
    invoices.tax_summary, invoices.number_key, invoices.possible_duplicate_of,
    invoices.submissions, invoices.match_differences, invoices.submitted_at,
    invoices.approved_at, invoices.version, invoices.created_at, invoices.updated_at
FROM invoices
WHERE invoices.id = $1::UUID FOR UPDATE
"""
INSERT_APPROVAL = """
INSERT INTO invoice_approvals (tenant_id, id, invoice_id, submission, step, approver_type,
    approver_id, role, duplicate_override_reason)
VALUES ($1::UUID, $2::UUID, $3::UUID, $4::INTEGER, $5::INTEGER, $6::VARCHAR, $7::UUID,
    $8::VARCHAR, $9::VARCHAR)
"""
# $1 status, $2 the new version, $3 tenant, $4 id, $5 the version read.
UPDATE_INVOICE = """
UPDATE invoices SET status=$1::VARCHAR, version=$2::INTEGER, updated_at=now()
WHERE invoices.tenant_id = $3::UUID AND invoices.id = $4::UUID AND invoices.version = $5::INTEGER
RETURNING invoices.updated_at
"""
LINES_QUERY = """
SELECT invoice_lines.tenant_id, invoice_lines.id, invoice_lines.invoice_id,
    invoice_lines.position, invoice_lines.description, invoice_lines.quantity,
    invoice_lines.unit_price, invoice_lines.tax_rate, invoice_lines.line_subtotal,
    invoice_lines.line_tax, invoice_lines.account_code, invoice_lines.tax_code,
    invoice_lines.purchase_order_line_id
FROM invoice_lines
WHERE invoice_lines.invoice_id = $1::UUID ORDER BY invoice_lines.position
"""
# The app's own texts.
NEAR_DUPLICATES_QUERY = duplicates._NEAR
POLICY_QUERY = approvals._POLICY
APPROVERS_QUERY = approvals._APPROVERS
DEFAULT_EXPENSE_QUERY = postings._DEFAULT_EXPENSE
ASSET_LINES_QUERY = postings._ASSET_LINES
ACCOUNT_IDS_QUERY = postings._ACCOUNT_IDS
ACCOUNTS_QUERY = posting._ACCOUNTS
VENDORS_AMONG_QUERY = posting._VENDORS_AMONG
CLOSED_SINCE_QUERY = posting._CLOSED_SINCE
# $1-$12: tenant, created by type, created by, then one array per column: ids, posted on,
# occurred on, period, source type, source id, kind, memo, reverses.
INSERT_ENTRIES = _sent(posting._INSERT_ENTRIES)
OPEN_BALANCE = _sent(posting._OPEN_BALANCE)  # $1 currency, $2 account
MOVE_BALANCES = _sent(posting._MOVE_BALANCES)  # account ids, currencies, debits, credits, lines
# $1 tenant, then one array per column: ids, entry, account, debit, credit, currency,
# vendor, posted on, place in the account's sequence, balance after.
INSERT_JOURNAL_LINES = _sent(posting._INSERT_LINES)

# The invoice's own fields as the answer takes them from its row (the times and the
# near duplicates are set apart), and its lines' fields.
INVOICE_ANSWER_FIELDS = tuple(
    field
    for field in INVOICE_FIELDS
    if field not in ("created_at", "updated_at", "possible_duplicate_of")
)
LINE_ANSWER_FIELDS = LINE_FIELDS


def problem_response(problem: Problem) -> Response:
    """The app's problem as the ceiling answers problems (status, detail, code, extras)."""
    body = {"status": problem.status, "detail": problem.detail, "code": problem.code}
    return Response(
        json.dumps({**body, **problem.extra}),
        status_code=problem.status,
        media_type="application/problem+json",
    )


def _outside(detail: str) -> Refused:
    return Refused(problem_response(Problem(409, "outside_the_ceiling", detail)))


def _json(value: Any) -> Any:
    """A JSONB column as the driver hands it (text), parsed."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # UUID, Decimal


async def approve_submitted(
    connection: Connection, caller: Caller, invoice_id: UUID, if_match: str | None
) -> Response:
    """The approval's work inside the transaction the caller's BEGIN opened; raises
    `Refused` for an answer that rolls back."""
    try:
        return await _approve(connection, caller, invoice_id, if_match)
    except Problem as problem:
        raise Refused(problem_response(problem)) from None


async def _approve(
    connection: Connection, caller: Caller, invoice_id: UUID, if_match: str | None
) -> Response:
    live = await connection.fetchrow(CALLER_QUERY, caller.user, caller.session, caller.jti)
    if live is None:
        raise Problem(401, "invalid_token", "The access token is no longer valid.")
    if live["status"] != TenantStatus.ACTIVE:
        raise Problem(403, "tenant_read_only", "This tenant cannot change now.")
    role = Role(live["role"])
    if Permission.INVOICES_APPROVE not in ROLE_PERMISSIONS[role]:
        raise Problem(403, "permission_denied", "This needs 'invoices:approve'.")

    invoice = await connection.fetchrow(LOCK_INVOICE, invoice_id)
    if invoice is None:
        raise Problem(404, "invoice_not_found", "No such invoice.")
    check_if_match(if_match, invoice["version"])
    if invoice["status"] != InvoiceStatus.SUBMITTED:
        raise Problem(
            409,
            "illegal_transition",
            f"Cannot approve an invoice that is {invoice['status']}.",
            extra={"current_status": invoice["status"]},
        )
    tenant, vendor_id, total = invoice["tenant_id"], invoice["vendor_id"], invoice["total"]
    currency, issued = invoice["currency"], invoice["issue_date"]
    near = timedelta(days=NEAR_DAYS)
    twins: list[UUID] = list(
        await connection.fetchval(
            NEAR_DUPLICATES_QUERY,
            *(vendor_id, invoice["kind"], currency, total, issued - near, issued + near),
            *(invoice["number_key"], InvoiceStatus.VOID.value, invoice_id, NEAR_LIMIT),
        )
    )
    if twins:
        raise Problem(
            409,
            "possible_duplicate",
            "This vendor has an invoice of the same total issued within 7 days under another"
            " number; approve with a duplicate_override_reason if it is not a duplicate.",
            extra={"possible_duplicate_of": [str(twin) for twin in twins]},
        )
    if list(invoice["possible_duplicate_of"] or []):
        raise _outside("Its stored near duplicates are stale.")

    found_policy = await connection.fetchrow(POLICY_QUERY)
    policy = approvals._policy(None)
    if found_policy is not None:
        policy = approvals.Policy(
            found_policy["segregation_of_duties"],
            found_policy["approver_cannot_pay"],
            _json(found_policy["thresholds"]),
            found_policy["version"],
        )
    if policy.segregation_of_duties:
        raise _outside("The tenant's approval policy asks for segregation of duties.")
    threshold = approvals.threshold_for(policy, total)
    roles = list(threshold.get("roles") or [])
    if roles and role.value not in roles:
        raise approvals.refused(
            "approver_role",
            f"Invoices from {threshold['min_amount']} need approvals by {', '.join(roles)}.",
            roles=roles,
            min_amount=threshold["min_amount"],
        )
    required = int(threshold["approvals"])
    given = await connection.fetch(APPROVERS_QUERY, invoice_id, invoice["submissions"])
    if any(row["approver_id"] == caller.user for row in given):
        raise approvals.refused(
            "distinct_approvers",
            f"You have approved this submission already; it needs {required} approval(s),"
            " each by a different person.",
            approvals_required=required,
        )
    if len(given) + 1 < required:
        raise _outside("This approval is not the last one the policy asks for.")
    await connection.execute(
        INSERT_APPROVAL,
        *(tenant, new_id(), invoice_id, invoice["submissions"], len(given) + 1, "user"),
        *(caller.user, role.value, None),
    )
    version = invoice["version"] + 1
    updated_at = await connection.fetchval(
        UPDATE_INVOICE, InvoiceStatus.APPROVED.value, version, tenant, invoice_id, version - 1
    )
    await connection.fetchrow(
        INSERT_HISTORY,
        *(tenant, new_id(), invoice_id, InvoiceStatus.SUBMITTED.value),
        *(InvoiceStatus.APPROVED.value, None, "user", caller.user),
    )
    lines = await connection.fetch(LINES_QUERY, invoice_id)
    if any(line["purchase_order_line_id"] is not None for line in lines):
        raise _outside("Lines of this invoice name purchase order lines.")

    entry_id = new_id()
    posting_lines = await _approval_lines(connection, invoice, lines)
    changes = {
        "status": {"before": InvoiceStatus.SUBMITTED.value, "after": InvoiceStatus.APPROVED.value},
        "journal_entry_id": str(entry_id),
    }
    await connection.fetchrow(
        INSERT_AUDIT,
        *(tenant, new_id(), "user", caller.user, "invoice.approve", "invoice", invoice_id),
        *(json.dumps(changes), uuid4().hex, caller.ip, (caller.user_agent or "")[:512] or None),
    )
    what = "Credit note" if invoice["kind"] == InvoiceKind.CREDIT_NOTE else "Invoice"
    memo = f"{what} {invoice['number']}"
    await _post(connection, caller, tenant, entry_id, invoice_id, issued, posting_lines, memo)
    await _append_event(connection, invoice, version)

    answer: dict[str, Any] = {
        **{field: _plain(invoice[field]) for field in INVOICE_ANSWER_FIELDS},
        "status": InvoiceStatus.APPROVED.value,
        "tax_summary": _json(invoice["tax_summary"]),
        "possible_duplicate_of": [],
        "match_differences": _json(invoice["match_differences"]),
        "lines": [{field: _plain(line[field]) for field in LINE_ANSWER_FIELDS} for line in lines],
        "created_at": invoice["created_at"].isoformat(),
        "updated_at": updated_at.isoformat(),
    }
    return Response(
        json.dumps(answer), media_type="application/json", headers={"ETag": etag(version)}
    )


async def _approval_lines(
    connection: Connection, invoice: Any, lines: list[Any]
) -> list[PostingLine]:
    """The entry's lines as `invoices.postings.post_approval` makes them, with its reads."""
    vendor = await connection.fetchrow(DEFAULT_EXPENSE_QUERY, invoice["vendor_id"])
    summary = _json(invoice["tax_summary"]) or []
    wanted = {chart.GENERAL_EXPENSES, chart.ACCOUNTS_PAYABLE}
    wanted |= {line["account_code"] for line in lines if line["account_code"]}
    for row in summary:
        wanted.add(str(row["input_account_code"]))
        if row["reverse_charge"]:
            wanted.add(str(row["output_account_code"]))
    if invoice["kind"] == InvoiceKind.INVOICE:
        bought = await connection.fetch(ASSET_LINES_QUERY, invoice["id"], chart.FIXED_ASSETS)
        if any(row["purchase_invoice_line"] is not None for row in bought):
            raise _outside("Assets were bought on lines of this invoice.")
    found = await connection.fetch(ACCOUNT_IDS_QUERY, list(wanted))
    accounts: dict[str, UUID] = {row["code"]: row["id"] for row in found}
    postings._refuse_unknown(wanted, set(accounts))
    default_expense = (vendor["default_expense_account_id"] if vendor else None) or accounts[
        chart.GENERAL_EXPENSES
    ]
    debits: dict[UUID, Decimal] = defaultdict(Decimal)
    credits: dict[UUID, Decimal] = defaultdict(Decimal)
    for line in lines:
        account = accounts[line["account_code"]] if line["account_code"] else default_expense
        debits[account] += line["line_subtotal"]
    for row in summary:
        tax, recoverable = Decimal(str(row["tax_amount"])), Decimal(str(row["recoverable_amount"]))
        debits[accounts[str(row["input_account_code"])]] += recoverable
        debits[default_expense] += tax - recoverable
        if row["reverse_charge"]:
            credits[accounts[str(row["output_account_code"])]] += tax
    credits[accounts[chart.ACCOUNTS_PAYABLE]] += invoice["total"]
    if invoice["kind"] == InvoiceKind.CREDIT_NOTE:
        debits, credits = credits, debits
    currency, party = invoice["currency"], invoice["vendor_id"]
    return [
        PostingLine.dr(account, amount, currency, party)
        for account, amount in debits.items()
        if amount
    ] + [
        PostingLine.cr(account, amount, currency, party)
        for account, amount in credits.items()
        if amount
    ]


async def _post(
    connection: Connection,
    caller: Caller,
    tenant: UUID,
    entry_id: UUID,
    invoice_id: UUID,
    occurred_on: date,
    lines: list[PostingLine],
    memo: str,
) -> None:
    """One entry as `ledger.posting.post_many` posts it, statement by statement."""
    posting._check_lines(lines)
    found = await connection.fetch(ACCOUNTS_QUERY, list({line.account_id for line in lines}))
    accounts = {
        row["id"]: posting._Account(row["id"], row["code"], row["currency"], row["active"])
        for row in found
    }
    held = {(row["id"], currency) for row in found for currency in row["held"]}
    for line in lines:
        account = accounts.get(line.account_id)
        if account is None:
            raise Problem(422, "account_not_found", "An entry names an account it does not have.")
        if account.currency is not None and account.currency != line.currency:
            raise Problem(
                422,
                "account_currency_mismatch",
                f"Account {account.code} holds {account.currency} only, not {line.currency}.",
                extra={"account_code": account.code},
            )
    posting._check_active(accounts)
    parties = list({line.vendor_id for line in lines if line.vendor_id is not None})
    if parties:
        known = {row["id"] for row in await connection.fetch(VENDORS_AMONG_QUERY, parties)}
        if set(parties) - known:
            raise Problem(422, "vendor_not_found", "An entry names a vendor it does not have.")
    closed = {
        row["period"]
        for row in await connection.fetch(
            CLOSED_SINCE_QUERY, PeriodStatus.CLOSED.value, month_of(occurred_on)
        )
    }
    posted_on = occurred_on
    if month_of(occurred_on) in closed:
        posted_on = month_of(occurred_on)
        while posted_on in closed:
            posted_on = next_month(posted_on)
    await connection.execute(
        INSERT_ENTRIES,
        *(tenant, "user", caller.user, [entry_id], [posted_on], [occurred_on]),
        *([month_of(posted_on)], ["invoice"], [invoice_id], ["approval"], [memo], [None]),
    )
    # Each (account, currency) once, in the app's order; the rows still missing opened
    # before any is locked.
    by_balance: dict[tuple[UUID, str], list[PostingLine]] = defaultdict(list)
    for line in lines:
        by_balance[(line.account_id, line.currency)].append(line)
    ordered = sorted(by_balance.items(), key=lambda item: item[0])
    for (account_id, currency), _ in ordered:
        if (account_id, currency) not in held:
            await connection.execute(OPEN_BALANCE, currency, account_id)
    zero = posting.ZERO
    moved = await connection.fetch(
        MOVE_BALANCES,
        [account_id for (account_id, _), _ in ordered],
        [currency for (_, currency), _ in ordered],
        [sum((line.debit for line in group), zero) for _, group in ordered],
        [sum((line.credit for line in group), zero) for _, group in ordered],
        [len(group) for _, group in ordered],
    )
    after = {(row["account_id"], row["currency"]): row for row in moved}
    columns: list[list[Any]] = [[] for _ in range(10)]
    for key, group in ordered:
        balance = after[key]["balance"] - sum((line.debit - line.credit for line in group), zero)
        seq = after[key]["line_count"] - len(group)
        for line in group:
            balance += line.debit - line.credit
            seq += 1
            values: tuple[Any, ...] = (new_id(), entry_id, key[0], line.debit, line.credit)
            values += (key[1], line.vendor_id, posted_on, seq, balance)
            for column, value in zip(columns, values, strict=True):
                column.append(value)
    await connection.execute(INSERT_JOURNAL_LINES, tenant, *columns)


async def _append_event(connection: Connection, invoice: Any, version: int) -> None:
    """`invoice.approved` as `events.outbox.emit` appends it (see bench.ceiling)."""
    tenant, invoice_id = invoice["tenant_id"], invoice["id"]
    await connection.execute(EVENT_LOCK, str(tenant))
    data = {
        "number": invoice["number"],
        "status": InvoiceStatus.APPROVED.value,
        "currency": invoice["currency"],
        "total": str(invoice["total"]),
        "amount_paid": str(invoice["amount_paid"]),
        "version": version,
    }
    row = (
        INVOICE_EVENTS["approve"],
        invoice_channels(invoice_id),
        Permission.INVOICES_READ.value,
        None,
        "invoice",
        invoice_id,
        json.dumps(data),
    )
    event_id, doorbell = new_id(), outbox.DOORBELL_CHANNEL
    if await connection.fetchrow(EVENT_APPEND, tenant, event_id, *row, True, doorbell) is None:
        event_id = outbox._after(await connection.fetchval(LAST_EVENT, tenant))
        await connection.fetchrow(EVENT_APPEND, tenant, event_id, *row, False, doorbell)
