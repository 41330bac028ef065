"""A property of the whole ledger: whatever sequence of invoice, payment, transfer,
period and purchase order steps a tenant takes (through HTTP), the trial balance
balances per currency, every cached balance equals its lines, the accounts-payable
sub-ledger equals the open amounts of the approved invoices, no order line is matched
past what it received, and the goods-received-not-invoiced account holds exactly the
accruals not yet released.

Hypothesis draws the sequences (a fixed seed, LEDGER_PROPERTY_EXAMPLES of them, 12
unless set); every example is a tenant of its own.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from ledgerline.db.engine import Database
from tests.helpers.http import API
from tests.helpers.identity import Account, signup
from tests.helpers.ledger import cache_disagreements, http_accounts, trial_balance

EXAMPLES = int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "12"))
STEPS = (
    "create", "approve", "pay", "reverse", "void", "transfer", "close", "reopen", "credit",
    "rework", "order", "receive", "unreceive", "bill",
)  # fmt: skip
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04")
# A step that has nothing to act on takes the step that would make something.
PREREQUISITE = {
    "approve": "create",
    "pay": "approve",
    "reverse": "pay",
    "void": "create",
    "credit": "approve",
    "receive": "order",
    "unreceive": "receive",
    "bill": "receive",
}
_tenants = itertools.count()

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)
days = st.sampled_from([f"{month}-{day:02d}" for month in MONTHS for day in (1, 14, 28)])


@dataclass
class Book:
    """What the test knows of its tenant: invoices by id (with status, total, paid) and
    payments not reversed."""

    owner: Account
    accounts: dict[str, dict[str, Any]]
    vendors: list[str] = field(default_factory=list)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[str] = field(default_factory=list)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Purchase orders: (order id, its line's id, vendor index); receipts by order.
    orders: list[tuple[str, str, int]] = field(default_factory=list)
    receipts: list[tuple[str, str]] = field(default_factory=list)


async def _ok(answer: httpx.Response, *allowed: int) -> dict[str, Any]:
    assert answer.status_code in (200, 201, *allowed), answer.text
    return dict(answer.json()) if answer.status_code < 300 else {}


async def _step(client: httpx.AsyncClient, book: Book, step: str, data: st.DataObject) -> None:
    headers = book.owner.headers
    any_version = headers | {"If-Match": "*"}
    by_status: dict[str, list[str]] = defaultdict(list)
    for invoice_id, invoice in book.invoices.items():
        by_status[invoice["status"]].append(invoice_id)
    possible = {
        "approve": by_status["draft"],
        "pay": by_status["approved"],
        "reverse": book.payments,
        "void": by_status["approved"] + by_status["draft"],
        "credit": by_status["approved"],
        "receive": book.orders,
        "unreceive": book.receipts,
        "bill": book.receipts,
    }
    while step in possible and not possible[step]:
        step = PREREQUISITE[step]
    if step == "create":
        lines = [
            {
                "description": "Goods",
                "quantity": str(data.draw(st.integers(1, 3), label="quantity")),
                "unit_price": str(data.draw(amounts, label="price")),
                "tax_rate": data.draw(st.sampled_from(["0", "0.07", "0.19"]), label="rate"),
            }
            for _ in range(data.draw(st.integers(1, 2), label="lines"))
        ]
        body = {
            "vendor_id": data.draw(st.sampled_from(book.vendors), label="vendor"),
            "number": f"N-{len(book.invoices)}",
            "issue_date": data.draw(days, label="issued"),
            "lines": lines,
        }
        created = await _ok(await client.post(f"{API}/invoices", json=body, headers=headers))
        book.invoices[created["id"]] = created
    elif step == "approve":
        invoice_id = data.draw(st.sampled_from(by_status["draft"]), label="draft")
        for action in ("submit", "approve"):
            url = f"{API}/invoices/{invoice_id}/{action}"
            answer = await _ok(await client.post(url, headers=any_version), 409)
        book.invoices[invoice_id] = answer
    elif step == "pay":
        invoice_id = data.draw(st.sampled_from(by_status["approved"]), label="approved")
        invoice = book.invoices[invoice_id]
        outstanding = Decimal(invoice["total"]) - Decimal(invoice["amount_paid"])
        amount = min(data.draw(amounts, label="paid"), outstanding)
        day = max(data.draw(days, label="paid_on"), invoice["issue_date"])
        answer = await client.post(
            f"{API}/invoices/{invoice_id}/pay",
            json={"paid_on": day, "amount": str(amount)},
            headers=any_version,
        )
        book.invoices[invoice_id] = await _ok(answer, 409)
        listed = await client.get(f"{API}/invoices/{invoice_id}/payments", headers=headers)
        book.payments += [p["id"] for p in listed.json() if p["id"] not in book.payments]
    elif step == "reverse":
        payment_id = data.draw(st.sampled_from(book.payments), label="payment")
        book.payments.remove(payment_id)
        reversed_ = await _ok(
            await client.post(f"{API}/payments/{payment_id}/reverse", headers=any_version), 409
        )
        if reversed_:
            invoice_id = reversed_["invoice_id"]
            refreshed = await client.get(f"{API}/invoices/{invoice_id}", headers=headers)
            book.invoices[invoice_id] = refreshed.json()
    elif step == "void":
        invoice_id = data.draw(st.sampled_from(possible["void"]), label="void")
        answer = await client.post(f"{API}/invoices/{invoice_id}/void", headers=any_version)
        if answer.status_code == 200:
            book.invoices[invoice_id] = answer.json()
        else:
            assert answer.json()["code"] == "invoice_has_payments", answer.text
    elif step == "transfer":
        source, target = data.draw(st.permutations(["1000", "1010"]), label="direction")
        body = {
            "from_account_id": book.accounts[source]["id"],
            "to_account_id": book.accounts[target]["id"],
            "amount": str(data.draw(amounts, label="moved")),
            "currency": data.draw(st.sampled_from(["EUR", "USD"]), label="currency"),
            "on": data.draw(days, label="on"),
        }
        moved = await client.post(f"{API}/transfers", json=body, headers=headers)
        assert moved.status_code == 201 or moved.json()["code"] == "insufficient_funds"
    elif step == "credit":
        # A credit note for an approved invoice's vendor, approved, and set against it.
        invoice_id = data.draw(st.sampled_from(by_status["approved"]), label="credited")
        invoice = book.invoices[invoice_id]
        body = {
            "vendor_id": invoice["vendor_id"],
            "number": f"C-{len(book.credit_notes)}",
            "issue_date": invoice["issue_date"],
            "kind": "credit_note",
            "original_invoice_id": invoice_id,
            "lines": [
                {"description": "Returned", "quantity": "1",
                 "unit_price": str(data.draw(amounts, label="credit")),
                 "tax_rate": data.draw(st.sampled_from(["0", "0.19"]), label="credit_rate")}
            ],
        }  # fmt: skip
        note = await _ok(await client.post(f"{API}/invoices", json=body, headers=headers))
        for action in ("submit", "approve"):
            url = f"{API}/invoices/{note['id']}/{action}"
            answer = await _ok(await client.post(url, headers=any_version), 409)
        if answer.get("status") == "approved":
            open_amount = Decimal(invoice["total"]) - Decimal(invoice["amount_paid"])
            amount = min(Decimal(answer["total"]), open_amount)
            if amount > 0:
                applied = await client.post(
                    f"{API}/credit-notes/{note['id']}/apply",
                    json={"allocations": [{"invoice_id": invoice_id, "amount": str(amount)}]},
                    headers=any_version,
                )
                assert applied.status_code == 200, applied.text
        for known, found in ((book.invoices, invoice_id), (book.credit_notes, note["id"])):
            known[found] = (await client.get(f"{API}/invoices/{found}", headers=headers)).json()
    elif step == "rework":
        # Rejected, reopened, corrected and approved on the second submission.
        body = {
            "vendor_id": data.draw(st.sampled_from(book.vendors), label="rework_vendor"),
            "number": f"W-{len(book.invoices)}",
            "issue_date": data.draw(days, label="rework_issued"),
            "lines": [{"description": "Goods", "quantity": "1", "unit_price": "1.00"}],
        }
        created = await _ok(await client.post(f"{API}/invoices", json=body, headers=headers))
        url = f"{API}/invoices/{created['id']}"
        await _ok(await client.post(f"{url}/submit", headers=any_version))
        rejected = await client.post(f"{url}/reject", json={"reason": "price"}, headers=any_version)
        await _ok(rejected)
        await _ok(await client.post(f"{url}/reopen", headers=any_version))
        corrected = {"lines": [body["lines"][0] | {"unit_price": str(data.draw(amounts))}]}
        await _ok(await client.patch(url, json=corrected, headers=any_version))
        await _ok(await client.post(f"{url}/submit", headers=any_version))
        answer = await _ok(await client.post(f"{url}/approve", headers=any_version), 409)
        book.invoices[created["id"]] = answer or (await client.get(url, headers=headers)).json()
    elif step in ("order", "receive", "unreceive", "bill"):
        await _purchasing_step(client, book, step, data)
    elif step in ("close", "reopen"):
        month = data.draw(st.sampled_from(MONTHS), label="month")
        answer = await client.post(f"{API}/ledger/periods/{month}/{step}", headers=headers)
        assert answer.status_code in (200, 409), answer.text


async def _purchasing_step(
    client: httpx.AsyncClient, book: Book, step: str, data: st.DataObject
) -> None:
    """An order placed and approved; goods received or a receipt taken back (409 while
    invoices hold what it brought); a bill of part of an order line, submitted (an
    exception overridden) and approved."""
    headers = book.owner.headers
    any_version = headers | {"If-Match": "*"}
    if step == "order":
        vendor = data.draw(st.integers(0, 1), label="order_vendor")
        body = {
            "vendor_id": book.vendors[vendor],
            "number": f"PO-{len(book.orders)}",
            "ordered_on": "2026-01-01",
            "lines": [
                {
                    "description": "Parts",
                    "quantity": str(data.draw(st.integers(1, 20), label="ordered")),
                    "unit_price": str(data.draw(amounts, label="order_price")),
                }
            ],
        }
        placed = await _ok(await client.post(f"{API}/purchase-orders", json=body, headers=headers))
        url = f"{API}/purchase-orders/{placed['id']}/approve"
        await _ok(await client.post(url, headers=any_version))
        book.orders.append((placed["id"], placed["lines"][0]["id"], vendor))
    elif step == "receive":
        order_id, line_id, _ = data.draw(st.sampled_from(book.orders), label="receiving")
        body = {
            "received_on": data.draw(days, label="received_on"),
            "lines": [
                {
                    "purchase_order_line_id": line_id,
                    "quantity": str(data.draw(st.integers(1, 20), label="received")),
                }
            ],
        }
        url = f"{API}/purchase-orders/{order_id}/receipts"
        received = await _ok(await client.post(url, json=body, headers=headers), 409)
        if received:
            book.receipts.append((order_id, received["id"]))
    elif step == "unreceive":
        order_id, receipt_id = data.draw(st.sampled_from(book.receipts), label="unreceiving")
        url = f"{API}/purchase-orders/{order_id}/receipts/{receipt_id}/reverse"
        if await _ok(await client.post(url, headers=headers), 409):
            book.receipts.remove((order_id, receipt_id))
    elif step == "bill":
        order_id, _ = data.draw(st.sampled_from(book.receipts), label="billed_order")
        _, line_id, vendor = next(o for o in book.orders if o[0] == order_id)
        body = {
            "vendor_id": book.vendors[vendor],
            "number": f"B-{len(book.invoices)}",
            "issue_date": data.draw(days, label="billed_on"),
            "lines": [
                {
                    "description": "Parts",
                    "quantity": str(data.draw(st.integers(1, 20), label="billed")),
                    "unit_price": str(data.draw(amounts, label="billed_price")),
                    "purchase_order_line_id": line_id,
                }
            ],
        }
        created = await _ok(await client.post(f"{API}/invoices", json=body, headers=headers))
        url = f"{API}/invoices/{created['id']}"
        submitted = await _ok(await client.post(f"{url}/submit", headers=any_version), 409)
        if submitted.get("status") == "match_exception":
            override = {"reason": "accepted"}
            await _ok(
                await client.post(f"{url}/override-match", json=override, headers=any_version)
            )
        if submitted:
            await _ok(await client.post(f"{url}/approve", headers=any_version), 409)
        book.invoices[created["id"]] = (await client.get(url, headers=headers)).json()


async def _purchasing_invariants(client: httpx.AsyncClient, book: Book) -> None:
    """Matched within received; 2150 holds what receipts accrued and approvals did not
    release (integral quantities at prices in cents: no rounding)."""
    unreleased: dict[str, Decimal] = defaultdict(Decimal)
    for order_id, _, _ in book.orders:
        answer = await client.get(f"{API}/purchase-orders/{order_id}", headers=book.owner.headers)
        placed = answer.json()
        for line in placed["lines"]:
            matched, received = (
                Decimal(line["quantity_matched"]),
                Decimal(line["quantity_received"]),
            )
            accrued, released = (
                Decimal(line["quantity_accrued"]),
                Decimal(line["quantity_released"]),
            )
            assert Decimal(0) <= matched <= received, placed
            assert Decimal(0) <= released <= accrued <= received, placed
            unreleased[placed["currency"]] += (accrued - released) * Decimal(line["unit_price"])
    trial = await trial_balance(client, book.owner)
    held = {
        row["currency"]: -Decimal(row["balance"])
        for row in trial["accounts"]
        if row["code"] == "2150"
    }
    assert {c: a for c, a in held.items() if a} == {c: a for c, a in unreleased.items() if a}


async def _invariants(client: httpx.AsyncClient, book: Book, database: Database) -> None:
    trial = await trial_balance(client, book.owner)
    for totals in trial["totals"]:
        assert totals["debit"] == totals["credit"], trial
    assert await cache_disagreements(database, book.owner.tenant_id) == []
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for invoice in book.invoices.values():
        if invoice["status"] in ("approved", "paid"):
            open_amount = Decimal(invoice["total"]) - Decimal(invoice["amount_paid"])
            expected[(invoice["vendor_id"], invoice["currency"])] += open_amount
    for note in book.credit_notes.values():
        if note["status"] in ("approved", "paid"):
            open_credit = Decimal(note["total"]) - Decimal(note["amount_paid"])
            expected[(note["vendor_id"], note["currency"])] -= open_credit
    payables = (await client.get(f"{API}/ledger/payables", headers=book.owner.headers)).json()
    found = {
        (row["vendor_id"], row["currency"]): Decimal(row["open_amount"])
        for row in payables["vendors"]
    }
    assert found == {key: amount for key, amount in expected.items() if amount}
    await _purchasing_invariants(client, book)


@settings(
    max_examples=EXAMPLES,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@seed(14)
@given(data=st.data())
async def test_any_sequence_of_steps_keeps_the_ledger_whole(
    data: st.DataObject, client: httpx.AsyncClient, database: Database
) -> None:
    owner = await signup(client, f"prop{next(_tenants)}")
    book = Book(owner, {})
    for name, currency in (("Euro GmbH", "EUR"), ("Dollar Inc", "USD")):
        answer = await client.post(
            f"{API}/vendors",
            json={"name": name, "default_currency": currency},
            headers=owner.headers,
        )
        book.vendors.append((await _ok(answer))["id"])
    savings = {"code": "1010", "name": "Savings", "type": "asset", "overdraft_limit": "0.00"}
    await _ok(await client.post(f"{API}/ledger/accounts", json=savings, headers=owner.headers))
    book.accounts = await http_accounts(client, owner)
    settings_etag = (await client.get(f"{API}/purchasing/settings", headers=owner.headers)).headers[
        "etag"
    ]
    purchasing = {"matching": "three_way", "price_tolerance_percent": "5.00"} | {
        "quantity_tolerance": "0",
        "over_receipt_percent": "10.00",
        "accrue_on_receipt": True,
    }
    await _ok(
        await client.put(
            f"{API}/purchasing/settings",
            json=purchasing,
            headers=owner.headers | {"If-Match": settings_etag},
        )
    )
    steps = data.draw(st.lists(st.sampled_from(STEPS), min_size=3, max_size=14), label="steps")
    for step in steps:
        await _step(client, book, step, data)
    await _invariants(client, book, database)
