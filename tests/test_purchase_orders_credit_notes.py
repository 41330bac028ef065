"""A match exception resolved by a credit note, worked by hand, through HTTP; and what
PostgreSQL refuses to the runtime role directly.

The order: 100 bolts at 2.50, all received, prices accepted up to 2% above the order's.
The invoice bills 60 at 2.60 (4% above): 156.00, where matching accepts at most
60 x 2.50 x 1.02 = 153.00, so it goes to match_exception.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.purchasing import invoice, line, order, read_order, receive, settings, step
from tests.helpers.purchasing import vendor as make_vendor

BOLTS = [{"description": "Bolts", "quantity": "100", "unit_price": "2.50"}]


async def _exception(client: httpx.AsyncClient, owner: Account) -> dict[str, Any]:
    await settings(client, owner, price_tolerance_percent="2.00")
    vendor_id = await make_vendor(client, owner)
    placed = await order(client, owner, vendor_id, BOLTS)
    order_line = placed["lines"][0]["id"]
    assert (await receive(client, owner, placed["id"], [(order_line, "100")])).status_code == 201
    bill = await invoice(client, owner, vendor_id, [line(order_line, "60", "2.60")])
    submitted = await step(client, owner, bill["id"], "submit")
    assert submitted.json()["status"] == "match_exception", submitted.text
    return {"vendor": vendor_id, "order": placed, "order_line": order_line, "invoice": bill}


async def _credit_note(
    client: httpx.AsyncClient,
    owner: Account,
    vendor_id: str,
    lines: list[dict[str, str]],
    *,
    number: str,
    original: str | None,
    approve: bool = True,
) -> str:
    created = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": vendor_id,
            "number": number,
            "issue_date": "2026-03-11",
            "kind": "credit_note",
            "original_invoice_id": original,
            "lines": lines,
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    note_id = str(created.json()["id"])
    if approve:
        for action in ("submit", "approve"):
            answer = await step(client, owner, note_id, action)
            assert answer.status_code == 200, answer.text
    return note_id


async def _resolve(
    client: httpx.AsyncClient, who: Account, invoice_id: str, credit_note_id: str
) -> httpx.Response:
    return await client.post(
        f"{API}/invoices/{invoice_id}/resolve-match",
        json={"credit_note_id": credit_note_id},
        headers=who.headers | {"If-Match": "*"},
    )


async def test_a_credit_note_for_the_price_difference_resolves_the_exception(
    client: httpx.AsyncClient, owner: Account
) -> None:
    found = await _exception(client, owner)
    bill, order_line = found["invoice"], found["order_line"]
    # The credit note gives back 0.10 on each of the 60: 6.00, so 150.00 is billed net.
    note = await _credit_note(
        client,
        owner,
        found["vendor"],
        [line(order_line, "60", "0.10")],
        number="CN-1",
        original=bill["id"],
    )
    # The credit note's line names the order line but matches nothing.
    assert (await read_order(client, owner, found["order"]["id"]))["lines"][0][
        "quantity_matched"
    ] == "0.0000"
    stale = await client.post(
        f"{API}/invoices/{bill['id']}/resolve-match",
        json={"credit_note_id": note},
        headers=owner.headers | {"If-Match": '"999"'},
    )
    assert stale.status_code == 412, stale.text
    resolved = await _resolve(client, owner, bill["id"], note)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "submitted"
    # Matched as an override matches: the 60 at the invoice's price.
    assert (await read_order(client, owner, found["order"]["id"]))["lines"][0][
        "quantity_matched"
    ] == "60.0000"
    history = await client.get(f"{API}/invoices/{bill['id']}/history", headers=owner.headers)
    assert [c["to_status"] for c in history.json()] == ["draft", "match_exception", "submitted"]
    assert history.json()[-1]["reason"] == "resolved by credit note CN-1"
    audit = await client.get(
        f"{API}/audit", params={"action": "invoice.match_resolved"}, headers=owner.headers
    )
    records = [r for r in audit.json()["items"] if r["action"] == "invoice.match_resolved"]
    assert records[0]["changes"]["credit_note_id"] == note
    assert records[0]["changes"]["netted"] == [
        {
            "purchase_order_line_id": order_line,
            "invoiced": "156.00",
            "credited": "6.00",
            "acceptable": "153.00",
            "difference": "-3.00",
        }
    ]
    approved = await step(client, owner, bill["id"], "approve")
    assert approved.json()["status"] == "approved", approved.text
    # A credit note that resolved a match stays.
    voided = await step(client, owner, note, "void")
    assert voided.status_code == 409, voided.text
    assert problem_code(voided) == "credit_note_resolves_match"


async def test_a_credit_note_too_small_leaves_the_remaining_difference(
    client: httpx.AsyncClient, owner: Account
) -> None:
    found = await _exception(client, owner)
    bill, order_line = found["invoice"], found["order_line"]
    # 60 x 0.04 = 2.40: 156.00 - 2.40 = 153.60, 0.60 above the 153.00 accepted.
    note = await _credit_note(
        client,
        owner,
        found["vendor"],
        [line(order_line, "60", "0.04")],
        number="CN-1",
        original=bill["id"],
    )
    refused = await _resolve(client, owner, bill["id"], note)
    assert refused.status_code == 409, refused.text
    assert problem_code(refused) == "match_not_resolved"
    assert refused.json()["remaining_differences"] == [
        {
            "purchase_order_line_id": order_line,
            "invoiced": "156.00",
            "credited": "2.40",
            "acceptable": "153.00",
            "difference": "0.60",
        }
    ]
    after = await client.get(f"{API}/invoices/{bill['id']}", headers=owner.headers)
    assert after.json()["status"] == "match_exception"
    assert (await read_order(client, owner, found["order"]["id"]))["lines"][0][
        "quantity_matched"
    ] == "0.0000"


async def test_credit_notes_that_do_not_count(client: httpx.AsyncClient, owner: Account) -> None:
    found = await _exception(client, owner)
    bill, order_line = found["invoice"], found["order_line"]
    credit = [line(order_line, "60", "0.10")]
    # Another vendor's credit note (of its own invoice).
    other_vendor = await make_vendor(client, owner, name="Other Bolts")
    theirs = await invoice(client, owner, other_vendor, [_plain()])
    foreign = await _credit_note(
        client, owner, other_vendor, [_plain()], number="O-1", original=theirs["id"]
    )
    answer = await _resolve(client, owner, bill["id"], foreign)
    assert (answer.status_code, problem_code(answer)) == (409, "credit_note_mismatch")
    # One that credits no invoice in particular.
    loose = await _credit_note(client, owner, found["vendor"], credit, number="C-2", original=None)
    answer = await _resolve(client, owner, bill["id"], loose)
    assert (answer.status_code, problem_code(answer)) == (409, "credit_note_mismatch")
    # One still a draft, and one submitted but not approved.
    draft = await _credit_note(
        client,
        owner,
        found["vendor"],
        credit,
        number="C-3",
        original=bill["id"],
        approve=False,
    )
    answer = await _resolve(client, owner, bill["id"], draft)
    assert (answer.status_code, problem_code(answer)) == (409, "credit_note_not_approved")
    assert (await step(client, owner, draft, "submit")).status_code == 200
    answer = await _resolve(client, owner, bill["id"], draft)
    assert (answer.status_code, problem_code(answer)) == (409, "credit_note_not_approved")
    # An invoice is not a credit note; another tenant's credit note does not exist here.
    answer = await _resolve(client, owner, bill["id"], bill["id"])
    assert (answer.status_code, problem_code(answer)) == (404, "credit_note_not_found")
    other = await signup(client, "othercredit")
    other_vendor_there = await make_vendor(client, other)
    there = await invoice(client, other, other_vendor_there, [_plain()], number="T-1")
    elsewhere = await _credit_note(
        client, other, other_vendor_there, [_plain()], number="T-C", original=there["id"]
    )
    answer = await _resolve(client, owner, bill["id"], elsewhere)
    assert (answer.status_code, problem_code(answer)) == (404, "credit_note_not_found")
    # Nor may another tenant resolve this invoice with its own credit note.
    answer = await _resolve(client, other, bill["id"], elsewhere)
    assert (answer.status_code, problem_code(answer)) == (404, "invoice_not_found")
    # An assistant may not resolve (an owner's step, as an override is).
    assistant = await add_user(client, owner, "arthur@bolts.example.com")
    answer = await _resolve(client, assistant, bill["id"], foreign)
    assert answer.status_code == 403, answer.text


def _plain() -> dict[str, str]:
    return {"description": "Bolts", "quantity": "1", "unit_price": "9.00"}


async def test_a_credit_note_resolves_one_exception_only(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    found = await _exception(client, owner)
    bill, order_line = found["invoice"], found["order_line"]
    note = await _credit_note(
        client,
        owner,
        found["vendor"],
        [line(order_line, "60", "0.10")],
        number="CN-1",
        original=bill["id"],
    )
    assert (await _resolve(client, owner, bill["id"], note)).status_code == 200
    await invoice(client, owner, await make_vendor(client, owner, name="Nuts"), [_plain()], "N-1")
    # Sent back and submitted again, the invoice is an exception again; the credit note
    # has been used.
    assert (await step(client, owner, bill["id"], "reject", {"reason": "x"})).status_code == 200
    assert (await step(client, owner, bill["id"], "reopen")).status_code == 200
    again = await step(client, owner, bill["id"], "submit")
    assert again.json()["status"] == "match_exception", again.text
    twice = await _resolve(client, owner, bill["id"], note)
    assert twice.status_code == 409, twice.text
    assert problem_code(twice) == "credit_note_used"
    assert twice.json()["invoice_id"] == bill["id"]
    # PostgreSQL refuses the second use too, and any change of a resolution.
    for statement, reason in REFUSED.values():
        with pytest.raises(DBAPIError) as refused:
            await _execute(database, owner, statement)
        assert reason in str(refused.value), str(refused.value)


async def _execute(database: Database, owner: Account, statement: str) -> None:
    """The statement in the owner's tenant as the runtime role; it must touch a row."""
    async with database.tenant_transaction(owner.tenant_id) as session:
        result = await session.execute(text(statement))
        assert getattr(result, "rowcount", 1) != 0, statement


REFUSED = {
    "a credit note used twice": (
        "INSERT INTO purchase_order_match_resolutions (tenant_id, id, invoice_id,"
        " credit_note_id, vendor_id) SELECT tenant_id, gen_random_uuid(), invoice_id,"
        " credit_note_id, vendor_id FROM purchase_order_match_resolutions",
        "purchase_order_match_resolutions_tenant_id_credit_note_id_key",
    ),
    "another vendor's credit note": (
        "INSERT INTO purchase_order_match_resolutions (tenant_id, id, invoice_id,"
        " credit_note_id, vendor_id) SELECT r.tenant_id, gen_random_uuid(), r.invoice_id,"
        " i.id, r.vendor_id FROM purchase_order_match_resolutions r JOIN invoices i"
        " ON i.vendor_id <> r.vendor_id",
        "violates foreign key constraint",
    ),
    "rewriting a resolution": (
        "UPDATE purchase_order_match_resolutions SET created_by = NULL",
        "permission denied",
    ),
    "deleting a resolution": ("DELETE FROM purchase_order_match_resolutions", "permission denied"),
}
