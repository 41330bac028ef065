"""Migration 0023 gives purchase order lines made before it their tax, as
`invoices/taxes.py` computes a line's, and their orders the tax total."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import pytest
from sqlalchemy.engine import URL

from ledgerline.config import Settings
from ledgerline.db import migrate
from ledgerline.db.roles import asyncpg_dsn
from tests.helpers.database import admin_execute, make_settings, recreate_database

GST = (
    '[{"name": "CGST", "rate": "0.09", "applies_to": "intra_state"},'
    ' {"name": "SGST", "rate": "0.09", "applies_to": "intra_state"},'
    ' {"name": "IGST", "rate": "0.18", "applies_to": "inter_state"}]'
)


@pytest.fixture
async def database_at_0022(admin_url: URL, worker_id: str) -> AsyncIterator[Settings]:
    name = f"ledgerline_po_tax_migration_{worker_id}"
    await recreate_database(admin_url, name)
    settings = make_settings(admin_url, name)
    await asyncio.to_thread(migrate.upgrade, settings, "0022")
    yield settings
    await admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _order(
    conn: asyncpg.Connection, tenant: UUID, vendor: UUID, lines: list[tuple[str | None, str]]
) -> UUID:
    order = uuid4()
    await conn.execute(
        "INSERT INTO purchase_orders (tenant_id, id, vendor_id, number, currency, ordered_on,"
        " status, matching, total, version) VALUES ($1, $2, $3, $4, 'EUR', '2026-03-01',"
        " 'approved', 'three_way', 0, 1)",
        tenant,
        order,
        vendor,
        f"PO-{order}",
    )
    for position, (code, amount) in enumerate(lines):
        await conn.execute(
            "INSERT INTO purchase_order_lines (tenant_id, id, purchase_order_id, vendor_id,"
            " position, description, quantity, unit_price, amount, tax_code, three_way,"
            " receipt_limit, quantity_received, quantity_matched, quantity_accrued,"
            " quantity_released) VALUES ($1, $2, $3, $4, $5, 'x', 1, $6, $6, $7, true, 1,"
            " 0, 0, 0, 0)",
            tenant,
            uuid4(),
            order,
            vendor,
            position,
            Decimal(amount),
            code,
        )
    return order


async def test_lines_made_before_get_their_tax_and_orders_their_tax_total(
    admin_url: URL, database_at_0022: Settings
) -> None:
    tenant, here, away = uuid4(), uuid4(), uuid4()
    superuser = asyncpg_dsn(admin_url.set(database=database_at_0022.owner_url().database))
    conn = await asyncpg.connect(superuser)
    try:
        await conn.execute(
            "INSERT INTO tenants (id, slug, name, status, plan) VALUES ($1, 'old', 'Old',"
            " 'active', 'standard')",
            tenant,
        )
        for code, kind in (("1400", "asset"), ("2500", "liability")):
            await conn.execute(
                "INSERT INTO ledger_accounts (tenant_id, id, code, name, type, active, version)"
                " VALUES ($1, $2, $3, $3, $4, true, 1)",
                tenant,
                uuid4(),
                code,
                kind,
            )
        for vendor, state in ((here, "27"), (away, "29")):
            await conn.execute(
                "INSERT INTO vendors (tenant_id, id, name, default_currency,"
                " payment_terms_days, is_active, version, state_code)"
                " VALUES ($1, $2, $3, 'EUR', 14, true, 1, $4)",
                tenant,
                vendor,
                f"Vendor {state}",
                state,
            )
        for code, kind, rate, components, output in (
            ("VAT19", "standard", "0.19", "[]", None),
            ("GST18", "standard", "0.18", GST, None),
            ("RC19", "reverse_charge", "0.19", "[]", "2500"),
        ):
            await conn.execute(
                "INSERT INTO tax_codes (tenant_id, id, code, name, kind, rate, recoverable,"
                " components, input_account_code, output_account_code, home_state_code,"
                " active, version) VALUES ($1, $2, $3, $3, $4, $5, 1, $6::jsonb, '1400', $7,"
                " '27', true, 1)",
                tenant,
                uuid4(),
                code,
                kind,
                Decimal(rate),
                components,
                output,
            )
        # 30.36 at 19%: 5.7684 -> 5.77; 10.05 at GST within the state: 0.9045 -> 0.90
        # twice; reverse charge: nothing charged; no code: nothing.
        within = await _order(
            conn,
            tenant,
            here,
            [("VAT19", "30.36"), ("GST18", "10.05"), ("RC19", "100.00"), (None, "7.00")],
        )
        # Across states IGST 18% on 10.05: 1.809 -> 1.81.
        across = await _order(conn, tenant, away, [("GST18", "10.05")])
    finally:
        await conn.close()
    await asyncio.to_thread(migrate.upgrade, database_at_0022, "0023")
    conn = await asyncpg.connect(superuser)
    try:
        taxes = await conn.fetch(
            "SELECT purchase_order_id, tax_amount FROM purchase_order_lines"
            " ORDER BY purchase_order_id = $1 DESC, position",
            within,
        )
        totals = dict(await conn.fetch("SELECT id, tax_total FROM purchase_orders"))
    finally:
        await conn.close()
    assert [str(row["tax_amount"]) for row in taxes] == ["5.77", "1.80", "0.00", "0.00", "1.81"]
    assert {key: str(value) for key, value in totals.items()} == {
        within: "7.57",
        across: "1.81",
    }
