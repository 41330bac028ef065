"""What the ledger's endpoints refuse, and with which problem, through HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account
from tests.helpers.invoices import vendor
from tests.helpers.ledger import approved_invoice, http_accounts, pay

PAPER = [{"description": "Paper", "quantity": "1", "unit_price": "100.00", "tax_rate": "0.19"}]


async def post_entry(
    client: httpx.AsyncClient, who: Account, lines: list[dict[str, str]]
) -> httpx.Response:
    return await client.post(
        f"{API}/ledger/entries", json={"on": "2026-03-05", "lines": lines}, headers=who.headers
    )


async def dollar_account(client: httpx.AsyncClient, who: Account) -> str:
    created = await client.post(
        f"{API}/ledger/accounts",
        json={"code": "1020", "name": "Dollar account", "type": "asset", "currency": "USD"},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_invoice_and_payment_entries_are_reversed_through_their_source(
    client: httpx.AsyncClient, owner: Account
) -> None:
    invoice = await approved_invoice(client, owner, await vendor(client, owner), PAPER)
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_id": invoice["id"]}, headers=owner.headers
    )
    (approval,) = entries.json()["items"]
    answer = await client.post(
        f"{API}/ledger/entries/{approval['id']}/reverse", headers=owner.headers
    )
    assert (answer.status_code, problem_code(answer)) == (409, "reverse_through_source")


async def test_a_payment_recorded_before_the_ledger_cannot_be_reversed(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    invoice = await approved_invoice(client, owner, await vendor(client, owner), PAPER)
    legacy = new_id()
    async with database.tenant_transaction(owner.tenant_id) as session:
        await session.execute(
            text(
                "INSERT INTO invoice_payments (tenant_id, id, invoice_id, vendor_id, currency,"
                " paid_on, amount, version) VALUES (:tenant, :id, :invoice, :vendor, 'EUR',"
                " '2026-03-02', 10, 1)"
            ),
            {
                "tenant": owner.tenant_id,
                "id": legacy,
                "invoice": invoice["id"],
                "vendor": invoice["vendor_id"],
            },
        )
    answer = await client.post(
        f"{API}/payments/{legacy}/reverse", headers=owner.headers | {"If-Match": "*"}
    )
    assert (answer.status_code, problem_code(answer)) == (409, "payment_not_posted")
    read = await client.get(f"{API}/payments/{legacy}", headers=owner.headers)
    assert read.json()["journal_entry"] is None


async def test_accounts_refuse_other_currencies(client: httpx.AsyncClient, owner: Account) -> None:
    dollars = await dollar_account(client, owner)
    equity = (await http_accounts(client, owner))["3000"]["id"]
    euros = await post_entry(
        client,
        owner,
        [
            {"account_id": dollars, "debit": "5.00", "currency": "EUR"},
            {"account_id": equity, "credit": "5.00", "currency": "EUR"},
        ],
    )
    assert (euros.status_code, problem_code(euros)) == (422, "account_currency_mismatch")
    invoice = await approved_invoice(client, owner, await vendor(client, owner), PAPER)
    paid = await pay(client, owner, invoice["id"], "5.00", paying_account_id=dollars)
    assert (paid.status_code, problem_code(paid)) == (422, "account_currency_mismatch")


async def test_an_entry_may_name_only_the_tenants_accounts(
    client: httpx.AsyncClient, owner: Account
) -> None:
    equity = (await http_accounts(client, owner))["3000"]["id"]
    answer = await post_entry(
        client,
        owner,
        [
            {"account_id": str(new_id()), "debit": "5.00", "currency": "EUR"},
            {"account_id": equity, "credit": "5.00", "currency": "EUR"},
        ],
    )
    assert (answer.status_code, problem_code(answer)) == (422, "account_not_found")


async def test_an_accounts_lines_in_several_currencies_need_one_chosen(
    client: httpx.AsyncClient, owner: Account
) -> None:
    accounts = await http_accounts(client, owner)
    bank, equity = accounts["1000"]["id"], accounts["3000"]["id"]
    for currency in ("EUR", "USD"):
        posted = await post_entry(
            client,
            owner,
            [
                {"account_id": bank, "debit": "5.00", "currency": currency},
                {"account_id": equity, "credit": "5.00", "currency": currency},
            ],
        )
        assert posted.status_code == 201, posted.text
    url = f"{API}/ledger/accounts/{bank}/lines"
    unchosen = await client.get(url, headers=owner.headers)
    assert (unchosen.status_code, problem_code(unchosen)) == (422, "currency_required")
    chosen = await client.get(url, params={"currency": "USD"}, headers=owner.headers)
    assert [line["currency"] for line in chosen.json()["items"]] == ["USD"]


async def test_a_vendors_default_account_is_an_active_expense_or_asset_account(
    client: httpx.AsyncClient, owner: Account
) -> None:
    payable = (await http_accounts(client, owner))["2000"]["id"]
    answer = await client.post(
        f"{API}/vendors",
        json={"name": "Odd GmbH", "default_currency": "EUR", "default_expense_account_id": payable},
        headers=owner.headers,
    )
    assert (answer.status_code, problem_code(answer)) == (422, "expense_account_invalid")
    unknown = await client.post(
        f"{API}/vendors",
        json={
            "name": "Odd GmbH",
            "default_currency": "EUR",
            "default_expense_account_id": str(new_id()),
        },
        headers=owner.headers,
    )
    assert (unknown.status_code, problem_code(unknown)) == (422, "account_not_found")


async def test_a_transfer_needs_two_accounts_and_a_month_reopens_only_when_closed(
    client: httpx.AsyncClient, owner: Account
) -> None:
    bank = (await http_accounts(client, owner))["1000"]["id"]
    same = await client.post(
        f"{API}/transfers",
        json={
            "from_account_id": bank,
            "to_account_id": bank,
            "amount": "1.00",
            "currency": "EUR",
            "on": "2026-03-01",
        },
        headers=owner.headers,
    )
    assert (same.status_code, problem_code(same)) == (422, "same_account")
    reopened = await client.post(f"{API}/ledger/periods/2026-03/reopen", headers=owner.headers)
    assert (reopened.status_code, problem_code(reopened)) == (409, "period_open")
