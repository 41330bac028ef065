"""Migration 0012 gives tenants that existed before it the default chart, and their
recorded payments the bank account, the vendor and the currency they were paid in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest
from sqlalchemy.engine import URL

from ledgerline.config import Settings
from ledgerline.db import migrate
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.ledger.chart import DEFAULT_CHART
from tests.helpers.database import admin_execute, make_settings, recreate_database


@pytest.fixture
async def database_at_0011(
    admin_url: URL, template_database: str, worker_id: str
) -> AsyncIterator[Settings]:
    name = f"ledgerline_ledger_migration_{worker_id}"
    await recreate_database(admin_url, name)
    settings = make_settings(admin_url, name)
    await asyncio.to_thread(migrate.upgrade, settings, "0011")
    yield settings
    await admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_existing_tenants_get_the_default_chart_and_payments_their_account(
    admin_url: URL, database_at_0011: Settings
) -> None:
    tenant, vendor, invoice, payment = uuid4(), uuid4(), uuid4(), uuid4()
    superuser = asyncpg_dsn(admin_url.set(database=database_at_0011.owner_url().database))
    conn = await asyncpg.connect(superuser)
    try:
        await conn.execute(
            "INSERT INTO tenants (id, slug, name, status, plan) VALUES ($1, 'old', 'Old', 'active',"
            " 'standard')",
            tenant,
        )
        await conn.execute(
            "INSERT INTO vendors (tenant_id, id, name, default_currency, payment_terms_days,"
            " is_active, version) VALUES ($1, $2, 'Paper', 'EUR', 14, true, 1)",
            tenant,
            vendor,
        )
        await conn.execute(
            "INSERT INTO invoices (tenant_id, id, vendor_id, number, issue_date, due_date,"
            " currency, subtotal, tax_total, total, amount_paid, status, version, source)"
            " VALUES ($1, $2, $3, 'I-1', '2026-01-01', '2026-01-15', 'USD', 10, 0, 10, 10,"
            " 'paid', 3, 'api')",
            tenant,
            invoice,
            vendor,
        )
        await conn.execute(
            "INSERT INTO invoice_payments (tenant_id, id, invoice_id, paid_on, amount)"
            " VALUES ($1, $2, $3, '2026-01-10', 10)",
            tenant,
            payment,
            invoice,
        )
    finally:
        await conn.close()

    await asyncio.to_thread(migrate.upgrade, database_at_0011)

    conn = await asyncpg.connect(superuser)
    try:
        chart = await conn.fetch(
            "SELECT code, name, type FROM ledger_accounts WHERE tenant_id = $1 ORDER BY code",
            tenant,
        )
        ids = await conn.fetch("SELECT id FROM ledger_accounts")
        paid = await conn.fetchrow(
            "SELECT a.code, p.vendor_id, p.currency, p.entry_id, p.version FROM invoice_payments p"
            " JOIN ledger_accounts a ON a.id = p.paying_account_id WHERE p.id = $1",
            payment,
        )
        forced = await conn.fetchval(
            "SELECT bool_and(relforcerowsecurity) FROM pg_class"
            " WHERE relname IN ('tenants', 'invoices', 'invoice_payments', 'ledger_accounts')"
        )
    finally:
        await conn.close()
    assert [tuple(row) for row in chart] == [
        (code, name, str(kind)) for code, name, kind in DEFAULT_CHART
    ]
    assert {row["id"].version for row in ids} == {7}  # UUIDv7, as every id
    assert tuple(paid) == ("1000", vendor, "USD", None, 1)
    assert forced is True
