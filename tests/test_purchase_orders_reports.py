"""Tax on purchase orders, worked by hand, the open commitments net, tax and gross, and
the reports and an order's history walked page by page, through HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API, all_pages, problem_code
from tests.helpers.identity import Account
from tests.helpers.purchasing import invoice, line, order, receive, step, vendor


async def _vat19(client: httpx.AsyncClient, owner: Account) -> None:
    created = await client.post(
        f"{API}/tax-codes",
        json={"code": "VAT19", "name": "VAT 19%", "kind": "standard", "rate": "0.19"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text


LINES = [
    # 100 x 2.50 = 250.00, tax 47.50
    {"description": "Bolts", "quantity": "100", "unit_price": "2.50", "tax_code": "VAT19"},
    # 3 x 10.12 = 30.36, tax 5.7684 -> 5.77 (half-up, per line as on an invoice)
    {"description": "Nuts", "quantity": "3", "unit_price": "10.12", "tax_code": "VAT19"},
    # no tax code: no tax
    {"description": "Labels", "quantity": "7", "unit_price": "1.00"},
]


async def test_an_order_carries_net_tax_and_gross_and_so_do_its_open_commitments(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await _vat19(client, owner)
    vendor_id = await vendor(client, owner)
    placed = await order(client, owner, vendor_id, LINES)
    assert [(x["amount"], x["tax_amount"], x["gross_amount"]) for x in placed["lines"]] == [
        ("250.00", "47.50", "297.50"),
        ("30.36", "5.77", "36.13"),
        ("7.00", "0.00", "7.00"),
    ]
    assert (placed["total"], placed["tax_total"], placed["gross_total"]) == (
        "287.36",
        "53.27",
        "340.63",
    )
    bolts = placed["lines"][0]["id"]
    assert (await receive(client, owner, placed["id"], [(bolts, "40")])).status_code == 201
    bill = await invoice(client, owner, vendor_id, [line(bolts, "40", "2.50", tax_code="VAT19")])
    assert (await step(client, owner, bill["id"], "submit")).json()["status"] == "submitted"
    commitments = await client.get(f"{API}/purchasing/open-commitments", headers=owner.headers)
    assert commitments.status_code == 200, commitments.text
    # Invoiced: 40 x 2.50 = 100.00 net; tax 47.50 x 40/100 = 19.00.
    assert commitments.json() == {
        "items": [
            {
                "vendor_id": vendor_id,
                "currency": "EUR",
                "ordered": {"net": "287.36", "tax": "53.27", "gross": "340.63"},
                "invoiced": {"net": "100.00", "tax": "19.00", "gross": "119.00"},
                "open": {"net": "187.36", "tax": "34.27", "gross": "221.63"},
            }
        ],
        "next_cursor": None,
    }


async def test_an_order_line_takes_only_an_active_tax_code_of_the_tenant(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    refused = await client.post(
        f"{API}/purchase-orders",
        json={"vendor_id": vendor_id, "number": "PO-X", "ordered_on": "2026-03-01"}
        | {"lines": LINES[:1]},
        headers=owner.headers,
    )
    assert refused.status_code == 422, refused.text
    assert problem_code(refused) == "unknown_tax_code"


def _flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page]


async def test_the_reports_and_an_orders_history_walk_in_pages(
    client: httpx.AsyncClient, owner: Account
) -> None:
    bolts = [{"description": "Bolts", "quantity": "100", "unit_price": "2.50"}]
    orders = []
    for n in range(3):
        vendor_id = await vendor(client, owner, name=f"Vendor {n}")
        placed = await order(client, owner, vendor_id, bolts, number=f"PO-{n}")
        order_line = placed["lines"][0]["id"]
        for quantity in ("10", "20"):
            answer = await receive(client, owner, placed["id"], [(order_line, quantity)])
            assert answer.status_code == 201, answer.text
        orders.append(placed)
    headers = owner.headers
    commitments = await all_pages(client, f"{API}/purchasing/open-commitments", headers, limit=2)
    assert [len(page) for page in commitments] == [2, 1]
    assert {c["vendor_id"] for c in _flat(commitments)} == {o["vendor_id"] for o in orders}
    waiting = await all_pages(client, f"{API}/purchasing/received-not-invoiced", headers, limit=2)
    assert [len(page) for page in waiting] == [2, 1]
    assert [w["number"] for w in _flat(waiting)] == ["PO-2", "PO-1", "PO-0"]
    assert {w["amount"] for w in _flat(waiting)} == {"75.00"}
    # The history: created, approved (its approval and the status change), two receipts
    # and the status changes they made (partially received once): 6 items, newest first.
    history_url = f"{API}/purchase-orders/{orders[0]['id']}/history"
    whole = await client.get(history_url, headers=headers, params={"limit": 200})
    assert whole.json()["next_cursor"] is None
    paged = await all_pages(client, history_url, headers, limit=4)
    assert [len(page) for page in paged] == [4, 2]
    assert _flat(paged) == whole.json()["items"]
    assert [i["kind"] for i in reversed(_flat(paged))] == [
        "status_change",
        "approval",
        "status_change",
        "receipt",
        "status_change",
        "receipt",
    ]
    bad = await client.get(history_url, headers=headers, params={"cursor": "not-a-cursor"})
    assert (bad.status_code, problem_code(bad)) == (400, "invalid_cursor")
