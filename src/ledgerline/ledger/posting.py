"""The one way into the journal: `post` writes a balanced entry, its lines and the
cached balances they move, in the caller's transaction; `reverse` posts the mirror of
an entry through it.

The database refuses what must never happen (migration 0012): an unbalanced entry at
commit, a posting into a closed period, a second posting of one business event, a
second reversal of one entry, a balance past an account's overdraft limit. `post`
checks the same first where it can, to answer with a clear problem; when a concurrent
transaction wins a race, the database's refusal becomes the same problem here.

An entry's balance rows are locked in a fixed order (by account id, then currency) and
moved by one statement, so two postings that touch the same accounts queue on their rows
instead of deadlocking, and a busy account's row is held for as few round trips as can
be (from that statement to the commit). Each line records its place in its account's
sequence and the balance after it, read back from that update.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db import driver
from ledgerline.db.base import new_id
from ledgerline.ledger.models import (
    JournalEntry,
    JournalLine,
    PeriodStatus,
)
from ledgerline.problems import Problem

ZERO = Decimal("0.00")

# What the migration's triggers raise.
_PERIOD_CLOSED = "LL001"
_ACCOUNT_CURRENCY = "LL002"
_UNBALANCED = "LL003"


@dataclass(frozen=True, slots=True)
class PostingLine:
    """One side of an entry: a debit or a credit (the other is zero) of an account."""

    account_id: UUID
    debit: Decimal
    credit: Decimal
    currency: str
    vendor_id: UUID | None = None

    @classmethod
    def dr(
        cls, account_id: UUID, amount: Decimal, currency: str, vendor_id: UUID | None = None
    ) -> PostingLine:
        return cls(account_id, amount, ZERO, currency, vendor_id)

    @classmethod
    def cr(
        cls, account_id: UUID, amount: Decimal, currency: str, vendor_id: UUID | None = None
    ) -> PostingLine:
        return cls(account_id, ZERO, amount, currency, vendor_id)


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def unbalanced_currencies(lines: Iterable[PostingLine]) -> dict[str, dict[str, str]]:
    """Per currency whose debits and credits differ: both sums."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in lines:
        sums[line.currency][0] += line.debit
        sums[line.currency][1] += line.credit
    return {
        currency: {"debit": str(debit), "credit": str(credit)}
        for currency, (debit, credit) in sums.items()
        if debit != credit
    }


def _check_lines(lines: Sequence[PostingLine]) -> None:
    if len(lines) < 2:
        raise Problem(422, "entry_too_short", "An entry needs at least two lines.")
    for line in lines:
        if line.debit < 0 or line.credit < 0 or (line.debit == 0) == (line.credit == 0):
            raise Problem(
                422,
                "invalid_entry_line",
                "Each line is a debit or a credit of more than 0.00, not both.",
            )
    unbalanced = unbalanced_currencies(lines)
    if unbalanced:
        raise Problem(
            422,
            "unbalanced_entry",
            "Debits and credits differ in " + ", ".join(sorted(unbalanced)) + ".",
            extra={"unbalanced": unbalanced},
        )


# Sent with asyncpg itself (db/driver.py): every posting asks them, after `post_many` has
# flushed the session (so they see what the caller's transaction wrote before posting).
_ACCOUNTS = """
SELECT a.id, a.code, a.currency, a.active,
       ARRAY(SELECT b.currency FROM ledger_balances b WHERE b.account_id = a.id) AS held
FROM ledger_accounts a
WHERE a.id = ANY($1::uuid[])
"""
_CLOSED_SINCE = "SELECT period FROM ledger_periods WHERE status = $1 AND period >= $2"
_VENDORS_AMONG = "SELECT id FROM vendors WHERE id = ANY($1::uuid[])"


