"""Ledger endpoints: the chart of accounts, the journal, periods, transfers and reports.

Each endpoint makes one `service` (or `reports`) call and translates the answer to HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse

from ledgerline import csvfiles
from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.ledger import reports, service
from ledgerline.ledger.models import AccountType, Period
from ledgerline.ledger.posting import PostingLine
from ledgerline.ledger.schemas import (
    MONTH_PATTERN,
    AccountCreate,
    AccountLineOut,
    AccountLinesPage,
    AccountOut,
    AccountUpdate,
    BalanceOut,
    EntryCreate,
    EntryLineOut,
    EntryOut,
    PayablesOut,
    PeriodOut,
    TransferCreate,
    TransferOut,
    TrialBalanceOut,
    month_text,
)
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.security.permissions import Permission
from ledgerline.values import Currency, Day

router = APIRouter(tags=["ledger"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.LEDGER_READ)]
Post = Annotated[TenantRequest, tenant_request(Permission.LEDGER_POST, idempotent=True)]
Manage = Annotated[TenantRequest, tenant_request(Permission.LEDGER_POST)]
Periods = Annotated[TenantRequest, tenant_request(Permission.PERIODS_MANAGE)]
Paging = Annotated[PageRequest, Depends(page_request)]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, examples=["2026-03"])]


def _account_out(found: service.AccountWithBalances, response: Response | None) -> AccountOut:
    if response is not None:
        set_etag(response, found.account.version)
    out = AccountOut.model_validate(found.account)
    return out.model_copy(
        update={"balances": [BalanceOut.model_validate(b) for b in found.balances]}
    )


def _entry_out(found: service.EntryWithLines) -> EntryOut:
    entry = found.entry
    return EntryOut(
        id=entry.id,
        posted_on=entry.posted_on,
        occurred_on=entry.occurred_on,
        period=month_text(entry.period),
        source_type=entry.source_type,
        source_id=entry.source_id,
        kind=entry.kind,
        memo=entry.memo,
        created_by_type=entry.created_by_type,
        created_by=entry.created_by,
        reverses=entry.reverses,
        created_at=entry.created_at,
        lines=[EntryLineOut.model_validate(line) for line in found.lines],
    )


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(
        period=month_text(period.period),
        status=period.status,
        changed_by=period.changed_by,
        changed_at=period.changed_at,
    )


def _month(text: str) -> date:
    return date.fromisoformat(f"{text}-01")


# --- accounts ----------------------------------------------------------------------------


@router.post("/ledger/accounts", operation_id="create_ledger_account", status_code=201)
async def create_account(body: AccountCreate, context: Post, response: Response) -> AccountOut:
    """A new account; its code is unique in the tenant and never changes."""
    created = await service.create_account(
        context.session, context.audit_context, **body.model_dump()
    )
    return _account_out(created, response)


@router.get("/ledger/accounts", operation_id="list_ledger_accounts")
async def list_accounts(
    context: Read,
    page: Paging,
    type: AccountType | None = None,
    active: bool | None = None,
) -> Page[AccountOut]:
    """The chart of accounts, by code."""
    rows, cursor = await service.list_accounts(context.session, page, type=type, active=active)
    return Page(items=[AccountOut.model_validate(a) for a in rows], next_cursor=cursor)


@router.get("/ledger/accounts/{account_id}", operation_id="get_ledger_account")
async def get_account(account_id: UUID, context: Read, response: Response) -> AccountOut:
    """The account with its cached balance in each currency it holds."""
    return _account_out(await service.read_account(context.session, account_id), response)


@router.patch("/ledger/accounts/{account_id}", operation_id="update_ledger_account")
async def update_account(
    account_id: UUID,
    body: AccountUpdate,
    context: Manage,
    response: Response,
    if_match: IfMatch = None,
) -> AccountOut:
    """Rename or deactivate (takes If-Match). Code, type, currency and limit never change."""
    updated = await service.update_account(
        context.session,
        context.audit_context,
        account_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return _account_out(updated, response)


@router.get("/ledger/accounts/{account_id}/lines", operation_id="list_ledger_account_lines")
async def account_lines(
    account_id: UUID, context: Read, page: Paging, currency: Currency | None = None
) -> AccountLinesPage:
    """The account's lines in one currency as they were posted, each with the balance
    after it; keyset pages, as fast deep down as at the top."""
    chosen, lines, cursor = await reports.account_lines(context.session, account_id, page, currency)
    items = [
        AccountLineOut(
            id=found.line.id,
            entry_id=found.line.entry_id,
            seq=found.line.account_seq,
            posted_on=found.line.posted_on,
            debit=found.line.debit,
            credit=found.line.credit,
            currency=found.line.currency,
            balance=found.line.balance_after,
            vendor_id=found.line.vendor_id,
            memo=found.entry.memo,
            source_type=found.entry.source_type,
            kind=found.entry.kind,
        )
        for found in lines
    ]
    return AccountLinesPage(currency=chosen, items=items, next_cursor=cursor)


# --- journal -----------------------------------------------------------------------------


@router.post("/ledger/entries", operation_id="create_ledger_entry", status_code=201)
async def create_entry(body: EntryCreate, context: Post) -> EntryOut:
    """A manual journal entry: its lines balance per currency (422 otherwise)."""
    lines = [
        PostingLine(line.account_id, line.debit, line.credit, line.currency, line.vendor_id)
        for line in body.lines
    ]
    posted = await service.post_manual_entry(
        context.session, context.audit_context, on=body.on, memo=body.memo, lines=lines
    )
    return _entry_out(posted)


@router.get("/ledger/entries", operation_id="list_ledger_entries")
async def list_entries(
    context: Read,
    page: Paging,
    source_type: Annotated[str | None, Query(max_length=32)] = None,
    source_id: UUID | None = None,
    posted_from: Day | None = None,
    posted_to: Day | None = None,
) -> Page[EntryOut]:
    """The journal, newest first (without lines; read an entry for them)."""
    rows, cursor = await service.list_entries(
        context.session,
        page,
        source_type=source_type,
        source_id=source_id,
        posted_from=posted_from,
        posted_to=posted_to,
    )
    return Page(
        items=[_entry_out(service.EntryWithLines(entry, [])) for entry in rows], next_cursor=cursor
    )


@router.get("/ledger/entries/{entry_id}", operation_id="get_ledger_entry")
async def get_entry(entry_id: UUID, context: Read) -> EntryOut:
    return _entry_out(await service.read_entry(context.session, entry_id))


@router.post(
    "/ledger/entries/{entry_id}/reverse", operation_id="reverse_ledger_entry", status_code=201
)
async def reverse_entry(entry_id: UUID, context: Post) -> EntryOut:
    """The reversal of a manual entry or a transfer, dated today; once per entry. Invoice
    and payment entries are reversed by voiding the invoice or reversing the payment."""
    return _entry_out(await service.reverse_entry(context.session, context.audit_context, entry_id))


# --- periods -----------------------------------------------------------------------------


@router.get("/ledger/periods", operation_id="list_ledger_periods")
async def list_periods(context: Read) -> list[PeriodOut]:
    """Every month posted to or closed, newest first; a month not listed is open."""
    return [_period_out(period) for period in await service.list_periods(context.session)]


@router.post("/ledger/periods/{period}/close", operation_id="close_ledger_period")
async def close_period(period: MonthPath, context: Periods) -> PeriodOut:
    """Nothing posts into a closed month; events dated in it post on the first day of the
    first open month after it."""
    closed = await service.close_period(context.session, context.audit_context, _month(period))
    return _period_out(closed)


@router.post("/ledger/periods/{period}/reopen", operation_id="reopen_ledger_period")
async def reopen_period(period: MonthPath, context: Periods) -> PeriodOut:
    """Only the latest closed month can be reopened."""
    reopened = await service.reopen_period(context.session, context.audit_context, _month(period))
    return _period_out(reopened)


# --- transfers ---------------------------------------------------------------------------


@router.post("/transfers", operation_id="create_transfer", status_code=201)
async def create_transfer(body: TransferCreate, context: Post) -> TransferOut:
    """Move money between two asset accounts; past the source's overdraft limit 409
    `insufficient_funds` and nothing is posted."""
    moved = await service.transfer(context.session, context.audit_context, **body.model_dump())
    return TransferOut.model_validate(moved)


@router.get("/transfers", operation_id="list_transfers")
async def list_transfers(
    context: Read, page: Paging, account_id: UUID | None = None
) -> Page[TransferOut]:
    rows, cursor = await service.list_transfers(context.session, page, account_id=account_id)
    return Page(items=[TransferOut.model_validate(t) for t in rows], next_cursor=cursor)


@router.get("/transfers/{transfer_id}", operation_id="get_transfer")
async def get_transfer(transfer_id: UUID, context: Read) -> TransferOut:
    return TransferOut.model_validate(await service.read_transfer(context.session, transfer_id))


# --- reports -----------------------------------------------------------------------------


@router.get("/ledger/trial-balance", operation_id="trial_balance")
async def trial_balance(context: Read, as_of: Day | None = None) -> TrialBalanceOut:
    """Per account and currency: debits, credits and balance as of the day (now, when no
    day is given); per currency the debits equal the credits."""
    found = await reports.trial_balance(context.session, as_of)
    return TrialBalanceOut.model_validate(
        {"as_of": found.as_of, "accounts": found.accounts, "totals": found.totals}
    )


TRIAL_BALANCE_COLUMNS = ("code", "name", "type", "currency", "debit", "credit", "balance")


@router.get(
    "/ledger/trial-balance.csv",
    operation_id="trial_balance_csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def trial_balance_csv(context: Read, as_of: Day | None = None) -> StreamingResponse:
    """The trial balance as CSV, streamed: one row per account and currency."""
    found = await reports.trial_balance(context.session, as_of)

    async def rows() -> AsyncIterator[str]:
        yield csvfiles.csv_chunk([TRIAL_BALANCE_COLUMNS])
        for account in found.accounts:
            yield csvfiles.csv_chunk([[account[column] for column in TRIAL_BALANCE_COLUMNS]])

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="trial-balance.csv"'},
    )


@router.get("/ledger/payables", operation_id="payables")
async def payables(context: Read, as_of: Day | None = None) -> PayablesOut:
    """What is owed to each vendor (account 2000) as of the day: the open amounts of the
    invoices approved by then, less what was paid on them by then."""
    return PayablesOut.model_validate(await reports.payables(context.session, as_of))
