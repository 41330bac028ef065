"""Financing: acceptances per second by 32 concurrent clients on one program, and their
latency (p50, p99). Every acceptance locks its offer, reads its invoice and reserves its
net from the one program row all of them share (one conditional UPDATE), so they queue on
that row; none may fail with a 5xx (a deadlock or a serialization failure leaking out).

Through the app in process (HTTP over ASGI, the public route, the tenant on BEGIN):
OFFERS approved invoices and an offer of each (with a known token, stored as the service
stores it: a keyed hash) are seeded with COPY; the program's budget fits them all.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

from bench.database import admin_url, fresh_database
from bench.server import sign_up
from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.financing.models import DayCount
from ledgerline.financing.service import OFFER_TOKEN_PREFIX
from ledgerline.financing.terms import early_payment
from ledgerline.security.tokens import new_tenant_token, token_digest

DATABASE = "ledgerline_bench_financing"
OFFERS = 2_000
CLIENTS = 32
AMOUNT = Decimal("1000.00")
APR = Decimal("0.12")


async def seed_offers(
    conn: asyncpg.Connection, settings: Settings, tenant: str, vendor: str, program: str
) -> list[str]:
    """OFFERS approved invoices of 1,000.00 due in 40 days, each offered for day 10; the
    tokens of their offers."""
    today = datetime.now(UTC).date()
    pay_on, due = today + timedelta(days=10), today + timedelta(days=40)
    terms = early_payment(AMOUNT, APR, DayCount.ACT_365, pay_on, due)
    invoices, offers, tokens = [], [], []
    for n in range(OFFERS):
        invoice_id = new_id()
        token = new_tenant_token(OFFER_TOKEN_PREFIX, UUID(tenant))
        tokens.append(token)
        invoices.append(
            (
                UUID(tenant),
                invoice_id,
                UUID(vendor),
                f"B-{n}",
                today,
                due,
                "EUR",
                AMOUNT,
                Decimal("0.00"),
                AMOUNT,
                Decimal("0.00"),
                "approved",
                2,
                "api",
            )
        )
        offers.append(
            (
                UUID(tenant),
                new_id(),
                UUID(program),
                invoice_id,
                2,
                UUID(vendor),
                "billing@bench.example.com",
                "EUR",
                AMOUNT,
                terms.discount,
                terms.net_amount,
                APR,
                DayCount.ACT_365.value,
                terms.days_early,
                pay_on,
                due,
                "offered",
                token_digest(settings, token),
                datetime.now(UTC) + timedelta(days=1),
                1,
            )
        )
    await conn.copy_records_to_table(
        "invoices",
        records=invoices,
        columns=[
            *("tenant_id", "id", "vendor_id", "number", "issue_date", "due_date", "currency"),
            *("subtotal", "tax_total", "total", "amount_paid", "status", "version", "source"),
        ],
    )
    await conn.copy_records_to_table(
        "financing_offers",
        records=offers,
        columns=[
            *("tenant_id", "id", "program_id", "invoice_id", "invoice_version", "vendor_id"),
            *("vendor_email", "currency", "open_amount", "discount", "net_amount", "apr"),
            *("day_count", "days_early", "pay_on", "due_date", "status", "token_hash"),
            *("expires_at", "version"),
        ],
    )
    return tokens


async def time_acceptances(
    client: httpx.AsyncClient, tokens: list[str]
) -> tuple[float, list[float], Counter[int]]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def worker() -> None:
        while not queue.empty():
            token = queue.get_nowait()
            started = time.perf_counter()
            answer = await client.post("/api/v1/financing/offers/accept", json={"token": token})
            latencies.append(time.perf_counter() - started)
            statuses[answer.status_code] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return time.perf_counter() - started, latencies, statuses


async def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with admin_url() as admin:
        settings = await fresh_database(admin, DATABASE)
        settings = settings.model_copy(
            update={
                "rate_limit_default": "10000000/minute",
                "rate_limit_auth": "100000/minute",
                "rate_limit_financing_accept": "10000000/minute",
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
                owner = await sign_up(client, "Early", "early")
                vendor = await client.post(
                    "/api/v1/vendors",
                    json={"name": "Steel AG", "default_currency": "EUR"},
                    headers=owner.headers,
                )
                program = await client.post(
                    "/api/v1/financing/programs",
                    json={
                        "name": "Bench",
                        "currency": "EUR",
                        "apr": str(APR),
                        "day_count": "ACT/365",
                        "min_days_early": 1,
                        "budget": str(AMOUNT * OFFERS),
                        "funding": "own_cash",
                    },
                    headers=owner.headers,
                )
                conn = await asyncpg.connect(dsn)
                try:
                    tokens = await seed_offers(
                        conn, settings, owner.tenant_id, vendor.json()["id"], program.json()["id"]
                    )
                finally:
                    await conn.close()
                elapsed, latencies, statuses = await time_acceptances(client, tokens)
                assert statuses == {200: OFFERS}, statuses
                shown = await client.get(
                    f"/api/v1/financing/programs/{program.json()['id']}", headers=owner.headers
                )
                net = early_payment(
                    AMOUNT, APR, DayCount.ACT_365, date(2026, 1, 1), date(2026, 1, 31)
                ).net_amount
                assert Decimal(shown.json()["committed"]) == net * OFFERS, shown.text
    latencies.sort()
    figures["accepts_per_s"] = OFFERS / elapsed
    figures["accept_p50_ms"] = latencies[len(latencies) // 2] * 1000
    figures["accept_p99_ms"] = latencies[int(len(latencies) * 0.99)] * 1000
    return figures


def main() -> None:
    print(f"financing: {OFFERS:,} acceptances by {CLIENTS} clients on one program")
    figures = asyncio.run(run())
    print(f"  acceptances per second                   {figures['accepts_per_s']:7.0f}")
    print(f"  latency p50                              {figures['accept_p50_ms']:7.1f} ms")
    print(f"  latency p99                              {figures['accept_p99_ms']:7.1f} ms")
    print("  no 5xx: every acceptance answered 200, committed = the sum of the nets")
