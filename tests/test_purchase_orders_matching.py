"""Three-way and two-way matching of invoices against purchase orders, worked by hand,
through HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account
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


async def ordered_and_received(
    client: httpx.AsyncClient, owner: Account, received: str, number: str = "PO-1"
) -> tuple[str, dict[str, Any], str]:
    """Vendor, an approved order of 100 bolts at 2.50, and the id of its line, with
    `received` delivered."""
    vendor_id = await vendor(client, owner, name=f"Bolts {number}")
    placed = await order(client, owner, vendor_id, BOLTS, number=number)
    order_line = placed["lines"][0]["id"]
    if received != "0":
        answer = await receive(client, owner, placed["id"], [(order_line, received)])
        assert answer.status_code == 201, answer.text
    return vendor_id, placed, order_line


async def test_an_exact_three_way_match_is_submitted_and_matches_its_quantity(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id, placed, order_line = await ordered_and_received(client, owner, "100")
    assert placed["total"] == "250.00"
    assert placed["matching"] == "three_way"
    bill = await invoice(client, owner, vendor_id, [line(order_line, "100", "2.50")])
    assert bill["lines"][0]["purchase_order_line_id"] == order_line
    submitted = await step(client, owner, bill["id"], "submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["match_differences"] == []
    after = await read_order(client, owner, placed["id"])
    assert after["status"] == "received"
    assert after["lines"][0]["quantity_received"] == "100.0000"
    assert after["lines"][0]["quantity_matched"] == "100.0000"
    approved = await step(client, owner, bill["id"], "approve")
    assert approved.json()["status"] == "approved", approved.text


async def test_a_price_over_tolerance_goes_to_match_exception_with_its_difference(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await settings(client, owner, price_tolerance_percent="2.00")
    vendor_id, placed, order_line = await ordered_and_received(client, owner, "100")
    # 2.55 is 2% above 2.50: within. 2.56 is 2.4% above: outside.
    within = await invoice(client, owner, vendor_id, [line(order_line, "40", "2.55")], "A")
    assert (await step(client, owner, within["id"], "submit")).json()["status"] == "submitted"
    outside = await invoice(client, owner, vendor_id, [line(order_line, "60", "2.56")], "B")
    answer = await step(client, owner, outside["id"], "submit")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "match_exception"
    assert answer.json()["match_differences"] == [
        {
            "position": "0",
            "purchase_order_line_id": order_line,
            "kind": "price",
            "invoiced": "2.5600",
            "expected": "2.5000",
            "difference": "0.0600",
        }
    ]
    # Nothing of the exception was matched; an approval is refused until it is resolved.
    assert (await read_order(client, owner, placed["id"]))["lines"][0]["quantity_matched"] == (
        "40.0000"
    )
    refused = await step(client, owner, outside["id"], "approve")
    assert refused.status_code == 409
    assert problem_code(refused) == "illegal_transition"
    # The owner overrides with a reason (audited), and the quantity is matched.
    no_reason = await step(client, owner, outside["id"], "override-match", {})
    assert no_reason.status_code == 422
    overridden = await step(
        client, owner, outside["id"], "override-match", {"reason": "Agreed surcharge"}
    )
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["status"] == "submitted"
    assert (await read_order(client, owner, placed["id"]))["lines"][0]["quantity_matched"] == (
        "100.0000"
    )
    audit = await client.get(
        f"{API}/audit", params={"action": "invoice.match_overridden"}, headers=owner.headers
    )
    assert audit.status_code == 200, audit.text
    records = [r for r in audit.json()["items"] if r["action"] == "invoice.match_overridden"]
    assert records[0]["changes"]["reason"] == "Agreed surcharge"
    history = await client.get(f"{API}/invoices/{outside['id']}/history", headers=owner.headers)
    assert [c["to_status"] for c in history.json()] == ["draft", "match_exception", "submitted"]
    approved = await step(client, owner, outside["id"], "approve")
    assert approved.json()["status"] == "approved", approved.text


async def test_a_quantity_over_received_is_an_exception_and_an_override_matches_only_what_came(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id, placed, order_line = await ordered_and_received(client, owner, "60")
    bill = await invoice(client, owner, vendor_id, [line(order_line, "70", "2.50")])
    answer = await step(client, owner, bill["id"], "submit")
    assert answer.json()["status"] == "match_exception"
    assert answer.json()["match_differences"] == [
        {
            "position": "0",
            "purchase_order_line_id": order_line,
            "kind": "quantity_over_received",
            "invoiced": "70.0000",
            "expected": "60.0000",
            "difference": "10.0000",
        }
    ]
    assert (await read_order(client, owner, placed["id"]))["lines"][0]["quantity_matched"] == (
        "0.0000"
    )
    overridden = await step(client, owner, bill["id"], "override-match", {"reason": "Short"})
    assert overridden.status_code == 200, overridden.text
    # Never more than was received: 60 of the 70 are matched.
    assert (await read_order(client, owner, placed["id"]))["lines"][0]["quantity_matched"] == (
        "60.0000"
    )


async def test_partial_receipts_with_two_invoices(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id, placed, order_line = await ordered_and_received(client, owner, "60")
    assert (await read_order(client, owner, placed["id"]))["status"] == "partially_received"
    first = await invoice(client, owner, vendor_id, [line(order_line, "60", "2.50")], "A")
    assert (await step(client, owner, first["id"], "submit")).json()["status"] == "submitted"
    # The second invoice bills the 40 not received yet: an exception.
    second = await invoice(client, owner, vendor_id, [line(order_line, "40", "2.50")], "B")
    early = await step(client, owner, second["id"], "submit")
    assert early.json()["status"] == "match_exception"
    assert early.json()["match_differences"][0]["expected"] == "0.0000"
    # The rest arrives; the second invoice is sent back, corrected by nobody, submitted.
    assert (await receive(client, owner, placed["id"], [(order_line, "40")])).status_code == 201
    rejected = await step(client, owner, second["id"], "reject", {"reason": "Goods missing"})
    assert rejected.json()["status"] == "rejected", rejected.text
    assert (await step(client, owner, second["id"], "reopen")).json()["status"] == "draft"
    again = await step(client, owner, second["id"], "submit")
    assert again.json()["status"] == "submitted", again.text
    assert again.json()["match_differences"] == []
    after = await read_order(client, owner, placed["id"])
    assert after["status"] == "received"
    assert after["lines"][0]["quantity_matched"] == "100.0000"
    history = await client.get(
        f"{API}/purchase-orders/{placed['id']}/history", headers=owner.headers
    )
    assert history.status_code == 200, history.text
    items = history.json()["items"][::-1]  # newest first: oldest first here
    assert [i["status_change"]["to_status"] for i in items if i["kind"] == "status_change"] == [
        "draft",
        "approved",
        "partially_received",
        "received",
    ]
    receipts = [i["receipt"] for i in items if i["kind"] == "receipt"]
    assert [r["lines"][0]["quantity"] for r in receipts] == ["60.0000", "40.0000"]
    matches = [i["match"] for i in items if i["kind"] == "match"]
    assert sorted((m["invoice_id"], m["quantity"]) for m in matches) == sorted(
        [(first["id"], "60.0000"), (second["id"], "40.0000")]
    )


async def test_a_rejected_or_voided_invoice_gives_its_matched_quantity_back(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id, placed, order_line = await ordered_and_received(client, owner, "100")
    bill = await invoice(client, owner, vendor_id, [line(order_line, "100", "2.50")])
    await step(client, owner, bill["id"], "submit")
    assert (await step(client, owner, bill["id"], "void")).json()["status"] == "void"
    assert (await read_order(client, owner, placed["id"]))["lines"][0]["quantity_matched"] == (
        "0.0000"
    )
    history = await client.get(
        f"{API}/purchase-orders/{placed['id']}/history", headers=owner.headers
    )
    matches = [i["match"] for i in history.json()["items"] if i["kind"] == "match"]
    assert matches[0]["released_at"] is not None


async def test_two_way_matching_compares_with_the_order_not_the_receipts(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await settings(client, owner, matching="two_way", quantity_tolerance="5")
    vendor_id, placed, order_line = await ordered_and_received(client, owner, "0")
    assert placed["matching"] == "two_way"
    # Nothing received: 2-way matches anyway; 105 is within 5 units of the 100 ordered.
    bill = await invoice(client, owner, vendor_id, [line(order_line, "105", "2.50")])
    assert (await step(client, owner, bill["id"], "submit")).json()["status"] == "submitted"
    more = await invoice(client, owner, vendor_id, [line(order_line, "6", "2.50")], "B")
    answer = await step(client, owner, more["id"], "submit")
    assert answer.json()["status"] == "match_exception"
    assert answer.json()["match_differences"][0]["kind"] == "quantity_over_ordered"


async def test_an_invoice_line_names_only_an_order_line_of_its_vendor(
    client: httpx.AsyncClient, owner: Account
) -> None:
    _, _, order_line = await ordered_and_received(client, owner, "100")
    other_vendor = await vendor(client, owner, name="Someone Else")
    refused = await client.post(
        f"{API}/invoices",
        json={"vendor_id": other_vendor, "number": "X-1", "issue_date": "2026-03-10"}
        | {"lines": [line(order_line, "1", "2.50")]},
        headers=owner.headers,
    )
    assert refused.status_code == 422, refused.text
    assert problem_code(refused) == "purchase_order_vendor_mismatch"
    unknown = await client.post(
        f"{API}/invoices",
        json={"vendor_id": other_vendor, "number": "X-2", "issue_date": "2026-03-10"}
        | {"lines": [line("0190a8e0-0000-7000-8000-000000000000", "1", "2.50")]},
        headers=owner.headers,
    )
    assert unknown.status_code == 404, unknown.text
    assert problem_code(unknown) == "purchase_order_line_not_found"
    # The free-text PO number stays free text.
    free = await client.post(
        f"{API}/invoices",
        json={"vendor_id": other_vendor, "number": "X-3", "issue_date": "2026-03-10"}
        | {
            "po_number": "PO-999-does-not-exist",
            "lines": [{"description": "A"} | {"quantity": "1", "unit_price": "1.00"}],
        },
        headers=owner.headers,
    )
    assert free.status_code == 201, free.text


async def test_an_invoice_against_a_draft_order_is_refused_at_submit(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    draft = await order(client, owner, vendor_id, BOLTS, approve=False)
    bill = await invoice(client, owner, vendor_id, [line(draft["lines"][0]["id"], "1", "2.50")])
    refused = await step(client, owner, bill["id"], "submit")
    assert refused.status_code == 409, refused.text
    assert problem_code(refused) == "purchase_order_not_open"