async def posting_day(session: AsyncSession, occurred_on: date) -> date:
    """The day a business event dated `occurred_on` posts on: that day, or the first day
    of the first open month after it when its month is closed."""
    connection = await driver.driver_connection(session)
    closed = {
        row["period"]
        for row in await connection.fetch(
            _CLOSED_SINCE, PeriodStatus.CLOSED.value, month_of(occurred_on)
        )
    }
    if month_of(occurred_on) not in closed:
        return occurred_on
    month = month_of(occurred_on)
    while month in closed:
        month = next_month(month)
    return month


@dataclass(frozen=True, slots=True)
class _Account:
    """What a posting checks of an account it moves."""

    id: UUID
    code: str
    currency: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class _Accounts:
    by_id: dict[UUID, _Account]
    held: set[tuple[UUID, str]]  # (account, currency) with a balance row


async def _accounts(session: AsyncSession, lines: Sequence[PostingLine]) -> _Accounts:
    """The accounts the lines move, with the currencies each already holds a balance row
    in: the rows an entry still needs are opened before any row is locked
    (`_open_missing_balances`)."""
    found: dict[UUID, _Account] = {}
    held: set[tuple[UUID, str]] = set()
    connection = await driver.driver_connection(session)
    for row in await connection.fetch(_ACCOUNTS, list({line.account_id for line in lines})):
        found[row["id"]] = _Account(row["id"], row["code"], row["currency"], row["active"])
        held.update((row["id"], currency) for currency in row["held"])
    for line in lines:
        account = found.get(line.account_id)
        if account is None:
            raise Problem(
                422,
                "account_not_found",
                "An entry names an account this tenant does not have.",
                extra={"account_id": str(line.account_id)},
            )
        if account.currency is not None and account.currency != line.currency:
            raise Problem(
                422,
                "account_currency_mismatch",
                f"Account {account.code} holds {account.currency} only, not {line.currency}.",
                extra={"account_code": account.code},
            )
    return _Accounts(found, held)


async def _check_parties(session: AsyncSession, lines: Sequence[PostingLine]) -> None:
    wanted = {line.vendor_id for line in lines if line.vendor_id is not None}
    if not wanted:
        return
    connection = await driver.driver_connection(session)
    found = {row["id"] for row in await connection.fetch(_VENDORS_AMONG, list(wanted))}
    if wanted - found:
        raise Problem(
            422,
            "vendor_not_found",
            "An entry names a vendor this tenant does not have.",
            extra={"vendor_ids": sorted(str(vendor) for vendor in wanted - found)},
        )


def _check_active(accounts: dict[UUID, _Account]) -> None:
    for account in accounts.values():
        if not account.active:
            raise Problem(
                409,
                "account_inactive",
                f"Account {account.code} is deactivated; nothing new posts to it.",
                extra={"account_code": account.code},
            )


# Every balance an entry moves, in one round trip: the rows are locked first in the fixed
# order (the CTE's ORDER BY ... FOR UPDATE), then moved; every row exists by then
# (`_open_missing_balances`). One statement instead of one per row matters because the
# rows of busy accounts (accounts payable, the bank) are held from here to the commit, and
# every other posting to them waits that long.
_MOVE_BALANCES = text(
    """
    WITH moves AS (
        SELECT * FROM unnest(CAST(:account_ids AS uuid[]), CAST(:currencies AS varchar[]),
                             CAST(:debits AS numeric[]), CAST(:credits AS numeric[]),
                             CAST(:lines AS integer[]))
            AS m(account_id, currency, debit, credit, lines)
    ), locked AS (
        SELECT b.account_id, b.currency FROM ledger_balances b
        JOIN moves m ON m.account_id = b.account_id AND m.currency = b.currency
        ORDER BY b.account_id, b.currency
        FOR UPDATE OF b
    )
    UPDATE ledger_balances b SET
        debit_total = b.debit_total + m.debit,
        credit_total = b.credit_total + m.credit,
        balance = b.balance + m.debit - m.credit,
        line_count = b.line_count + m.lines
    FROM moves m, locked l
    WHERE b.account_id = m.account_id AND b.currency = m.currency
      AND l.account_id = m.account_id AND l.currency = m.currency
    RETURNING b.account_id, b.currency, b.balance, b.line_count
    """
)
# A zero balance in a currency the account has not held yet, carrying the account's limit.
# (Not one upsert: PostgreSQL checks an upsert's proposed row before it finds the
# conflict, so a first credit would meet the limit before the update could apply.)
_OPEN_BALANCE = text(
    """
    INSERT INTO ledger_balances (tenant_id, account_id, currency, debit_total, credit_total,
        balance, line_count, overdraft_limit)
    SELECT tenant_id, id, CAST(:currency AS varchar), 0, 0, 0, 0, overdraft_limit
    FROM ledger_accounts WHERE id = :account_id
    ON CONFLICT DO NOTHING
    """
)


