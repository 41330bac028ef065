"""A created invoice is answered as it is stored: the create's answer (built from the
lines it wrote, not read back) equals what a read of the invoice answers afterwards."""

from __future__ import annotations

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account
from tests.helpers.payables import draft, new_vendor, tax_code

NOT_COMPARED = ("created_at", "updated_at")


async def test_the_create_answers_what_a_read_answers(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await tax_code(client, owner, code="RED", name="Reduced", kind="standard", rate="0.07")
    vendor_id = await new_vendor(client, owner)
    lines = [
        {"description": "Hosting", "quantity": "1", "unit_price": "120", "tax_rate": "0.19"},
        {"description": "Hours", "quantity": "2.5", "unit_price": "80.1", "tax_rate": "0.2"},
        {"description": "Books", "quantity": "3", "unit_price": "9.99", "tax_code": "RED"},
        {"description": "Fee", "quantity": "1.0000", "unit_price": "0.5000"},
    ]
    created = await draft(client, owner, vendor_id, lines)
    assert created.status_code == 201, created.text
    answered = created.json()
    read = await client.get(f"{API}/invoices/{answered['id']}", headers=owner.headers)
    assert read.status_code == 200, read.text
    assert read.headers["etag"] == created.headers["etag"]
    stored = read.json()
    for field in NOT_COMPARED:
        answered.pop(field), stored.pop(field)
    assert answered == stored
    assert [line["quantity"] for line in answered["lines"]] == [
        "1.0000",
        "2.5000",
        "3.0000",
        "1.0000",
    ]
    assert [line["tax_rate"] for line in answered["lines"]] == [
        "0.1900",
        "0.2000",
        "0.0700",
        "0.0000",
    ]
