"""Vendors and invoices through HTTP: creating them, stepping them through their
lifecycle, and the CSV export and import."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account

LINES = [
    {"description": "Paper", "quantity": "3", "unit_price": "0.335", "tax_rate": "0.19"},
    {"description": "Toner", "quantity": "2", "unit_price": "49.99", "tax_rate": "0.19"},
]

HEADER = (
    "vendor_name,vendor_tax_id,number,issue_date,due_date,currency,"
    "description,quantity,unit_price,tax_rate,total\n"
)


async def vendor(client: httpx.AsyncClient, who: Account, name: str = "Paper GmbH") -> str:
    response = await client.post(
        f"{API}/vendors",
        json={"name": name, "default_currency": "EUR", "payment_terms_days": 14},
        headers=who.headers,
    )
    return str(response.json()["id"])


async def invoice(
    client: httpx.AsyncClient, who: Account, vendor_id: str, **fields: Any
) -> httpx.Response:
    body = {
        "vendor_id": vendor_id,
        "number": "INV-1",
        "issue_date": "2026-03-01",
        "lines": LINES,
    } | fields
    return await client.post(f"{API}/invoices", json=body, headers=who.headers)


async def step(
    client: httpx.AsyncClient,
    who: Account,
    invoice_id: str,
    action: str,
    body: dict[str, Any] | None = None,
    etag: str | None = None,
) -> httpx.Response:
    if etag is None:
        etag = (await client.get(f"{API}/invoices/{invoice_id}", headers=who.headers)).headers[
            "etag"
        ]
    return await client.post(
        f"{API}/invoices/{invoice_id}/{action}", json=body, headers=who.headers | {"If-Match": etag}
    )


async def export(client: httpx.AsyncClient, who: Account, **params: str) -> list[dict[str, str]]:
    answer = await client.get(f"{API}/invoices/export.csv", params=params, headers=who.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


async def import_csv(
    client: httpx.AsyncClient, who: Account, text: str, partial: bool = False
) -> httpx.Response:
    return await client.post(
        f"{API}/invoices/import",
        content=text.encode(),
        params={"partial": "true"} if partial else None,
        headers=who.headers | {"Content-Type": "text/csv"},
    )
