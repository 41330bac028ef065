"""A credit note that resolved a match exception is applied to the invoice it resolved,
and to no other: applied elsewhere, that invoice would be paid in full and the credit
spent on another."""

from __future__ import annotations

import httpx

from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account
from tests.helpers.purchasing import invoice, line, step
from tests.test_purchase_orders_credit_notes import _credit_note, _exception, _resolve


async def _apply(
    client: httpx.AsyncClient, owner: Account, note: str, invoice_id: str, amount: str, key: str
) -> httpx.Response:
    return await client.post(
        f"{API}/credit-notes/{note}/apply",
        json={"allocations": [{"invoice_id": invoice_id, "amount": amount}]},
        headers=owner.headers | {"If-Match": "*", "Idempotency-Key": key},
    )


async def test_a_resolving_credit_note_applies_to_its_invoice_only(
    client: httpx.AsyncClient, owner: Account
) -> None:
    found = await _exception(client, owner)
    bill, order_line = found["invoice"], found["order_line"]
    note = await _credit_note(
        client,
        owner,
        found["vendor"],
        [line(order_line, "60", "0.10")],
        number="CN-9",
        original=bill["id"],
    )
    assert (await _resolve(client, owner, bill["id"], note)).status_code == 200
    assert (await step(client, owner, bill["id"], "approve")).status_code == 200
    other = await invoice(
        client,
        owner,
        found["vendor"],
        [{"description": "Nuts", "quantity": "1", "unit_price": "20"}],
        number="INV-2",
    )
    for action in ("submit", "approve"):
        assert (await step(client, owner, other["id"], action)).status_code == 200

    elsewhere = await _apply(client, owner, note, other["id"], "5.00", "cn-9-other")
    assert elsewhere.status_code == 409, elsewhere.text
    assert problem_code(elsewhere) == "credit_note_resolves_match"
    assert elsewhere.json()["resolved_invoice_id"] == bill["id"]

    applied = await _apply(client, owner, note, bill["id"], "6.00", "cn-9-own")
    assert applied.status_code == 200, applied.text
    read = await client.get(f"{API}/invoices/{bill['id']}", headers=owner.headers)
    assert read.json()["amount_paid"] == "6.00"
