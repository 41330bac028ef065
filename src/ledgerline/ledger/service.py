"""Ledger rules: the chart of accounts, manual entries and their reversals, transfers
between asset accounts, and closing and reopening months.

Everything that posts goes through `posting.post`. Each endpoint makes one call here
that does its whole step and records it in the audit trail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext, diff
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.events.catalog import transfer_posted
from ledgerline.ledger.models import (
    Account,
    AccountType,
    Balance,
    JournalEntry,
    JournalLine,
    Period,
    PeriodStatus,
    Transfer,
)
from ledgerline.ledger.posting import PostingLine, entry_lines, month_of, post, reverse
from ledgerline.pagination import PageRequest, SortKey, keyset_page
from ledgerline.problems import Problem

MANUAL = "manual"
TRANSFER = "transfer"
REVERSAL = "reversal"
# Entries reversed through the ledger's own endpoint; the others are reversed by their
# business event (an invoice's void, a payment's reversal) so that both stay in step.
REVERSIBLE_HERE = frozenset({MANUAL, TRANSFER})
BY_CODE = SortKey("code", Account.code)


@dataclass(frozen=True, slots=True)
class AccountWithBalances:
    account: Account
    balances: list[Balance]


@dataclass(frozen=True, slots=True)
class EntryWithLines:
    entry: JournalEntry
    lines: list[JournalLine]


def today() -> date:
    return datetime.now(UTC).date()


# --- accounts ----------------------------------------------------------------------------


async def _with_balances(session: AsyncSession, account: Account) -> AccountWithBalances:
    balances = await session.scalars(
        select(Balance).where(Balance.account_id == account.id).order_by(Balance.currency)
    )
    return AccountWithBalances(account, list(balances))


async def create_account(
    session: AsyncSession, audit: AuditContext, **fields: Any
) -> AccountWithBalances:
    """A new account; its code is unique in the tenant (409) and never changes."""
    if fields.get("overdraft_limit") is not None and fields["type"] != AccountType.ASSET:
        raise Problem(422, "overdraft_limit_not_asset", "Only asset accounts have a limit.")
    taken = await session.scalar(select(Account.id).where(Account.code == fields["code"]))
    if taken is not None:
        raise _code_taken(taken)
    account = Account(tenant_id=audit.tenant_id, id=new_id(), active=True, **fields)
    session.add(account)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:  # a concurrent request took the code
        raise _code_taken(None) from error
    audit.record(
        session,
        "ledger.account_created",
        target_type="ledger_account",
        target_id=account.id,
        changes={key: str(value) if value is not None else None for key, value in fields.items()},
    )
    return AccountWithBalances(account, [])


def _code_taken(holder: UUID | None) -> Problem:
    return Problem(
        409,
        "account_code_taken",
        "Another account has this code.",
        extra={"existing_account_id": str(holder) if holder else None},
    )


async def list_accounts(
    session: AsyncSession, page: PageRequest, *, type: AccountType | None, active: bool | None
) -> tuple[Sequence[Account], str | None]:
    """A page of the chart, by code."""
    statement = select(Account)
    if type is not None:
        statement = statement.where(Account.type == type)
    if active is not None:
        statement = statement.where(Account.active == active)
    return await keyset_page(session, statement, Account.id, page, BY_CODE)


async def read_account(session: AsyncSession, account_id: UUID) -> AccountWithBalances:
    account = await row_by_id(session, Account, account_id, what="account")
    return await _with_balances(session, account)


async def update_account(
    session: AsyncSession,
    audit: AuditContext,
    account_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> AccountWithBalances:
    """Rename or (de)activate at the version read. A deactivated account takes no new
    postings; its lines and balance stay."""
    account = await locked_at_version(session, Account, account_id, if_match, what="account")
    before = {key: getattr(account, key) for key in changes}
    for key, value in changes.items():
        setattr(account, key, value)
    await session.flush()
    audit.record(
        session,
        "ledger.account_updated",
        target_type="ledger_account",
        target_id=account.id,
        changes=diff(before, changes),
    )
    return await _with_balances(session, account)


# --- entries -----------------------------------------------------------------------------


async def _with_lines(session: AsyncSession, entry: JournalEntry) -> EntryWithLines:
    return EntryWithLines(entry, await entry_lines(session, entry.id))


async def read_entry(session: AsyncSession, entry_id: UUID) -> EntryWithLines:
    entry = await row_by_id(session, JournalEntry, entry_id, what="entry")
    return await _with_lines(session, entry)


async def list_entries(
    session: AsyncSession,
    page: PageRequest,
    *,
    source_type: str | None,
    source_id: UUID | None,
    posted_from: date | None,
    posted_to: date | None,
) -> tuple[Sequence[JournalEntry], str | None]:
    """A page of the journal, newest first."""
    statement = select(JournalEntry)
    if source_type is not None:
        statement = statement.where(JournalEntry.source_type == source_type)
    if source_id is not None:
        statement = statement.where(JournalEntry.source_id == source_id)
    if posted_from is not None:
        statement = statement.where(JournalEntry.posted_on >= posted_from)
    if posted_to is not None:
        statement = statement.where(JournalEntry.posted_on <= posted_to)
    return await keyset_page(session, statement, JournalEntry.id, page)


async def post_manual_entry(
    session: AsyncSession,
    audit: AuditContext,
    *,
    on: date,
    memo: str | None,
    lines: Sequence[PostingLine],
) -> EntryWithLines:
    """A journal entry typed in: balanced per currency (422 otherwise)."""
    entry_id = new_id()
    entry = await post(
        session,
        audit,
        source_type=MANUAL,
        source_id=entry_id,
        kind=MANUAL,
        occurred_on=on,
        lines=lines,
        memo=memo,
        entry_id=entry_id,
    )
    audit.record(
        session,
        "ledger.entry_posted",
        target_type="journal_entry",
        target_id=entry.id,
        changes={"posted_on": str(entry.posted_on), "lines": len(lines)},
    )
    return await _with_lines(session, entry)


async def reverse_entry(
    session: AsyncSession, audit: AuditContext, entry_id: UUID, *, memo: str | None = None
) -> EntryWithLines:
    """The mirror of a manual entry or a transfer, dated today; once per entry."""
    # Not locked (entries are never updated): of two concurrent reversals, the unique
    # `reverses` lets one commit and turns the other into 409.
    original = await row_by_id(session, JournalEntry, entry_id, what="entry")
    if original.source_type not in REVERSIBLE_HERE:
        raise Problem(
            409,
            "reverse_through_source",
            f"A {original.source_type} entry is reversed through its {original.source_type}.",
            extra={"source_type": original.source_type, "source_id": str(original.source_id)},
        )
    reversal = await reverse(
        session,
        audit,
        original,
        source_type=original.source_type,
        source_id=original.source_id,
        kind=REVERSAL,
        occurred_on=today(),
        memo=memo or f"Reversal of {original.memo or original.kind}",
    )
    audit.record(
        session,
        "ledger.entry_reversed",
        target_type="journal_entry",
        target_id=original.id,
        changes={"reversal_entry_id": str(reversal.id)},
    )
    return await _with_lines(session, reversal)


# --- transfers ---------------------------------------------------------------------------


async def _asset_account(session: AsyncSession, account_id: UUID, side: str) -> Account:
    account = await session.scalar(select(Account).where(Account.id == account_id))
    if account is None:
        raise Problem(
            422,
            "account_not_found",
            f"The {side} account is not one of this tenant's.",
            extra={"account_id": str(account_id)},
        )
    if account.type != AccountType.ASSET:
        raise Problem(
            422,
            "transfer_account_not_asset",
            f"A transfer moves money between asset accounts; {account.code} is not one.",
        )
    return account


async def transfer(
    session: AsyncSession,
    audit: AuditContext,
    *,
    from_account_id: UUID,
    to_account_id: UUID,
    amount: Decimal,
    currency: str,
    on: date,
    memo: str | None,
) -> Transfer:
    """Move `amount` between two asset accounts in one balanced entry. Past the source's
    overdraft limit: 409 `insufficient_funds` and nothing is posted (the database's check
    on the cached balance decides, so concurrent transfers cannot overdraw it)."""
    if from_account_id == to_account_id:
        raise Problem(422, "same_account", "A transfer needs two different accounts.")
    source = await _asset_account(session, from_account_id, "from")
    target = await _asset_account(session, to_account_id, "to")
    transfer_id = new_id()
    entry = await post(
        session,
        audit,
        source_type=TRANSFER,
        source_id=transfer_id,
        kind=TRANSFER,
        occurred_on=on,
        lines=[
            PostingLine.dr(target.id, amount, currency),
            PostingLine.cr(source.id, amount, currency),
        ],
        memo=memo or f"Transfer {source.code} to {target.code}",
    )
    moved = Transfer(
        tenant_id=audit.tenant_id,
        id=transfer_id,
        from_account_id=source.id,
        to_account_id=target.id,
        amount=amount,
        currency=currency,
        transfer_on=on,
        memo=memo,
        entry_id=entry.id,
        created_by=audit.actor.id,
    )
    session.add(moved)
    await session.flush()
    audit.record(
        session,
        "ledger.transfer_posted",
        target_type="transfer",
        target_id=moved.id,
        changes={
            "from": source.code,
            "to": target.code,
            "amount": str(amount),
            "currency": currency,
            "journal_entry_id": str(entry.id),
        },
    )
    await transfer_posted(session, moved)
    return moved


async def read_transfer(session: AsyncSession, transfer_id: UUID) -> Transfer:
    return await row_by_id(session, Transfer, transfer_id, what="transfer")


async def list_transfers(
    session: AsyncSession, page: PageRequest, *, account_id: UUID | None
) -> tuple[Sequence[Transfer], str | None]:
    statement = select(Transfer)
    if account_id is not None:
        statement = statement.where(
            (Transfer.from_account_id == account_id) | (Transfer.to_account_id == account_id)
        )
    return await keyset_page(session, statement, Transfer.id, page)


# --- periods -----------------------------------------------------------------------------

# Closing and reopening take one lock per tenant: "the latest closed month" stays true
# between reading it and changing it.
_PERIODS_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('ledger_periods'), hashtext(:tenant))")


async def list_periods(session: AsyncSession) -> list[Period]:
    """Every month that was posted to or closed, newest first."""
    return list(await session.scalars(select(Period).order_by(Period.period.desc())))


async def _locked_period(session: AsyncSession, tenant_id: UUID, month: date) -> Period:
    await session.execute(_PERIODS_LOCK, {"tenant": str(tenant_id)})
    await session.execute(
        insert(Period)
        .values(tenant_id=tenant_id, period=month, status=PeriodStatus.OPEN)
        .on_conflict_do_nothing()
    )
    period = await session.scalar(select(Period).where(Period.period == month).with_for_update())
    assert period is not None
    return period


async def close_period(session: AsyncSession, audit: AuditContext, month: date) -> Period:
    """Close a month: nothing posts into it afterwards (the database refuses); events
    dated in it post on the first day of the first open month after it. Postings in
    flight finish first (they hold a share lock on the month's row)."""
    period = await _locked_period(session, audit.tenant_id, month_of(month))
    if period.status == PeriodStatus.CLOSED:
        raise Problem(409, "period_closed", "This month is closed already.")
    return await _set_status(session, audit, period, PeriodStatus.CLOSED)


async def reopen_period(session: AsyncSession, audit: AuditContext, month: date) -> Period:
    """Reopen the latest closed month (and only that one)."""
    period = await _locked_period(session, audit.tenant_id, month_of(month))
    latest = await session.scalar(
        select(func.max(Period.period)).where(Period.status == PeriodStatus.CLOSED)
    )
    if period.status != PeriodStatus.CLOSED:
        raise Problem(409, "period_open", "This month is open.")
    if latest != period.period:
        raise Problem(
            409,
            "not_latest_closed_period",
            "Only the latest closed month can be reopened.",
            extra={"latest_closed": latest.strftime("%Y-%m") if latest else None},
        )
    return await _set_status(session, audit, period, PeriodStatus.OPEN)


async def _set_status(
    session: AsyncSession, audit: AuditContext, period: Period, status: PeriodStatus
) -> Period:
    period.status = status
    period.changed_by = audit.actor.id
    period.changed_at = datetime.now(UTC)
    await session.flush()
    audit.record(
        session,
        f"ledger.period_{'closed' if status == PeriodStatus.CLOSED else 'reopened'}",
        target_type="ledger_period",
        changes={"period": period.period.strftime("%Y-%m")},
    )
    return period
