"""Assets bought on invoice lines (both orders, by hand figures), per-category accounts,
and the scheduled run of the worker."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx

from ledgerline.assets.scheduled import ScheduledDepreciation
from ledgerline.db.engine import Database
from tests.helpers import assets, invoices
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account
from tests.helpers.ledger import approved_invoice, balances, cache_disagreements

D = Decimal
LINES = [
    {"description": "Laptop", "quantity": "1", "unit_price": "2400.00", "tax_rate": "0"},
    {"description": "Paper", "quantity": "1", "unit_price": "100.00", "tax_rate": "0"},
]


def balance(found: dict[tuple[str, str], Decimal], code: str) -> Decimal:
    return found.get((code, "EUR"), D("0.00"))


async def bought(
    client: httpx.AsyncClient, who: Account, category: str, invoice_id: str, **fields: str
) -> httpx.Response:
    body = {
        "name": "Laptop",
        "category_id": category,
        "acquisition_date": "2026-03-01",
        "in_service_date": "2026-03-01",
        "cost": "2400.00",
        "currency": "EUR",
        "purchase_invoice_id": invoice_id,
        "purchase_invoice_line": 1,
    } | fields
    return await client.post(f"{API}/assets", json=body, headers=who.headers)


async def test_a_line_approved_before_the_asset_is_reclassified_to_1500(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    vendor = await invoices.vendor(client, owner)
    invoice = await approved_invoice(client, owner, vendor, LINES)
    category = await assets.category(client, owner, salvage_percent="0")
    found = await balances(database, owner.tenant_id)
    assert (balance(found, "6000"), balance(found, "2000")) == (D("2500.00"), D("-2500.00"))

    made = await bought(client, owner, category, invoice["id"])
    assert made.status_code == 201, made.text
    assert made.json()["acquisition_entry_id"] is not None
    found = await balances(database, owner.tenant_id)
    # Dr 1500 2,400.00 / Cr 6000 2,400.00: the paper stays an expense.
    assert (balance(found, "1500"), balance(found, "6000")) == (D("2400.00"), D("100.00"))
    capitalized = await client.post(
        f"{API}/assets/{made.json()['id']}/capitalize", json={}, headers=owner.headers
    )
    assert (capitalized.status_code, problem_code(capitalized)) == (409, "asset_bought_on_invoice")
    again = await bought(client, owner, category, invoice["id"], tag="A-2")
    assert (again.status_code, problem_code(again)) == (409, "invoice_line_has_asset")
    wrong = await bought(client, owner, category, invoice["id"], purchase_invoice_line=2)
    assert (wrong.status_code, problem_code(wrong)) == (422, "cost_differs_from_invoice_line")
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_a_line_linked_before_approval_posts_to_the_category_account(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    await client.post(
        f"{API}/ledger/accounts",
        json={"code": "1510", "name": "IT hardware", "type": "asset"},
        headers=owner.headers,
    )
    category = await assets.category(
        client, owner, name="Hardware", salvage_percent="0", asset_account_code="1510"
    )
    vendor = await invoices.vendor(client, owner)
    created = await invoices.invoice(client, owner, vendor, lines=LINES)
    assert created.status_code == 201, created.text
    invoice_id = created.json()["id"]
    assert (await invoices.step(client, owner, invoice_id, "submit")).status_code == 200
    made = await bought(client, owner, category, invoice_id)
    assert made.status_code == 201, made.text
    assert made.json()["acquisition_entry_id"] is None
    assert (await invoices.step(client, owner, invoice_id, "approve")).status_code == 200

    found = await balances(database, owner.tenant_id)
    # The approval itself: Dr 1510 2,400.00, Dr 6000 100.00 / Cr 2000 2,500.00.
    assert (balance(found, "1510"), balance(found, "6000"), balance(found, "2000")) == (
        D("2400.00"),
        D("100.00"),
        D("-2500.00"),
    )
    asset = await client.get(f"{API}/assets/{made.json()['id']}", headers=owner.headers)
    assert asset.json()["acquisition_entry_id"] is not None
    voided = await invoices.step(client, owner, invoice_id, "void")
    assert (voided.status_code, problem_code(voided)) == (409, "invoice_has_assets")


async def test_a_category_names_accounts_of_the_right_type(
    client: httpx.AsyncClient, owner: Account
) -> None:
    answer = await client.post(
        f"{API}/asset-categories",
        json={
            "name": "Vans",
            "depreciation_method": "straight_line",
            "useful_life_months": 60,
            "depreciation_expense_account_code": "1000",
        },
        headers=owner.headers,
    )
    assert (answer.status_code, problem_code(answer)) == (422, "category_account_wrong_type")


async def test_the_worker_posts_last_month_once_for_a_tenant_that_turned_it_on(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    category = await assets.category(client, owner, salvage_percent="0")
    await assets.asset(
        client,
        owner,
        category,
        acquisition_date="2026-09-01",
        in_service_date="2026-09-01",
        cost="6000.00",
    )
    read = await client.get(f"{API}/depreciation-schedule", headers=owner.headers)
    turned = await client.put(
        f"{API}/depreciation-schedule",
        json={"auto": True},
        headers=owner.headers | {"If-Match": read.headers["etag"]},
    )
    assert turned.status_code == 200, turned.text
    job = ScheduledDepreciation(database)
    await job.run_once(today=date(2026, 11, 5))
    await job.run_once(today=date(2026, 11, 5))
    found = await balances(database, owner.tenant_id)
    # September and October, 100.00 each, posted once.
    assert balance(found, "6800") == D("200.00")
    state = await client.get(f"{API}/depreciation-schedule", headers=owner.headers)
    assert state.json() == {"auto": True, "last_period": "2026-10"}
