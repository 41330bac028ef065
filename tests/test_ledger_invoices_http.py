"""Invoices and payments post to the ledger, through HTTP, with figures worked by hand."""

from __future__ import annotations

import httpx
import pytest

from ledgerline.db.engine import Database
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, signup
from tests.helpers.invoices import vendor
from tests.helpers.ledger import (
    approved_invoice,
    by_code,
    cache_disagreements,
    http_accounts,
    pay,
    trial_balance,
)

PAPER = [{"description": "Paper", "quantity": "1000", "unit_price": "1.00", "tax_rate": "0.19"}]


async def test_an_invoice_of_1000_plus_19_percent_paid_in_two_parts(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    vendor_id = await vendor(client, owner)
    invoice = await approved_invoice(client, owner, vendor_id, PAPER)
    assert invoice["total"] == "1190.00"
    assert by_code(await trial_balance(client, owner)) == {
        "1400": ("190.00", "0.00", "190.00"),
        "2000": ("0.00", "1190.00", "-1190.00"),
        "6000": ("1000.00", "0.00", "1000.00"),
    }
    assert (await pay(client, owner, invoice["id"], "500.00")).status_code == 200
    paid = await pay(
        client, owner, invoice["id"], "690.00", paid_on="2026-03-12", reference="SEPA-2"
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    trial = await trial_balance(client, owner)
    assert by_code(trial) == {
        "1000": ("0.00", "1190.00", "-1190.00"),
        "1400": ("190.00", "0.00", "190.00"),
        "2000": ("1190.00", "1190.00", "0.00"),
        "6000": ("1000.00", "0.00", "1000.00"),
    }
    assert trial["totals"] == [{"currency": "EUR", "debit": "2380.00", "credit": "2380.00"}]
    # As of the day of the first payment, only it had been paid.
    early = by_code(await trial_balance(client, owner, as_of="2026-03-10"))
    assert early["1000"] == ("0.00", "500.00", "-500.00")
    before = by_code(await trial_balance(client, owner, as_of="2026-03-09"))
    assert "1000" not in before
    assert before["2000"] == ("0.00", "1190.00", "-1190.00")
    assert await cache_disagreements(database, owner.tenant_id) == []

    payables = await client.get(f"{API}/ledger/payables", headers=owner.headers)
    assert payables.json()["vendors"] == []
    halfway = await client.get(
        f"{API}/ledger/payables", params={"as_of": "2026-03-10"}, headers=owner.headers
    )
    assert halfway.json()["vendors"] == [
        {
            "vendor_id": vendor_id,
            "vendor_name": "Paper GmbH",
            "currency": "EUR",
            "open_amount": "690.00",
        }
    ]


async def test_lines_post_to_their_account_then_the_vendors_default_then_6000(
    client: httpx.AsyncClient, owner: Account
) -> None:
    accounts = await http_accounts(client, owner)
    created = await client.post(
        f"{API}/ledger/accounts",
        json={"code": "6100", "name": "Office supplies", "type": "expense"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    supplies = created.json()["id"]
    plain = await vendor(client, owner, "Plain GmbH")
    answer = await client.post(
        f"{API}/vendors",
        json={
            "name": "Office GmbH",
            "default_currency": "EUR",
            "default_expense_account_id": supplies,
        },
        headers=owner.headers,
    )
    assert answer.status_code == 201, answer.text
    office = answer.json()["id"]
    lines = [
        {"description": "Toner", "quantity": "1", "unit_price": "100.00", "tax_rate": "0.19"},
        {"description": "Repair", "quantity": "1", "unit_price": "50.00", "account_code": "6800"},
    ]
    await approved_invoice(client, owner, office, lines, number="O-1")
    await approved_invoice(client, owner, plain, lines[:1], number="P-1")
    trial = by_code(await trial_balance(client, owner))
    assert trial["6100"] == ("100.00", "0.00", "100.00")
    assert trial["6800"] == ("50.00", "0.00", "50.00")
    assert trial["6000"] == ("100.00", "0.00", "100.00")
    assert trial["1400"] == ("38.00", "0.00", "38.00")
    assert trial["2000"] == ("0.00", "288.00", "-288.00")
    assert accounts["6800"]["name"] == "Depreciation expense"

    unknown = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": plain,
            "number": "P-2",
            "issue_date": "2026-03-01",
            "lines": [lines[0] | {"account_code": "6543"}],
        },
        headers=owner.headers,
    )
    assert (unknown.status_code, problem_code(unknown)) == (422, "unknown_account_code")


async def test_voiding_an_approved_invoice_posts_its_reversal(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    invoice = await approved_invoice(client, owner, await vendor(client, owner), PAPER)
    voided = await client.post(
        f"{API}/invoices/{invoice['id']}/void", headers=owner.headers | {"If-Match": "*"}
    )
    assert voided.status_code == 200, voided.text
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_id": invoice["id"]}, headers=owner.headers
    )
    approval, void = sorted(entries.json()["items"], key=lambda e: e["kind"])
    assert (approval["kind"], void["kind"], void["reverses"]) == (
        "approval",
        "void",
        approval["id"],
    )
    trial = by_code(await trial_balance(client, owner))
    assert trial["2000"] == ("1190.00", "1190.00", "0.00")
    assert trial["6000"] == ("1000.00", "1000.00", "0.00")
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_what_a_payment_may_not_be(client: httpx.AsyncClient, owner: Account) -> None:
    invoice = await approved_invoice(client, owner, await vendor(client, owner), PAPER)
    accounts = await http_accounts(client, owner)
    early = await pay(client, owner, invoice["id"], "10.00", paid_on="2026-02-28")
    assert (early.status_code, problem_code(early)) == (422, "payment_before_issue")
    liability = await pay(
        client, owner, invoice["id"], "10.00", paying_account_id=accounts["2000"]["id"]
    )
    assert (liability.status_code, problem_code(liability)) == (422, "paying_account_invalid")
    too_much = await pay(client, owner, invoice["id"], "1190.01")
    assert (too_much.status_code, problem_code(too_much)) == (422, "overpayment")
    from_fixed = await pay(
        client, owner, invoice["id"], "10.00", paying_account_id=accounts["1500"]["id"]
    )
    assert from_fixed.status_code == 200, from_fixed.text
    trial = by_code(await trial_balance(client, owner))
    assert trial["1500"] == ("0.00", "10.00", "-10.00")


async def test_payments_are_a_resource_and_a_reversal_reopens_the_invoice(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    vendor_id = await vendor(client, owner)
    invoice = await approved_invoice(client, owner, vendor_id, PAPER)
    await pay(client, owner, invoice["id"], "190.00", paid_on="2026-03-05", reference="A")
    await pay(client, owner, invoice["id"], "1000.00", paid_on="2026-03-20", reference="B")
    listed = await client.get(f"{API}/invoices/{invoice['id']}/payments", headers=owner.headers)
    first, second = listed.json()
    assert (first["amount"], first["paid_on"], first["reference"]) == ("190.00", "2026-03-05", "A")
    in_range = await client.get(
        f"{API}/payments",
        params={"vendor_id": vendor_id, "paid_from": "2026-03-10", "paid_to": "2026-03-31"},
        headers=owner.headers,
    )
    assert [p["id"] for p in in_range.json()["items"]] == [second["id"]]

    read = await client.get(f"{API}/payments/{second['id']}", headers=owner.headers)
    detail = read.json()
    assert detail["journal_entry"]["id"] == detail["entry_id"]
    assert {(line["debit"], line["credit"]) for line in detail["journal_entry"]["lines"]} == {
        ("1000.00", "0.00"),
        ("0.00", "1000.00"),
    }
    url = f"{API}/payments/{second['id']}/reverse"
    unconditional = await client.post(url, headers=owner.headers)
    assert unconditional.status_code == 428
    reversed_ = await client.post(url, headers=owner.headers | {"If-Match": read.headers["etag"]})
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["reversal_entry_id"] is not None
    stale = await client.post(url, headers=owner.headers | {"If-Match": read.headers["etag"]})
    assert stale.status_code == 412
    again = await client.post(url, headers=owner.headers | {"If-Match": "*"})
    assert (again.status_code, problem_code(again)) == (409, "payment_reversed")

    now = (await client.get(f"{API}/invoices/{invoice['id']}", headers=owner.headers)).json()
    assert (now["status"], now["amount_paid"]) == ("approved", "190.00")
    trial = by_code(await trial_balance(client, owner))
    assert trial["1000"] == ("1000.00", "1190.00", "-190.00")
    payables = (await client.get(f"{API}/ledger/payables", headers=owner.headers)).json()
    assert payables["vendors"] == [
        {
            "vendor_id": vendor_id,
            "vendor_name": "Paper GmbH",
            "currency": "EUR",
            "open_amount": "1000.00",
        }
    ]
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_an_invoice_dated_in_a_closed_month_posts_in_the_next_open_one(
    client: httpx.AsyncClient, owner: Account
) -> None:
    closed = await client.post(f"{API}/ledger/periods/2026-02/close", headers=owner.headers)
    assert closed.status_code == 200, closed.text
    invoice = await approved_invoice(
        client, owner, await vendor(client, owner), PAPER, issue_date="2026-02-14"
    )
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_id": invoice["id"]}, headers=owner.headers
    )
    (entry,) = entries.json()["items"]
    assert (entry["occurred_on"], entry["posted_on"], entry["period"]) == (
        "2026-02-14",
        "2026-03-01",
        "2026-03",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/ledger/accounts/{account}",
        "/ledger/accounts/{account}/lines",
        "/ledger/entries/{entry}",
        "/payments/{payment}",
        "/transfers/{transfer}",
    ],
)
async def test_another_tenants_ids_are_404(
    client: httpx.AsyncClient, owner: Account, path: str
) -> None:
    other = await signup(client, "otherco")
    theirs = await http_accounts(client, other)
    invoice = await approved_invoice(client, other, await vendor(client, other), PAPER)
    assert (await pay(client, other, invoice["id"], "10.00")).status_code == 200
    listed = await client.get(f"{API}/invoices/{invoice['id']}/payments", headers=other.headers)
    payment = listed.json()[0]
    moved = await client.post(
        f"{API}/transfers",
        json={
            "from_account_id": theirs["1000"]["id"],
            "to_account_id": theirs["1500"]["id"],
            "amount": "1.00",
            "currency": "EUR",
            "on": "2026-03-02",
        },
        headers=other.headers,
    )
    assert moved.status_code == 201, moved.text
    ids = {
        "account": theirs["1000"]["id"],
        "entry": payment["entry_id"],
        "payment": payment["id"],
        "transfer": moved.json()["id"],
    }
    mine = await client.get(f"{API}{path.format(**ids)}", headers=other.headers)
    assert mine.status_code == 200, mine.text
    foreign = await client.get(f"{API}{path.format(**ids)}", headers=owner.headers)
    assert foreign.status_code == 404, foreign.text


async def test_a_step_whose_posting_is_refused_does_not_happen(
    client: httpx.AsyncClient, owner: Account
) -> None:
    accounts = await http_accounts(client, owner)
    invoice = await approved_invoice(client, owner, await vendor(client, owner), PAPER)
    bank = f"{API}/ledger/accounts/{accounts['1000']['id']}"
    closed = await client.patch(
        bank, json={"active": False}, headers=owner.headers | {"If-Match": "*"}
    )
    assert closed.status_code == 200, closed.text
    refused = await pay(client, owner, invoice["id"], "100.00")
    assert (refused.status_code, problem_code(refused)) == (409, "account_inactive")
    unpaid = (await client.get(f"{API}/invoices/{invoice['id']}", headers=owner.headers)).json()
    assert (unpaid["amount_paid"], unpaid["status"]) == ("0.00", "approved")
    listed = await client.get(f"{API}/invoices/{invoice['id']}/payments", headers=owner.headers)
    assert listed.json() == []

    payable = f"{API}/ledger/accounts/{accounts['2000']['id']}"
    await client.patch(payable, json={"active": False}, headers=owner.headers | {"If-Match": "*"})
    created = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": invoice["vendor_id"],
            "number": "INV-2",
            "issue_date": "2026-03-20",  # not within 7 days: no possible duplicate
            "lines": PAPER,
        },
        headers=owner.headers,
    )
    second = created.json()["id"]
    submitted = await client.post(
        f"{API}/invoices/{second}/submit", headers=owner.headers | {"If-Match": "*"}
    )
    assert submitted.status_code == 200, submitted.text
    approve = await client.post(
        f"{API}/invoices/{second}/approve", headers=owner.headers | {"If-Match": "*"}
    )
    assert (approve.status_code, problem_code(approve)) == (409, "account_inactive")
    still = (await client.get(f"{API}/invoices/{second}", headers=owner.headers)).json()
    assert still["status"] == "submitted"
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_id": second}, headers=owner.headers
    )
    assert entries.json()["items"] == []