async def _open_missing_balances(
    session: AsyncSession, changes: Sequence[dict[str, Any]], held: set[tuple[UUID, str]]
) -> None:
    """Create the balance rows an entry needs that do not exist yet, before any is locked:
    the locking statement then finds them all, and every posting locks its rows in the
    same order (a row opened after others were locked would break it, and deadlock)."""
    for change in changes:
        if (change["account_id"], change["currency"]) not in held:
            await session.execute(_OPEN_BALANCE, change)


def _database_refusal(error: DBAPIError, accounts: dict[UUID, _Account]) -> Problem | None:
    """The problem a refusal by the ledger's constraints and triggers stands for."""
    sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
    cause = getattr(error.orig, "__cause__", None)
    constraint = str(getattr(cause, "constraint_name", "") or "")
    if sqlstate == _PERIOD_CLOSED:
        return Problem(409, "period_closed", "The period this entry falls in was just closed.")
    if sqlstate == _ACCOUNT_CURRENCY:
        return Problem(422, "account_currency_mismatch", "An account holds another currency.")
    if sqlstate == _UNBALANCED:
        return Problem(422, "unbalanced_entry", "Debits and credits differ.")
    if constraint == "ledger_balances_within_overdraft_check":
        return Problem(
            409,
            "insufficient_funds",
            "This would take an account below its overdraft limit; nothing was posted.",
        )
    if constraint == "journal_entries_tenant_id_source_type_source_id_kind_key":
        return Problem(409, "already_posted", "This event has been posted already.")
    if constraint == "journal_entries_tenant_id_reverses_key":
        return Problem(409, "entry_already_reversed", "This entry has been reversed already.")
    return None


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """One business event's entry, before it is posted (see `post`)."""

    source_type: str
    source_id: UUID
    kind: str
    occurred_on: date
    lines: Sequence[PostingLine]
    memo: str | None = None
    reverses: UUID | None = None
    entry_id: UUID | None = None


async def post(
    session: AsyncSession,
    audit: AuditContext,
    *,
    source_type: str,
    source_id: UUID,
    kind: str,
    occurred_on: date,
    lines: Sequence[PostingLine],
    memo: str | None = None,
    reverses: UUID | None = None,
    entry_id: UUID | None = None,
) -> JournalEntry:
    """Post one balanced entry for a business event, in the caller's transaction.

    `(source_type, source_id, kind)` names the event (it posts once); `occurred_on` is its
    business date. A reversal names the entry it `reverses` and may post to deactivated
    accounts; nothing else may."""
    draft = EntryDraft(source_type, source_id, kind, occurred_on, lines, memo, reverses, entry_id)
    (posted,) = await post_many(session, audit, [draft])
    entry = await session.scalar(select(JournalEntry).where(JournalEntry.id == posted))
    assert entry is not None
    return entry


