"""The ledger in tests: accounts by code, balances and lines read straight from the
database, and the recomputation that cached balances must agree with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import text

from ledgerline.db.engine import Database
from tests.helpers.http import API, all_pages
from tests.helpers.identity import Account


async def account_ids(database: Database, tenant_id: UUID) -> dict[str, UUID]:
    """The tenant's accounts by code, read as the runtime role."""
    async with database.tenant_transaction(tenant_id) as session:
        rows = await session.execute(text("SELECT code, id FROM ledger_accounts"))
        return {row.code: row.id for row in rows}


async def http_accounts(client: httpx.AsyncClient, who: Account) -> dict[str, dict[str, Any]]:
    """The tenant's accounts by code, through the API."""
    pages = await all_pages(client, f"{API}/ledger/accounts", who.headers)
    return {account["code"]: account for page in pages for account in page}


async def balances(database: Database, tenant_id: UUID) -> dict[tuple[str, str], Decimal]:
    """Cached balances by (account code, currency)."""
    async with database.tenant_transaction(tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT a.code, b.currency, b.balance FROM ledger_balances b"
                " JOIN ledger_accounts a ON a.id = b.account_id"
            )
        )
        return {(row.code, row.currency): row.balance for row in rows}


async def cache_disagreements(database: Database, tenant_id: UUID) -> list[Any]:
    """Every (account, currency) whose cached balance, totals or line count differ from
    its lines, and every line whose running balance differs from the sum before it."""
    async with database.tenant_transaction(tenant_id) as session:
        cached = await session.execute(
            text(
                """
                WITH summed AS (
                    SELECT account_id, currency, sum(debit) AS debit, sum(credit) AS credit,
                           count(*) AS lines
                    FROM journal_lines GROUP BY account_id, currency)
                SELECT coalesce(b.account_id, s.account_id) AS account_id,
                       coalesce(b.currency, s.currency) AS currency,
                       b.balance, b.debit_total, b.credit_total, b.line_count,
                       s.debit, s.credit, s.lines
                FROM ledger_balances b FULL JOIN summed s
                  ON s.account_id = b.account_id AND s.currency = b.currency
                WHERE b.balance IS DISTINCT FROM coalesce(s.debit - s.credit, 0)
                   OR b.debit_total IS DISTINCT FROM coalesce(s.debit, 0)
                   OR b.credit_total IS DISTINCT FROM coalesce(s.credit, 0)
                   OR b.line_count IS DISTINCT FROM coalesce(s.lines, 0)
                """
            )
        )
        running = await session.execute(
            text(
                """
                SELECT id, account_seq, balance_after, computed FROM (
                    SELECT id, account_seq, balance_after,
                           sum(debit - credit) OVER (PARTITION BY account_id, currency
                               ORDER BY account_seq) AS computed,
                           row_number() OVER (PARTITION BY account_id, currency
                               ORDER BY account_seq) AS position
                    FROM journal_lines) AS l
                WHERE balance_after <> computed OR account_seq <> position
                """
            )
        )
        return [*cached.all(), *running.all()]
