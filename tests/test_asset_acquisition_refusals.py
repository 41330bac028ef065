"""What migration 0021 makes PostgreSQL refuse, sent directly as the runtime role past
every rule in Python: an account of the wrong type on a category, a second
capitalization of an asset bought on an invoice line, a line dated otherwise than its
entry, and any access to the table of entries still to be checked."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers import assets, invoices
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, signup
from tests.helpers.ledger import approved_invoice

LAPTOP = [{"description": "Laptop", "quantity": "1", "unit_price": "2400.00", "tax_rate": "0"}]


def _sqlstate(error: DBAPIError) -> str:
    return str(getattr(error.orig, "sqlstate", ""))


async def test_a_category_cannot_name_an_expense_account_as_its_asset_account(
    client: httpx.AsyncClient, database: Database, owner: Account
) -> None:
    category = await assets.category(client, owner)
    with pytest.raises(DBAPIError) as refused:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text("UPDATE asset_categories SET asset_account_code = '6000' WHERE id = :id"),
                {"id": category},
            )
    assert _sqlstate(refused.value) == "LL012"


async def test_an_asset_bought_on_an_invoice_line_is_not_capitalized_again(
    client: httpx.AsyncClient, database: Database, owner: Account
) -> None:
    vendor = await invoices.vendor(client, owner)
    invoice = await approved_invoice(client, owner, vendor, LAPTOP)
    category = await assets.category(client, owner, salvage_percent="0")
    made = await client.post(
        f"{API}/assets",
        json={
            "name": "Laptop",
            "category_id": category,
            "acquisition_date": "2026-03-01",
            "in_service_date": "2026-03-01",
            "cost": "2400.00",
            "currency": "EUR",
            "purchase_invoice_id": invoice["id"],
            "purchase_invoice_line": 1,
        },
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    with pytest.raises(DBAPIError) as refused:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO journal_entries (tenant_id, id, posted_on, occurred_on, period,"
                    " source_type, source_id, kind, created_by_type)"
                    " VALUES (:tenant, :id, '2026-03-01', '2026-03-01', '2026-03-01', 'asset',"
                    " :asset, 'capitalization', 'user')"
                ),
                {"tenant": owner.tenant_id, "id": uuid4(), "asset": made.json()["id"]},
            )
    assert _sqlstate(refused.value) == "LL011"


async def test_a_line_dated_otherwise_than_its_entry_is_refused(
    client: httpx.AsyncClient, database: Database, owner: Account
) -> None:
    vendor = await invoices.vendor(client, owner)
    await approved_invoice(client, owner, vendor, LAPTOP)
    async with database.tenant_transaction(owner.tenant_id) as session:
        line = (
            await session.execute(
                text(
                    "SELECT entry_id, account_id, posted_on FROM journal_lines ORDER BY id LIMIT 1"
                )
            )
        ).one()
    with pytest.raises(DBAPIError) as refused:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO journal_lines (tenant_id, id, entry_id, account_id, debit,"
                    " credit, currency, posted_on, account_seq, balance_after)"
                    " VALUES (:tenant, :id, :entry, :account, 1.00, 0, 'EUR',"
                    " CAST(:posted_on AS date) + 1, 999, 0)"
                ),
                {
                    "tenant": owner.tenant_id,
                    "id": uuid4(),
                    "entry": line.entry_id,
                    "account": line.account_id,
                    "posted_on": line.posted_on,
                },
            )
    assert _sqlstate(refused.value) == "LL004"


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM ledger_unchecked_entries",
        "DELETE FROM ledger_unchecked_entries",
    ],
)
async def test_the_runtime_role_cannot_touch_the_entries_to_be_checked(
    database: Database, owner: Account, statement: str
) -> None:
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(text(statement))


async def test_another_tenants_invoice_is_not_found(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor = await invoices.vendor(client, owner)
    invoice = await approved_invoice(client, owner, vendor, LAPTOP)
    stranger = await signup(client, "stranger-assets")
    category = await assets.category(client, stranger, salvage_percent="0")
    made = await client.post(
        f"{API}/assets",
        json={
            "name": "Laptop",
            "category_id": category,
            "acquisition_date": "2026-03-01",
            "in_service_date": "2026-03-01",
            "cost": "2400.00",
            "currency": "EUR",
            "purchase_invoice_id": invoice["id"],
            "purchase_invoice_line": 1,
        },
        headers=stranger.headers,
    )
    assert made.status_code == 404, made.text


async def test_a_categorys_accounts_stay_once_its_assets_are_posted(
    client: httpx.AsyncClient, owner: Account
) -> None:
    made = await client.post(
        f"{API}/ledger/accounts",
        json={"code": "1510", "name": "IT hardware", "type": "asset"},
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    category = await assets.category(client, owner)

    async def point_at_1510(category_id: str) -> httpx.Response:
        url = f"{API}/asset-categories/{category_id}"
        etag = (await client.get(url, headers=owner.headers)).headers["etag"]
        return await client.patch(
            url,
            json={"asset_account_code": "1510"},
            headers={**owner.headers, "If-Match": etag},
        )

    asset = await assets.asset(client, owner, category)
    capitalized = await client.post(
        f"{API}/assets/{asset['id']}/capitalize", json={}, headers=owner.headers
    )
    assert capitalized.status_code in (200, 201), capitalized.text
    refused = await point_at_1510(category)
    assert (refused.status_code, problem_code(refused)) == (409, "category_accounts_in_use")
    unused = await assets.category(client, owner, name="Furniture")
    assert (await point_at_1510(unused)).status_code == 200
