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


async def approved_invoice(
    client: httpx.AsyncClient,
    who: Account,
    vendor_id: str,
    lines: list[dict[str, str]],
    *,
    number: str = "INV-1",
    issue_date: str = "2026-03-01",
) -> dict[str, Any]:
    """An invoice created, submitted and approved through the API; its last answer."""
    created = await client.post(
        f"{API}/invoices",
        json={"vendor_id": vendor_id, "number": number, "issue_date": issue_date, "lines": lines},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    invoice_id, etag = created.json()["id"], created.headers["etag"]
    for step in ("submit", "approve"):
        answer = await client.post(
            f"{API}/invoices/{invoice_id}/{step}", headers=who.headers | {"If-Match": etag}
        )
        assert answer.status_code == 200, answer.text
        etag = answer.headers["etag"]
    return dict(answer.json()) | {"etag": etag}


async def pay(
    client: httpx.AsyncClient,
    who: Account,
    invoice_id: str,
    amount: str,
    paid_on: str = "2026-03-10",
    **fields: Any,
) -> httpx.Response:
    """A payment of the invoice at whatever version it is (If-Match: *)."""
    return await client.post(
        f"{API}/invoices/{invoice_id}/pay",
        json={"paid_on": paid_on, "amount": amount} | fields,
        headers=who.headers | {"If-Match": "*"},
    )


async def trial_balance(client: httpx.AsyncClient, who: Account, **params: str) -> dict[str, Any]:
    answer = await client.get(f"{API}/ledger/trial-balance", params=params, headers=who.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def by_code(trial: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """A trial balance's rows as {code: (debit, credit, balance)} (one currency)."""
    return {row["code"]: (row["debit"], row["credit"], row["balance"]) for row in trial["accounts"]}
