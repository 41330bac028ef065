"""Purchase orders, receipts and matched invoices through HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account


async def settings(client: httpx.AsyncClient, who: Account, **fields: Any) -> dict[str, Any]:
    """The tenant's purchasing settings replaced (defaults for what is not given)."""
    body = {
        "matching": "three_way",
        "price_tolerance_percent": "0.00",
        "quantity_tolerance": "0",
        "over_receipt_percent": "0.00",
        "accrue_on_receipt": False,
    } | fields
    etag = (await client.get(f"{API}/purchasing/settings", headers=who.headers)).headers["etag"]
    answer = await client.put(
        f"{API}/purchasing/settings", json=body, headers=who.headers | {"If-Match": etag}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def vendor(client: httpx.AsyncClient, who: Account, name: str = "Bolts GmbH") -> str:
    answer = await client.post(
        f"{API}/vendors",
        json={"name": name, "default_currency": "EUR", "payment_terms_days": 30},
        headers=who.headers,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def order(
    client: httpx.AsyncClient,
    who: Account,
    vendor_id: str,
    lines: list[dict[str, str]],
    *,
    number: str = "PO-1",
    approve: bool = True,
) -> dict[str, Any]:
    """A purchase order, approved unless told otherwise; its last answer and ETag."""
    created = await client.post(
        f"{API}/purchase-orders",
        json={"vendor_id": vendor_id, "number": number, "ordered_on": "2026-03-01"}
        | {"lines": lines},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    answer = created
    if approve:
        answer = await client.post(
            f"{API}/purchase-orders/{created.json()['id']}/approve",
            headers=who.headers | {"If-Match": created.headers["etag"]},
        )
        assert answer.status_code == 200, answer.text
    return dict(answer.json()) | {"etag": answer.headers["etag"]}


async def receive(
    client: httpx.AsyncClient,
    who: Account,
    order_id: str,
    lines: list[tuple[str, str]],
    received_on: str = "2026-03-05",
) -> httpx.Response:
    return await client.post(
        f"{API}/purchase-orders/{order_id}/receipts",
        json={
            "received_on": received_on,
            "reference": "DN-1",
            "lines": [
                {"purchase_order_line_id": line_id, "quantity": quantity}
                for line_id, quantity in lines
            ],
        },
        headers=who.headers,
    )


async def read_order(client: httpx.AsyncClient, who: Account, order_id: str) -> dict[str, Any]:
    answer = await client.get(f"{API}/purchase-orders/{order_id}", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def invoice(
    client: httpx.AsyncClient,
    who: Account,
    vendor_id: str,
    lines: list[dict[str, str]],
    number: str = "INV-1",
) -> dict[str, Any]:
    """A draft invoice whose lines may name purchase order lines."""
    created = await client.post(
        f"{API}/invoices",
        json={"vendor_id": vendor_id, "number": number, "issue_date": "2026-03-10"}
        | {"lines": lines},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    return dict(created.json()) | {"etag": created.headers["etag"]}


async def step(
    client: httpx.AsyncClient,
    who: Account,
    invoice_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """An invoice step at whatever version it is (If-Match: *)."""
    return await client.post(
        f"{API}/invoices/{invoice_id}/{action}",
        json=body,
        headers=who.headers | {"If-Match": "*"},
    )


def line(order_line_id: str, quantity: str, unit_price: str, **fields: str) -> dict[str, str]:
    return {
        "description": "Bolts",
        "quantity": quantity,
        "unit_price": unit_price,
        "purchase_order_line_id": order_line_id,
    } | fields
