"""Reports read from the ledger: the trial balance, an account's lines with their running
balance, and the accounts-payable sub-ledger by vendor.

The trial balance starts from the cached balances (one row per account and currency) and
takes back only the lines posted after `as_of`, so its cost does not grow with the
journal. An account's lines carry their running balance and their place in the account's
sequence, so a page at any depth is one index range.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db.rows import row_by_id
from ledgerline.ledger import chart
from ledgerline.ledger.models import Account, Balance, JournalEntry, JournalLine
from ledgerline.pagination import PageRequest, SortKey, keyset_page
from ledgerline.problems import Problem

ZERO = Decimal("0.00")

_TRIAL_BALANCE = text(
    """
    SELECT a.id AS account_id, a.code, a.name, a.type, b.currency,
           b.debit_total - coalesce(later.debit, 0) AS debit,
           b.credit_total - coalesce(later.credit, 0) AS credit
    FROM ledger_balances b
    JOIN ledger_accounts a ON a.tenant_id = b.tenant_id AND a.id = b.account_id
    LEFT JOIN (
        SELECT account_id, currency, sum(debit) AS debit, sum(credit) AS credit
        FROM journal_lines WHERE posted_on > :as_of GROUP BY account_id, currency
    ) AS later ON later.account_id = b.account_id AND later.currency = b.currency
    ORDER BY a.code, b.currency
    """
)

_PAYABLES = text(
    """
    SELECT l.vendor_id, v.name AS vendor_name, l.currency,
           sum(l.credit) - sum(l.debit) AS open_amount
    FROM journal_lines l
    LEFT JOIN vendors v ON v.tenant_id = l.tenant_id AND v.id = l.vendor_id
    WHERE l.account_id = :payable AND l.posted_on <= :as_of
    GROUP BY l.vendor_id, v.name, l.currency
    HAVING sum(l.credit) <> sum(l.debit)
    ORDER BY v.name, l.vendor_id, l.currency
    """
)


@dataclass(frozen=True, slots=True)
class TrialBalance:
    as_of: date | None
    accounts: list[dict[str, Any]]
    totals: list[dict[str, Any]]


async def trial_balance(session: AsyncSession, as_of: date | None) -> TrialBalance:
    """Per account and currency: debits, credits and balance as of the day (today's
    cached figures when no day is given); totals per currency, debits equal to credits."""
    rows = await session.execute(_TRIAL_BALANCE, {"as_of": as_of or date.max})
    accounts = []
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in rows:
        if row.debit == 0 and row.credit == 0:
            continue
        accounts.append({**row._asdict(), "balance": row.debit - row.credit})
        totals[row.currency][0] += row.debit
        totals[row.currency][1] += row.credit
    return TrialBalance(
        as_of,
        accounts,
        [
            {"currency": currency, "debit": debit, "credit": credit}
            for currency, (debit, credit) in sorted(totals.items())
        ],
    )


async def payables(session: AsyncSession, as_of: date | None) -> dict[str, Any]:
    """What is owed to each vendor on account 2000 as of the day: for invoices approved
    and payments made by then, the open amounts of the approved invoices."""
    payable = await session.scalar(select(Account.id).where(Account.code == chart.ACCOUNTS_PAYABLE))
    rows = [
        row._asdict()
        for row in await session.execute(
            _PAYABLES, {"payable": payable, "as_of": as_of or date.max}
        )
    ]
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[row["currency"]] += row["open_amount"]
    return {
        "as_of": as_of,
        "vendors": rows,
        "totals": [
            {"currency": currency, "open_amount": amount}
            for currency, amount in sorted(totals.items())
        ],
    }


# --- an account's lines --------------------------------------------------------------------

BY_SEQUENCE = SortKey("seq", JournalLine.account_seq)


@dataclass(frozen=True, slots=True)
class AccountLine:
    line: JournalLine
    entry: JournalEntry


async def _ledger_currency(session: AsyncSession, account: Account, currency: str | None) -> str:
    """The currency asked for, else the account's own, else the one it has lines in."""
    if currency is not None:
        return currency
    if account.currency is not None:
        return account.currency
    held = list(
        await session.scalars(select(Balance.currency).where(Balance.account_id == account.id))
    )
    if len(held) > 1:
        raise Problem(
            422,
            "currency_required",
            "This account has lines in several currencies; choose one.",
            extra={"currencies": sorted(held)},
        )
    return held[0] if held else "EUR"


async def account_lines(
    session: AsyncSession, account_id: UUID, page: PageRequest, currency: str | None
) -> tuple[str, list[AccountLine], str | None]:
    """A page of the account's lines in one currency, in the order they were posted, each
    with the balance after it (read from the line: flat at any depth)."""
    account = await row_by_id(session, Account, account_id, what="account")
    currency = await _ledger_currency(session, account, currency)
    statement = select(JournalLine).where(
        JournalLine.account_id == account_id, JournalLine.currency == currency
    )
    lines, cursor = await keyset_page(session, statement, JournalLine.id, page, BY_SEQUENCE)
    entries = {
        entry.id: entry
        for entry in await session.scalars(
            select(JournalEntry).where(JournalEntry.id.in_({line.entry_id for line in lines}))
        )
    }
    return currency, [AccountLine(line, entries[line.entry_id]) for line in lines], cursor
