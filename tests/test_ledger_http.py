"""The chart of accounts, manual entries, transfers, periods and the account ledger,
through HTTP as owners and assistants."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from ledgerline.db.engine import Database
from tests.helpers.audit import audit_events
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.invoices import vendor
from tests.helpers.ledger import by_code, cache_disagreements, http_accounts, trial_balance


async def new_account(
    client: httpx.AsyncClient, who: Account, code: str, **fields: Any
) -> httpx.Response:
    body = {"code": code, "name": f"Account {code}", "type": "asset"} | fields
    return await client.post(f"{API}/ledger/accounts", json=body, headers=who.headers)


async def entry(
    client: httpx.AsyncClient, who: Account, lines: list[dict[str, str]], on: str = "2026-03-05"
) -> httpx.Response:
    return await client.post(
        f"{API}/ledger/entries",
        json={"on": on, "memo": "By hand", "lines": lines},
        headers=who.headers,
    )


def dr(account: str, amount: str) -> dict[str, str]:
    return {"account_id": account, "debit": amount, "currency": "EUR"}


def cr(account: str, amount: str) -> dict[str, str]:
    return {"account_id": account, "credit": amount, "currency": "EUR"}


async def transfer(
    client: httpx.AsyncClient, who: Account, source: str, target: str, amount: str, **more: str
) -> httpx.Response:
    body = {
        "from_account_id": source,
        "to_account_id": target,
        "amount": amount,
        "currency": "EUR",
        "on": "2026-03-06",
    } | more
    return await client.post(f"{API}/transfers", json=body, headers=who.headers)


async def test_the_default_chart_comes_with_every_tenant(
    client: httpx.AsyncClient, owner: Account
) -> None:
    accounts = await http_accounts(client, owner)
    assert {code: (a["name"], a["type"]) for code, a in accounts.items()} == {
        "1000": ("Bank", "asset"),
        "1400": ("Input tax receivable", "asset"),
        "1500": ("Fixed assets at cost", "asset"),
        "1590": ("Accumulated depreciation", "asset"),
        "1595": ("Accumulated impairment", "asset"),
        "2000": ("Accounts payable", "liability"),
        "2150": ("Goods received not invoiced", "liability"),
        "2400": ("Payable to financing funders", "liability"),
        "3000": ("Retained earnings", "equity"),
        "3100": ("Revaluation surplus", "equity"),
        "4900": ("Financing income", "income"),
        "6000": ("General expenses", "expense"),
        "6800": ("Depreciation expense", "expense"),
        "6850": ("Impairment loss", "expense"),
        "7900": ("Gain or loss on disposal", "income"),
        "9999": ("Suspense", "liability"),
    }


async def test_owners_create_rename_and_deactivate_accounts(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await new_account(client, owner, "1010", name="Petty cash", overdraft_limit="0.00")
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["overdraft_limit"], account["active"]) == ("0.00", True)
    taken = await new_account(client, owner, "1010")
    assert (taken.status_code, problem_code(taken)) == (409, "account_code_taken")
    limit = await new_account(client, owner, "2100", type="liability", overdraft_limit="5.00")
    assert (limit.status_code, problem_code(limit)) == (422, "overdraft_limit_not_asset")

    url = f"{API}/ledger/accounts/{account['id']}"
    renamed = await client.patch(
        url, json={"name": "Till"}, headers=owner.headers | {"If-Match": created.headers["etag"]}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Till"
    recoded = await client.patch(
        url, json={"code": "1011"}, headers=owner.headers | {"If-Match": "*"}
    )
    assert recoded.status_code == 422
    off = await client.patch(
        url, json={"active": False}, headers=owner.headers | {"If-Match": renamed.headers["etag"]}
    )
    assert off.json()["active"] is False
    bank = (await http_accounts(client, owner))["1000"]["id"]
    refused = await entry(client, owner, [dr(account["id"], "1.00"), cr(bank, "1.00")])
    assert (refused.status_code, problem_code(refused)) == (409, "account_inactive")
    actions = {event["action"] for event in await audit_events(client, owner)}
    assert {"ledger.account_created", "ledger.account_updated"} <= actions


async def test_assistants_read_the_ledger_but_neither_post_nor_close(
    client: httpx.AsyncClient, owner: Account
) -> None:
    assistant = await add_user(client, owner, "ash@ownerco.example.com")
    accounts = await http_accounts(client, assistant)
    bank, expenses = accounts["1000"]["id"], accounts["6000"]["id"]
    assert (await new_account(client, assistant, "1010")).status_code == 403
    assert (await entry(client, assistant, [dr(expenses, "1"), cr(bank, "1")])).status_code == 403
    assert (await transfer(client, assistant, bank, accounts["1500"]["id"], "1")).status_code == 403
    close = await client.post(f"{API}/ledger/periods/2026-03/close", headers=assistant.headers)
    assert close.status_code == 403
    assert (await client.get(f"{API}/ledger/trial-balance", headers=assistant.headers)).is_success


async def test_manual_entries_balance_and_reverse_once(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    accounts = await http_accounts(client, owner)
    bank, equity = accounts["1000"]["id"], accounts["3000"]["id"]
    unbalanced = await entry(client, owner, [dr(bank, "100.00"), cr(equity, "99.99")])
    assert (unbalanced.status_code, problem_code(unbalanced)) == (422, "unbalanced_entry")
    one_sided = await entry(
        client, owner, [dr(bank, "1.00"), {"account_id": equity, "currency": "EUR"}]
    )
    assert (one_sided.status_code, problem_code(one_sided)) == (422, "invalid_entry_line")
    other = await signup(client, "otherco")
    their_vendor = await vendor(client, other)
    foreign_party = await entry(
        client, owner, [dr(bank, "1.00") | {"vendor_id": their_vendor}, cr(equity, "1.00")]
    )
    assert (foreign_party.status_code, problem_code(foreign_party)) == (422, "vendor_not_found")
    posted = await client.post(
        f"{API}/ledger/entries",
        json={"on": "2026-03-05", "lines": [dr(bank, "100.00"), cr(equity, "100.00")]},
        headers=owner.headers | {"Idempotency-Key": "capital-1"},
    )
    assert posted.status_code == 201, posted.text
    replayed = await client.post(
        f"{API}/ledger/entries",
        json={"on": "2026-03-05", "lines": [dr(bank, "100.00"), cr(equity, "100.00")]},
        headers=owner.headers | {"Idempotency-Key": "capital-1"},
    )
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["id"] == posted.json()["id"]
    assert by_code(await trial_balance(client, owner))["1000"] == ("100.00", "0.00", "100.00")

    url = f"{API}/ledger/entries/{posted.json()['id']}/reverse"
    reversal = await client.post(url, headers=owner.headers)
    assert reversal.status_code == 201, reversal.text
    assert reversal.json()["reverses"] == posted.json()["id"]
    twice = await client.post(url, headers=owner.headers)
    assert (twice.status_code, problem_code(twice)) == (409, "entry_already_reversed")
    of_reversal = await client.post(
        f"{API}/ledger/entries/{reversal.json()['id']}/reverse", headers=owner.headers
    )
    assert (of_reversal.status_code, problem_code(of_reversal)) == (409, "entry_is_reversal")
    assert by_code(await trial_balance(client, owner))["1000"] == ("100.00", "100.00", "0.00")
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_transfers_stop_at_the_overdraft_limit_and_post_nothing_past_it(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    accounts = await http_accounts(client, owner)
    bank, equity = accounts["1000"]["id"], accounts["3000"]["id"]
    till = (await new_account(client, owner, "1010", overdraft_limit="0.00")).json()["id"]
    assert (await entry(client, owner, [dr(till, "80.00"), cr(equity, "80.00")])).status_code == 201
    moved = await transfer(client, owner, till, bank, "50.00", memo="To the bank")
    assert moved.status_code == 201, moved.text
    assert (moved.json()["amount"], moved.json()["on"]) == ("50.00", "2026-03-06")
    short = await transfer(client, owner, till, bank, "30.01")
    assert (short.status_code, problem_code(short)) == (409, "insufficient_funds")
    assert by_code(await trial_balance(client, owner))["1010"] == ("80.00", "50.00", "30.00")
    not_asset = await transfer(client, owner, till, equity, "1.00")
    assert (not_asset.status_code, problem_code(not_asset)) == (422, "transfer_account_not_asset")
    other = await signup(client, "otherco")
    theirs = (await http_accounts(client, other))["1000"]["id"]
    foreign = await transfer(client, owner, till, theirs, "1.00")
    assert (foreign.status_code, problem_code(foreign)) == (422, "account_not_found")
    listed = await client.get(
        f"{API}/transfers", params={"account_id": till}, headers=owner.headers
    )
    assert [t["id"] for t in listed.json()["items"]] == [moved.json()["id"]]
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_closing_and_reopening_months(client: httpx.AsyncClient, owner: Account) -> None:
    accounts = await http_accounts(client, owner)
    bank, equity = accounts["1000"]["id"], accounts["3000"]["id"]
    for month in ("2026-02", "2026-03"):
        closed = await client.post(f"{API}/ledger/periods/{month}/close", headers=owner.headers)
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
    again = await client.post(f"{API}/ledger/periods/2026-03/close", headers=owner.headers)
    assert (again.status_code, problem_code(again)) == (409, "period_closed")
    late = await entry(client, owner, [dr(bank, "5.00"), cr(equity, "5.00")], on="2026-02-20")
    assert (late.json()["occurred_on"], late.json()["posted_on"]) == ("2026-02-20", "2026-04-01")

    earlier = await client.post(f"{API}/ledger/periods/2026-02/reopen", headers=owner.headers)
    assert (earlier.status_code, problem_code(earlier)) == (409, "not_latest_closed_period")
    latest = await client.post(f"{API}/ledger/periods/2026-03/reopen", headers=owner.headers)
    assert latest.json()["status"] == "open"
    periods = await client.get(f"{API}/ledger/periods", headers=owner.headers)
    assert [(p["period"], p["status"]) for p in periods.json()] == [
        ("2026-04", "open"),
        ("2026-03", "open"),
        ("2026-02", "closed"),
    ]
    bad = await client.post(f"{API}/ledger/periods/2026-13/close", headers=owner.headers)
    assert bad.status_code == 422
    actions = [event["action"] for event in await audit_events(client, owner)]
    assert actions.count("ledger.period_closed") == 2
    assert actions.count("ledger.period_reopened") == 1


async def test_an_accounts_lines_carry_their_running_balance_across_pages(
    client: httpx.AsyncClient, owner: Account
) -> None:
    accounts = await http_accounts(client, owner)
    bank, equity = accounts["1000"]["id"], accounts["3000"]["id"]
    for amount in ("10.00", "20.00", "30.00"):
        await entry(client, owner, [dr(bank, amount), cr(equity, amount)])
    await entry(client, owner, [dr(equity, "15.00"), cr(bank, "15.00")])
    seen: list[tuple[int, str, str, str]] = []
    cursor = None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        page = await client.get(
            f"{API}/ledger/accounts/{bank}/lines", params=params, headers=owner.headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [(i["seq"], i["debit"], i["credit"], i["balance"]) for i in body["items"]]
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == [
        (1, "10.00", "0.00", "10.00"),
        (2, "20.00", "0.00", "30.00"),
        (3, "30.00", "0.00", "60.00"),
        (4, "0.00", "15.00", "45.00"),
    ]


async def test_the_trial_balance_as_csv(client: httpx.AsyncClient, owner: Account) -> None:
    accounts = await http_accounts(client, owner)
    await entry(
        client, owner, [dr(accounts["1000"]["id"], "12.50"), cr(accounts["3000"]["id"], "12.50")]
    )
    answer = await client.get(f"{API}/ledger/trial-balance.csv", headers=owner.headers)
    assert answer.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(answer.text))) == [
        {
            "code": "1000",
            "name": "Bank",
            "type": "asset",
            "currency": "EUR",
            "debit": "12.50",
            "credit": "0.00",
            "balance": "12.50",
        },
        {
            "code": "3000",
            "name": "Retained earnings",
            "type": "equity",
            "currency": "EUR",
            "debit": "0.00",
            "credit": "12.50",
            "balance": "-12.50",
        },
    ]