async def test_approving_paying_and_voiding_replay_under_an_idempotency_key(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": await vendor(client, owner),
            "number": "I-9",
            "issue_date": "2026-03-02",
            "lines": PAPER,
        },
        headers=owner.headers,
    )
    invoice_id = created.json()["id"]
    submitted = await client.post(
        f"{API}/invoices/{invoice_id}/submit", headers=owner.headers | {"If-Match": "*"}
    )
    once = owner.headers | {"If-Match": submitted.headers["etag"], "Idempotency-Key": "approve-9"}
    first = await client.post(f"{API}/invoices/{invoice_id}/approve", headers=once)
    retried = await client.post(f"{API}/invoices/{invoice_id}/approve", headers=once)
    assert (first.status_code, retried.status_code) == (200, 200)
    assert retried.headers["idempotent-replayed"] == "true"
    paying = owner.headers | {"If-Match": "*", "Idempotency-Key": "pay-9"}
    body = {"paid_on": "2026-03-03", "amount": "10.00"}
    for _ in range(2):
        paid = await client.post(f"{API}/invoices/{invoice_id}/pay", json=body, headers=paying)
        assert paid.status_code == 200, paid.text
    listed = await client.get(f"{API}/invoices/{invoice_id}/payments", headers=owner.headers)
    assert len(listed.json()) == 1
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_id": invoice_id}, headers=owner.headers
    )
    assert [entry["kind"] for entry in entries.json()["items"]] == ["approval"]