# Entries and lines go in as columns (one array per column), one statement each: the
# database's guards (migration 0021) then check each statement as a whole.
_INSERT_ENTRIES = text(
    """
    INSERT INTO journal_entries (tenant_id, id, posted_on, occurred_on, period, source_type,
        source_id, kind, memo, created_by_type, created_by, reverses)
    SELECT CAST(:tenant_id AS uuid), e.id, e.posted_on, e.occurred_on, e.period,
        e.source_type, e.source_id, e.kind, e.memo, CAST(:created_by_type AS varchar),
        CAST(:created_by AS uuid), e.reverses
    FROM unnest(CAST(:ids AS uuid[]), CAST(:posted_on AS date[]), CAST(:occurred_on AS date[]),
        CAST(:period AS date[]), CAST(:source_type AS varchar[]), CAST(:source_id AS uuid[]),
        CAST(:kind AS varchar[]), CAST(:memo AS text[]), CAST(:reverses AS uuid[]))
        AS e(id, posted_on, occurred_on, period, source_type, source_id, kind, memo, reverses)
    """
)
_INSERT_LINES = text(
    """
    INSERT INTO journal_lines (tenant_id, id, entry_id, account_id, debit, credit, currency,
        vendor_id, posted_on, account_seq, balance_after)
    SELECT CAST(:tenant_id AS uuid), l.*
    FROM unnest(CAST(:ids AS uuid[]), CAST(:entry_id AS uuid[]), CAST(:account_id AS uuid[]),
        CAST(:debit AS numeric[]), CAST(:credit AS numeric[]), CAST(:currency AS varchar[]),
        CAST(:vendor_id AS uuid[]), CAST(:posted_on AS date[]), CAST(:account_seq AS integer[]),
        CAST(:balance_after AS numeric[]))
        AS l(id, entry_id, account_id, debit, credit, currency, vendor_id, posted_on,
             account_seq, balance_after)
    """
)


async def post_many(
    session: AsyncSession, audit: AuditContext, drafts: Sequence[EntryDraft]
) -> list[UUID]:
    """Post several entries at once, each as `post` would (the same checks, the same
    refusals by the database), in one statement for the entries and one for the lines,
    with one balance update per (account, currency) they touch in all: a depreciation run
    posts 50,000 entries this way. Returns the entries' ids, in the drafts' order."""
    if not drafts:
        return []
    for draft in drafts:
        _check_lines(draft.lines)
    await session.flush()
    all_lines = [line for draft in drafts for line in draft.lines]
    accounts = await _accounts(session, all_lines)
    originals = [line for draft in drafts if draft.reverses is None for line in draft.lines]
    if originals:
        _check_active({line.account_id: accounts.by_id[line.account_id] for line in originals})
        await _check_parties(session, originals)
    posting_days = {
        day: await posting_day(session, day) for day in {draft.occurred_on for draft in drafts}
    }
    ids = [draft.entry_id or new_id() for draft in drafts]
    posted_on = [posting_days[draft.occurred_on] for draft in drafts]
    try:
        await session.execute(
            _INSERT_ENTRIES,
            {
                "tenant_id": audit.tenant_id,
                "created_by_type": str(audit.actor.type),
                "created_by": audit.actor.id,
                "ids": ids,
                "posted_on": posted_on,
                "occurred_on": [draft.occurred_on for draft in drafts],
                "period": [month_of(day) for day in posted_on],
                "source_type": [draft.source_type for draft in drafts],
                "source_id": [draft.source_id for draft in drafts],
                "kind": [draft.kind for draft in drafts],
                "memo": [draft.memo for draft in drafts],
                "reverses": [draft.reverses for draft in drafts],
            },
        )
        columns = await _moved_lines(
            session,
            [
                (entry_id, day, draft.lines)
                for entry_id, day, draft in zip(ids, posted_on, drafts, strict=True)
            ],
            accounts.held,
        )
        await session.execute(_INSERT_LINES, {"tenant_id": audit.tenant_id, **columns})
    except DBAPIError as error:
        problem = _database_refusal(error, accounts.by_id)
        if problem is None:
            raise
        raise problem from error
    return ids


