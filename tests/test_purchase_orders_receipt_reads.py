"""A receipt read where its Location points, and receipts and their reversal under an
optional If-Match of the order, through HTTP."""

from __future__ import annotations

import httpx

from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, signup
from tests.helpers.purchasing import order, read_order, vendor

BOLTS = [{"description": "Bolts", "quantity": "100", "unit_price": "2.50"}]


def _body(order_line: str, quantity: str) -> dict[str, object]:
    return {
        "received_on": "2026-03-05",
        "reference": "DN-1",
        "lines": [{"purchase_order_line_id": order_line, "quantity": quantity}],
    }


async def _etag(client: httpx.AsyncClient, owner: Account, order_id: str) -> str:
    answer = await client.get(f"{API}/purchase-orders/{order_id}", headers=owner.headers)
    return answer.headers["etag"]


async def test_a_new_receipts_location_answers_the_receipt(
    client: httpx.AsyncClient, owner: Account
) -> None:
    placed = await order(client, owner, await vendor(client, owner), BOLTS)
    order_line = placed["lines"][0]["id"]
    created = await client.post(
        f"{API}/purchase-orders/{placed['id']}/receipts",
        json=_body(order_line, "60"),
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location == f"{API}/purchase-orders/{placed['id']}/receipts/{created.json()['id']}"
    followed = await client.get(location, headers=owner.headers)
    assert followed.status_code == 200, followed.text
    assert followed.json() == created.json()
    # Only under its own order, and only in its own tenant.
    other_order = await order(client, owner, await vendor(client, owner, "B"), BOLTS, number="P2")
    elsewhere = await client.get(
        f"{API}/purchase-orders/{other_order['id']}/receipts/{created.json()['id']}",
        headers=owner.headers,
    )
    assert (elsewhere.status_code, problem_code(elsewhere)) == (404, "receipt_not_found")
    other = await signup(client, "receiptreader")
    foreign = await client.get(location, headers=other.headers)
    assert (foreign.status_code, problem_code(foreign)) == (404, "purchase_order_not_found")


async def test_receipts_and_reversals_check_an_if_match_they_are_sent(
    client: httpx.AsyncClient, owner: Account
) -> None:
    placed = await order(client, owner, await vendor(client, owner), BOLTS)
    order_id, order_line = placed["id"], placed["lines"][0]["id"]
    receipts = f"{API}/purchase-orders/{order_id}/receipts"
    read = await _etag(client, owner, order_id)
    first = await client.post(
        receipts, json=_body(order_line, "60"), headers=owner.headers | {"If-Match": read}
    )
    assert first.status_code == 201, first.text
    # The receipt made a new version of the order: the ETag read before it is stale.
    stale = await client.post(
        receipts, json=_body(order_line, "10"), headers=owner.headers | {"If-Match": read}
    )
    assert stale.status_code == 412, stale.text
    assert (await read_order(client, owner, order_id))["lines"][0]["quantity_received"] == (
        "60.0000"
    )
    reverse = f"{receipts}/{first.json()['id']}/reverse"
    refused = await client.post(reverse, headers=owner.headers | {"If-Match": read})
    assert refused.status_code == 412, refused.text
    fresh = await _etag(client, owner, order_id)
    assert fresh != read
    reversed_receipt = await client.post(reverse, headers=owner.headers | {"If-Match": fresh})
    assert reversed_receipt.status_code == 200, reversed_receipt.text
    assert reversed_receipt.json()["reversed_at"] is not None
    # Without If-Match a receipt is taken as it comes (concurrent receipts stay safe on
    # the lines' conditional updates).
    plain = await client.post(receipts, json=_body(order_line, "5"), headers=owner.headers)
    assert plain.status_code == 201, plain.text
    after = await read_order(client, owner, order_id)
    assert (after["status"], after["lines"][0]["quantity_received"]) == (
        "partially_received",
        "5.0000",
    )
