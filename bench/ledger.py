"""The ledger: payments posted per second by 16 concurrent clients; the trial balance of a
tenant with 1,000,000 journal lines; an account-ledger page 10,000 lines deep against the
first page.

Through the app in process (HTTP over ASGI, auth, RLS, the tenant on BEGIN):
- payments: PAYMENTS approved invoices (seeded with COPY, one line each) are paid by 16
  clients at once, each payment one `POST /invoices/{id}/pay`, so every one posts an
  entry and moves the cached balances of accounts 2000 and 1000, which all of them share;
- trial balance: JOURNAL_LINES lines (two per entry, over the default chart, in 2025 and
  2026) are seeded with COPY (as the server's admin role, with triggers off for the seed
  only), their running balances and the cached balances computed to match; then
  `GET /ledger/trial-balance` now (cached balances only) and as of the last day of the
  previous month (cached balances less the lines posted after it);
- account ledger: `GET /ledger/accounts/{id}/lines?limit=50` at the top and at the page
  whose cursor lies 10,000 lines deep.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

from bench.database import admin_url, fresh_database
from bench.server import SignedUp, sign_up
from ledgerline.app import create_app
from ledgerline.db.base import new_id
from ledgerline.db.roles import asyncpg_dsn

DATABASE = "ledgerline_bench_ledger"
PAYMENTS = 2_000
CLIENTS = 16
JOURNAL_LINES = 1_000_000
DEPTH = 10_000
PAGE = 50
ROUNDS = 20

ENTRY_COLUMNS = [
    "tenant_id",
    "id",
    "posted_on",
    "occurred_on",
    "period",
    "source_type",
    "source_id",
    "kind",
    "created_by_type",
]
LINE_COLUMNS = [
    "tenant_id",
    "id",
    "entry_id",
    "account_id",
    "debit",
    "credit",
    "currency",
    "posted_on",
    "account_seq",
    "balance_after",
]


async def _accounts(client: httpx.AsyncClient, signed: SignedUp) -> dict[str, str]:
    listed = await client.get(
        "/api/v1/ledger/accounts", params={"limit": 200}, headers=signed.headers
    )
    return {account["code"]: account["id"] for account in listed.json()["items"]}


async def seed_invoices(conn: asyncpg.Connection, tenant_id: str, vendor_id: str) -> list[str]:
    """PAYMENTS approved invoices of 100.00 + 19.00 tax (their approval is not posted:
    only the payments are timed)."""
    ids = [new_id() for _ in range(PAYMENTS)]
    rows = [
        (
            tenant_id,
            invoice_id,
            vendor_id,
            f"B-{n}",
            date(2026, 1, 5),
            date(2026, 2, 5),
            "EUR",
            Decimal("100.00"),
            Decimal("19.00"),
            Decimal("119.00"),
            Decimal("0.00"),
            "approved",
            2,
            "api",
        )
        for n, invoice_id in enumerate(ids)
    ]
    await conn.copy_records_to_table(
        "invoices",
        records=rows,
        columns=[
            "tenant_id",
            "id",
            "vendor_id",
            "number",
            "issue_date",
            "due_date",
            "currency",
            "subtotal",
            "tax_total",
            "total",
            "amount_paid",
            "status",
            "version",
            "source",
        ],
    )
    return [str(invoice_id) for invoice_id in ids]


async def time_payments(
    client: httpx.AsyncClient, signed: SignedUp, invoices: list[str]
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for invoice_id in invoices:
        queue.put_nowait(invoice_id)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            invoice_id = queue.get_nowait()
            started = time.perf_counter()
            answer = await client.post(
                f"/api/v1/invoices/{invoice_id}/pay",
                json={"paid_on": "2026-01-20", "amount": "119.00"},
                headers=signed.headers | {"If-Match": "*"},
            )
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return time.perf_counter() - started, latencies


async def seed_journal(conn: asyncpg.Connection, tenant_id: str, accounts: list[str]) -> str:
    """JOURNAL_LINES lines in pairs over `accounts`; returns the account with most lines.
    Running balances, sequences and the cached balances agree with the lines."""
    rng = random.Random(14)
    seq: dict[str, int] = defaultdict(int)
    balance: dict[str, Decimal] = defaultdict(Decimal)
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    entries: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    first = date(2025, 1, 1)
    for n in range(JOURNAL_LINES // 2):
        day = first + timedelta(days=n * 600 // (JOURNAL_LINES // 2))
        entry_id = new_id()
        entries.append(
            (
                tenant_id,
                entry_id,
                day,
                day,
                day.replace(day=1),
                "manual",
                entry_id,
                "manual",
                "user",
            )
        )
        amount = Decimal(rng.randrange(1, 100_000)) / 100
        debit_account, credit_account = rng.sample(accounts, 2)
        for account, debit, credit in (
            (debit_account, amount, Decimal(0)),
            (credit_account, Decimal(0), amount),
        ):
            seq[account] += 1
            balance[account] += debit - credit
            debits[account] += debit
            credits[account] += credit
            lines.append(
                (
                    tenant_id,
                    new_id(),
                    entry_id,
                    account,
                    debit,
                    credit,
                    "EUR",
                    day,
                    seq[account],
                    balance[account],
                )
            )
    months = sorted({entry[4] for entry in entries})
    await conn.execute("SET session_replication_role = replica")  # the seed only: no triggers
    await conn.copy_records_to_table("journal_entries", records=entries, columns=ENTRY_COLUMNS)
    await conn.copy_records_to_table("journal_lines", records=lines, columns=LINE_COLUMNS)
    await conn.copy_records_to_table(
        "ledger_periods",
        records=[(tenant_id, month, "open") for month in months],
        columns=["tenant_id", "period", "status"],
    )
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("DELETE FROM ledger_balances WHERE tenant_id = $1", tenant_id)
    await conn.copy_records_to_table(
        "ledger_balances",
        records=[
            (
                tenant_id,
                account,
                "EUR",
                debits[account],
                credits[account],
                balance[account],
                seq[account],
            )
            for account in seq
        ],
        columns=[
            "tenant_id",
            "account_id",
            "currency",
            "debit_total",
            "credit_total",
            "balance",
            "line_count",
        ],
    )
    await conn.execute("ANALYZE journal_entries; ANALYZE journal_lines; ANALYZE ledger_balances")
    return max(seq, key=lambda account: seq[account])


async def _timed(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        answer = await client.get(url, params=params, headers=headers)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
    return statistics.median(times)


async def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with admin_url() as admin:
        settings = await fresh_database(admin, DATABASE)
        settings = settings.model_copy(
            update={
                "rate_limit_default": "10000000/minute",
                "rate_limit_auth": "100000/minute",
                "database_pool_timeout_seconds": 60.0,
            }
        )
        dsn = asyncpg_dsn(admin.set(database=DATABASE))
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://b", timeout=120
            ) as client:
                payer = await sign_up(client, "Payments", "payments")
                vendor = await client.post(
                    "/api/v1/vendors",
                    json={"name": "Paper GmbH", "default_currency": "EUR"},
                    headers=payer.headers,
                )
                conn = await asyncpg.connect(dsn)
                try:
                    invoices = await seed_invoices(conn, payer.tenant_id, vendor.json()["id"])
                finally:
                    await conn.close()
                elapsed, latencies = await time_payments(client, payer, invoices)
                figures["payments_per_s"] = PAYMENTS / elapsed
                latencies.sort()
                figures["payment_p50_ms"] = latencies[len(latencies) // 2] * 1000
                figures["payment_p99_ms"] = latencies[int(len(latencies) * 0.99)] * 1000

                books = await sign_up(client, "Books", "books")
                accounts = await _accounts(client, books)
                conn = await asyncpg.connect(dsn)
                try:
                    busiest = await seed_journal(conn, books.tenant_id, list(accounts.values()))
                finally:
                    await conn.close()
                print(f"  seeded {JOURNAL_LINES:,} journal lines")
                trial = "/api/v1/ledger/trial-balance"
                figures["trial_now_ms"] = await _timed(client, trial, books.headers) * 1000
                figures["trial_as_of_ms"] = (
                    await _timed(client, trial, books.headers, as_of="2026-07-31") * 1000
                )
                lines_url = f"/api/v1/ledger/accounts/{busiest}/lines"
                cursor = None
                for _ in range(DEPTH // 200):
                    page = await client.get(
                        lines_url,
                        params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                        headers=books.headers,
                    )
                    cursor = page.json()["next_cursor"]
                deep = await client.get(
                    lines_url, params={"limit": PAGE, "cursor": cursor}, headers=books.headers
                )
                assert deep.json()["items"][0]["seq"] == DEPTH + 1
                figures["lines_first_ms"] = (
                    await _timed(client, lines_url, books.headers, limit=PAGE) * 1000
                )
                figures["lines_deep_ms"] = (
                    await _timed(client, lines_url, books.headers, limit=PAGE, cursor=cursor) * 1000
                )
    return figures


def main() -> None:
    print(
        f"ledger: {PAYMENTS} payments by {CLIENTS} clients; trial balance over "
        f"{JOURNAL_LINES:,} lines; account lines at depth {DEPTH:,} (medians of {ROUNDS})"
    )
    figures = asyncio.run(run())
    print(
        f"  payments posted                          {figures['payments_per_s']:7.0f} /s"
        f"  (p50 {figures['payment_p50_ms']:.0f} ms, p99 {figures['payment_p99_ms']:.0f} ms)"
    )
    print(
        f"  trial balance, now (cached balances)     {figures['trial_now_ms']:7.1f} ms"
        "  (target < 200 ms)"
    )
    print(f"  trial balance as of 2026-07-31           {figures['trial_as_of_ms']:7.1f} ms")
    print(f"  account lines, first page of {PAGE}          {figures['lines_first_ms']:7.1f} ms")
    print(
        f"  account lines, page {DEPTH:,} lines deep     {figures['lines_deep_ms']:7.1f} ms"
        f"  ({figures['lines_deep_ms'] / figures['lines_first_ms']:.2f}x the first)"
    )