async def _moved_lines(
    session: AsyncSession,
    postings: Sequence[tuple[UUID, date, Sequence[PostingLine]]],
    held: set[tuple[UUID, str]],
) -> dict[str, list[Any]]:
    """Move each (account, currency) balance the lines touch, once, in a fixed order, and
    the lines as columns with their place in the account's sequence and the balance after
    (in the order of the entries)."""
    by_balance: dict[tuple[UUID, str], list[tuple[UUID, date, PostingLine]]] = defaultdict(list)
    for entry_id, day, lines in postings:
        for line in lines:
            by_balance[(line.account_id, line.currency)].append((entry_id, day, line))
    ordered = sorted(by_balance.items(), key=lambda item: item[0])
    changes: list[dict[str, Any]] = [
        {
            "account_id": account_id,
            "currency": currency,
            "debit": sum((line.debit for _, _, line in group), ZERO),
            "credit": sum((line.credit for _, _, line in group), ZERO),
            "lines": len(group),
        }
        for (account_id, currency), group in ordered
    ]
    await _open_missing_balances(session, changes, held)
    moved_rows = await session.execute(
        _MOVE_BALANCES,
        {
            "account_ids": [change["account_id"] for change in changes],
            "currencies": [change["currency"] for change in changes],
            "debits": [change["debit"] for change in changes],
            "credits": [change["credit"] for change in changes],
            "lines": [change["lines"] for change in changes],
        },
    )
    after = {(row.account_id, row.currency): row for row in moved_rows}
    columns: dict[str, list[Any]] = {
        name: []
        for name in (
            "ids",
            "entry_id",
            "account_id",
            "debit",
            "credit",
            "currency",
            "vendor_id",
            "posted_on",
            "account_seq",
            "balance_after",
        )
    }
    for ((account_id, currency), group), change in zip(ordered, changes, strict=True):
        moved = after[(account_id, currency)]
        balance = moved.balance - (change["debit"] - change["credit"])
        seq = moved.line_count - len(group)
        for entry_id, day, line in group:
            balance += line.debit - line.credit
            seq += 1
            columns["ids"].append(new_id())
            columns["entry_id"].append(entry_id)
            columns["account_id"].append(account_id)
            columns["debit"].append(line.debit)
            columns["credit"].append(line.credit)
            columns["currency"].append(currency)
            columns["vendor_id"].append(line.vendor_id)
            columns["posted_on"].append(day)
            columns["account_seq"].append(seq)
            columns["balance_after"].append(balance)
    return columns


async def entry_lines(session: AsyncSession, entry_id: UUID) -> list[JournalLine]:
    return list(
        await session.scalars(
            select(JournalLine).where(JournalLine.entry_id == entry_id).order_by(JournalLine.id)
        )
    )


async def reverse(
    session: AsyncSession,
    audit: AuditContext,
    original: JournalEntry,
    *,
    source_type: str,
    source_id: UUID,
    kind: str,
    occurred_on: date,
    memo: str | None = None,
) -> JournalEntry:
    """The mirror of `original` (debits become credits), naming it; once per entry."""
    if original.reverses is not None:
        raise Problem(409, "entry_is_reversal", "A reversal is not itself reversed.")
    already = await session.scalar(
        select(JournalEntry.id).where(JournalEntry.reverses == original.id)
    )
    if already is not None:
        raise Problem(
            409,
            "entry_already_reversed",
            "This entry has been reversed already.",
            extra={"reversal_entry_id": str(already)},
        )
    mirrored = [
        PostingLine(line.account_id, line.credit, line.debit, line.currency, line.vendor_id)
        for line in await entry_lines(session, original.id)
    ]
    return await post(
        session,
        audit,
        source_type=source_type,
        source_id=source_id,
        kind=kind,
        occurred_on=occurred_on,
        lines=mirrored,
        memo=memo,
        reverses=original.id,
    )
