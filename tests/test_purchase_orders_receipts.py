"""Goods receipts, their accruals and the release of those at invoice approval, receipt
reversal, over-receipt, approval under the policy, other tenants' ids, the reports, and
what PostgreSQL refuses to the runtime role directly."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.ledger import by_code, cache_disagreements, trial_balance
from tests.helpers.purchasing import (
    invoice,
    line,
    order,
    read_order,
    receive,
    settings,
    step,
    vendor,
)

BOLTS = [{"description": "Bolts", "quantity": "100", "unit_price": "2.50"}]


async def test_accrual_on_receipt_is_released_at_approval_and_restored_by_a_void(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    await settings(client, owner, accrue_on_receipt=True)
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    order_line = placed["lines"][0]["id"]
    received = await receive(client, owner, placed["id"], [(order_line, "60")])
    assert received.status_code == 201, received.text
    assert received.json()["entry_id"] is not None
    # 60 x 2.50 accrued: Dr 6000 150.00 / Cr 2150 150.00.
    assert by_code(await trial_balance(client, owner)) == {
        "2150": ("0.00", "150.00", "-150.00"),
        "6000": ("150.00", "0.00", "150.00"),
    }
    bill = await invoice(
        client, owner, vendor_id, [line(order_line, "60", "2.50", tax_rate="0.19")]
    )
    assert (await step(client, owner, bill["id"], "submit")).json()["status"] == "submitted"
    approved = await step(client, owner, bill["id"], "approve")
    assert approved.json()["status"] == "approved", approved.text
    # The invoice posts Dr 6000 150.00, Dr 1400 28.50 / Cr 2000 178.50, and releases the
    # accrual: Dr 2150 150.00 / Cr 6000 150.00.
    assert by_code(await trial_balance(client, owner)) == {
        "1400": ("28.50", "0.00", "28.50"),
        "2000": ("0.00", "178.50", "-178.50"),
        "2150": ("150.00", "150.00", "0.00"),
        "6000": ("300.00", "150.00", "150.00"),
    }
    line_now = (await read_order(client, owner, placed["id"]))["lines"][0]
    assert (line_now["quantity_accrued"], line_now["quantity_released"]) == ("60.0000", "60.0000")
    # What was matched and released cannot be received back.
    receipt_id = received.json()["id"]
    refused = await client.post(
        f"{API}/purchase-orders/{placed['id']}/receipts/{receipt_id}/reverse",
        headers=owner.headers,
    )
    assert refused.status_code == 409, refused.text
    assert problem_code(refused) == "receipt_matched"
    # A void reverses the invoice and its release: the accrual stands again.
    assert (await step(client, owner, bill["id"], "void")).json()["status"] == "void"
    assert by_code(await trial_balance(client, owner))["2150"] == ("150.00", "300.00", "-150.00")
    line_now = (await read_order(client, owner, placed["id"]))["lines"][0]
    assert (line_now["quantity_matched"], line_now["quantity_released"]) == ("0.0000", "0.0000")
    # Now the receipt is reversed, and so is its accrual.
    reversed_receipt = await client.post(
        f"{API}/purchase-orders/{placed['id']}/receipts/{receipt_id}/reverse",
        headers=owner.headers,
    )
    assert reversed_receipt.status_code == 200, reversed_receipt.text
    assert reversed_receipt.json()["reversal_entry_id"] is not None
    trial = by_code(await trial_balance(client, owner))
    assert trial["2150"][2] == "0.00"
    assert trial["6000"][2] == "0.00"
    again = await client.post(
        f"{API}/purchase-orders/{placed['id']}/receipts/{receipt_id}/reverse",
        headers=owner.headers,
    )
    assert again.status_code == 409
    assert problem_code(again) == "receipt_reversed"
    after = await read_order(client, owner, placed["id"])
    assert after["status"] == "approved"
    assert after["lines"][0]["quantity_received"] == "0.0000"
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_without_accrual_a_receipt_posts_nothing(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    received = await receive(client, owner, placed["id"], [(placed["lines"][0]["id"], "10")])
    assert received.status_code == 201, received.text
    assert received.json()["entry_id"] is None
    assert by_code(await trial_balance(client, owner)) == {}


async def test_over_receipt_past_the_tolerance_is_409(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await settings(client, owner, over_receipt_percent="5.00")
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    order_line = placed["lines"][0]["id"]
    assert placed["lines"][0]["receipt_limit"] == "105.0000"
    assert (await receive(client, owner, placed["id"], [(order_line, "100")])).status_code == 201
    over = await receive(client, owner, placed["id"], [(order_line, "6")])
    assert over.status_code == 409, over.text
    assert problem_code(over) == "over_receipt"
    assert over.json()["receivable"] == "5.0000"
    assert (await receive(client, owner, placed["id"], [(order_line, "5")])).status_code == 201
    assert (await read_order(client, owner, placed["id"]))["lines"][0]["quantity_received"] == (
        "105.0000"
    )


async def test_receipts_need_an_approved_order_and_its_own_lines(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    draft = await order(client, owner, vendor_id, BOLTS, approve=False)
    early = await receive(client, owner, draft["id"], [(draft["lines"][0]["id"], "1")])
    assert early.status_code == 409
    assert problem_code(early) == "illegal_transition"
    other = await order(client, owner, vendor_id, BOLTS, number="PO-2")
    foreign_line = await receive(client, owner, other["id"], [(draft["lines"][0]["id"], "1")])
    assert foreign_line.status_code == 422
    assert problem_code(foreign_line) == "purchase_order_line_unknown"


async def test_approval_follows_the_tenants_policy(
    client: httpx.AsyncClient, owner: Account
) -> None:
    policy = await client.get(f"{API}/approval-policy", headers=owner.headers)
    replaced = await client.put(
        f"{API}/approval-policy",
        json={
            "segregation_of_duties": True,
            "thresholds": [{"min_amount": "0.00", "approvals": 1}],
        },
        headers=owner.headers | {"If-Match": policy.headers["etag"]},
    )
    assert replaced.status_code == 200, replaced.text
    vendor_id = await vendor(client, owner)
    draft = await order(client, owner, vendor_id, BOLTS, approve=False)
    refused = await client.post(
        f"{API}/purchase-orders/{draft['id']}/approve",
        headers=owner.headers | {"If-Match": draft["etag"]},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["rule"] == "segregation_of_duties"
    stale = await client.post(
        f"{API}/purchase-orders/{draft['id']}/approve",
        headers=owner.headers | {"If-Match": '"999"'},
    )
    assert stale.status_code == 412
    assistant = await add_user(client, owner, "ann@ownerco.example.com")
    forbidden = await client.post(
        f"{API}/purchase-orders/{draft['id']}/approve",
        headers=assistant.headers | {"If-Match": draft["etag"]},
    )
    assert forbidden.status_code == 403
    assert problem_code(forbidden) != "approval_policy"


async def test_close_and_cancel(client: httpx.AsyncClient, owner: Account) -> None:
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    assert (
        await receive(client, owner, placed["id"], [(placed["lines"][0]["id"], "1")])
    ).status_code == 201
    current = await client.get(f"{API}/purchase-orders/{placed['id']}", headers=owner.headers)
    cancel = await client.post(
        f"{API}/purchase-orders/{placed['id']}/cancel",
        headers=owner.headers | {"If-Match": current.headers["etag"]},
    )
    assert cancel.status_code == 409
    closed = await client.post(
        f"{API}/purchase-orders/{placed['id']}/close",
        json={"reason": "Rest not needed"},
        headers=owner.headers | {"If-Match": current.headers["etag"]},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    late = await receive(client, owner, placed["id"], [(placed["lines"][0]["id"], "1")])
    assert late.status_code == 409


async def test_another_tenants_order_is_404(client: httpx.AsyncClient, owner: Account) -> None:
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    order_line = placed["lines"][0]["id"]
    other = await signup(client, "othertrade")
    other_vendor = await vendor(client, other)
    assert (
        await client.get(f"{API}/purchase-orders/{placed['id']}", headers=other.headers)
    ).status_code == 404
    assert (
        await client.get(f"{API}/purchase-orders/{placed['id']}/history", headers=other.headers)
    ).status_code == 404
    foreign = await receive(client, other, placed["id"], [(order_line, "1")])
    assert foreign.status_code == 404
    assert problem_code(foreign) == "purchase_order_not_found"
    approve = await client.post(
        f"{API}/purchase-orders/{placed['id']}/approve",
        headers=other.headers | {"If-Match": "*"},
    )
    assert approve.status_code == 404
    billed = await client.post(
        f"{API}/invoices",
        json={"vendor_id": other_vendor, "number": "X", "issue_date": "2026-03-10"}
        | {"lines": [line(order_line, "1", "2.50")]},
        headers=other.headers,
    )
    assert billed.status_code == 404, billed.text
    assert problem_code(billed) == "purchase_order_line_not_found"
    listed = await client.get(f"{API}/purchase-orders", headers=other.headers)
    assert listed.json()["items"] == []


async def test_reports_open_commitments_and_received_not_invoiced(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    order_line = placed["lines"][0]["id"]
    await receive(client, owner, placed["id"], [(order_line, "100")])
    bill = await invoice(client, owner, vendor_id, [line(order_line, "60", "2.50")])
    await step(client, owner, bill["id"], "submit")
    await order(client, owner, vendor_id, BOLTS, number="PO-DRAFT", approve=False)
    commitments = await client.get(f"{API}/purchasing/open-commitments", headers=owner.headers)
    assert commitments.status_code == 200, commitments.text
    assert commitments.json()["items"] == [
        {
            "vendor_id": vendor_id,
            "currency": "EUR",
            "ordered": {"net": "250.00", "tax": "0.00", "gross": "250.00"},
            "invoiced": {"net": "150.00", "tax": "0.00", "gross": "150.00"},
            "open": {"net": "100.00", "tax": "0.00", "gross": "100.00"},
        }
    ]
    waiting = await client.get(f"{API}/purchasing/received-not-invoiced", headers=owner.headers)
    assert waiting.status_code == 200, waiting.text
    rows: list[dict[str, Any]] = waiting.json()["items"]
    assert [
        (r["number"], r["quantity_received"], r["quantity_matched"], r["amount"]) for r in rows
    ] == [("PO-1", "100.0000", "60.0000", "100.00")]


async def test_a_draft_changes_under_if_match_and_numbers_are_unique(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    draft = await order(client, owner, vendor_id, BOLTS, approve=False)
    changed = await client.patch(
        f"{API}/purchase-orders/{draft['id']}",
        json={"lines": [{"description": "Nuts", "quantity": "3", "unit_price": "1.005"}]},
        headers=owner.headers | {"If-Match": draft["etag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["total"] == "3.02"
    stale = await client.patch(
        f"{API}/purchase-orders/{draft['id']}",
        json={"notes": "x"},
        headers=owner.headers | {"If-Match": draft["etag"]},
    )
    assert stale.status_code == 412
    duplicate = await client.post(
        f"{API}/purchase-orders",
        json={"vendor_id": vendor_id, "number": "PO-1", "ordered_on": "2026-03-01"}
        | {"lines": BOLTS},
        headers=owner.headers,
    )
    assert duplicate.status_code == 409
    assert problem_code(duplicate) == "purchase_order_number_taken"


@pytest.fixture
async def matched(client: httpx.AsyncClient, owner: Account) -> dict[str, Any]:
    """An order of 100 with 60 received and 60 matched by a submitted invoice."""
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    order_line = placed["lines"][0]["id"]
    await receive(client, owner, placed["id"], [(order_line, "60")])
    bill = await invoice(client, owner, vendor_id, [line(order_line, "60", "2.50")])
    assert (await step(client, owner, bill["id"], "submit")).json()["status"] == "submitted"
    other_vendor = await vendor(client, owner, name="Other")
    return {"order_line": order_line, "invoice": bill["id"], "other_vendor": other_vendor}


REFUSED = {
    "matching past what was received": (
        "UPDATE purchase_order_lines SET quantity_matched = quantity_received + 1",
        "matched_within_received",
    ),
    "receiving past the receipt limit": (
        "UPDATE purchase_order_lines SET quantity_received = receipt_limit + 1",
        "received_within_limit",
    ),
    "receiving less than was matched": (
        "UPDATE purchase_order_lines SET quantity_received = 10",
        "matched_within_received",
    ),
    "changing an order's vendor": (
        "UPDATE purchase_orders SET vendor_id = gen_random_uuid()",
        "permission denied",
    ),
    "changing an order line's price": (
        "UPDATE purchase_order_lines SET unit_price = 1",
        "permission denied",
    ),
    "rewriting a match": ("UPDATE purchase_order_matches SET quantity = 1", "permission denied"),
    "deleting a receipt": ("DELETE FROM goods_receipts", "permission denied"),
    "deleting a match": ("DELETE FROM purchase_order_matches", "permission denied"),
    "an invoice line naming another vendor's order line": (
        "INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity,"
        " unit_price, tax_rate, line_subtotal, line_tax, purchase_order_line_id)"
        " SELECT i.tenant_id, gen_random_uuid(), i.id, 9, 'x', 1, 1, 0, 1, 0, l.id"
        " FROM invoices i CROSS JOIN purchase_order_lines l"
        " WHERE i.vendor_id <> l.vendor_id",
        "another vendor",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_the_runtime_role_cannot(
    case: str,
    database: Database,
    owner: Account,
    matched: dict[str, Any],
    client: httpx.AsyncClient,
) -> None:
    if case.startswith("an invoice line"):
        other = await client.post(
            f"{API}/invoices",
            json={"vendor_id": matched["other_vendor"], "number": "O-1"}
            | {
                "issue_date": "2026-03-10",
                "lines": [{"description": "A"} | {"quantity": "1", "unit_price": "1.00"}],
            },
            headers=owner.headers,
        )
        assert other.status_code == 201, other.text
    statement, reason = REFUSED[case]
    with pytest.raises(DBAPIError) as refused:
        await _execute(database, owner, statement)
    assert reason in str(refused.value), str(refused.value)


async def _execute(database: Database, owner: Account, statement: str) -> None:
    """The statement in the owner's tenant as the runtime role; it must touch a row."""
    async with database.tenant_transaction(owner.tenant_id) as session:
        result = await session.execute(text(statement))
        assert getattr(result, "rowcount", 1) != 0, statement


async def test_lines_an_invoice_names_are_not_replaced(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    draft = await order(client, owner, vendor_id, BOLTS, approve=False)
    await invoice(client, owner, vendor_id, [line(draft["lines"][0]["id"], "1", "2.50")])
    refused = await client.patch(
        f"{API}/purchase-orders/{draft['id']}",
        json={"lines": [{"description": "Nuts", "quantity": "3", "unit_price": "1.00"}]},
        headers=owner.headers | {"If-Match": draft["etag"]},
    )
    assert refused.status_code == 409, refused.text
    assert problem_code(refused) == "purchase_order_lines_invoiced"
