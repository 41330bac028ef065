"""Invoices: computed totals, duplicates, the lifecycle, roles, and races."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.invoices import LINES, invoice, step, vendor


async def test_totals_are_computed_and_rounded_half_up(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await invoice(client, owner, await vendor(client, owner))
    assert created.status_code == 201, created.text
    body = created.json()
    # 3 x 0.335 = 1.005 -> 1.01 half-up (banker's rounding would give 1.00); tax 0.19
    # 2 x 49.99 = 99.98; tax 18.9962 -> 19.00
    assert [(x["line_subtotal"], x["line_tax"]) for x in body["lines"]] == [
        ("1.01", "0.19"),
        ("99.98", "19.00"),
    ]
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("100.99", "19.19", "120.18")
    assert (body["due_date"], body["currency"], body["status"]) == ("2026-03-15", "EUR", "draft")
    wrong = await invoice(client, owner, body["vendor_id"], number="INV-2", total="120.00")
    assert problem_code(wrong) == "total_mismatch"
    floats = await invoice(client, owner, body["vendor_id"], number="INV-3", total=120.18)
    assert floats.status_code == 422


async def test_a_vendors_invoice_number_is_unique(
    client: httpx.AsyncClient, owner: Account
) -> None:
    paper = await vendor(client, owner)
    first = (await invoice(client, owner, paper)).json()
    again = await invoice(client, owner, paper)
    assert problem_code(again) == "duplicate_invoice"
    assert again.json()["existing_invoice_id"] == first["id"]
    other = await vendor(client, owner, "Ink Ltd")
    assert (await invoice(client, owner, other)).status_code == 201


async def test_the_lifecycle_with_partial_payments_and_history(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = (await invoice(client, owner, await vendor(client, owner))).json()
    iid = created["id"]
    assert (await step(client, owner, iid, "submit")).json()["status"] == "submitted"
    assert (await step(client, owner, iid, "approve")).json()["status"] == "approved"
    partial = await step(client, owner, iid, "pay", {"paid_on": "2026-03-10", "amount": "100.00"})
    assert (partial.json()["status"], partial.json()["amount_paid"]) == ("approved", "100.00")
    over = await step(client, owner, iid, "pay", {"paid_on": "2026-03-11", "amount": "50.00"})
    assert problem_code(over) == "overpayment"
    rest = await step(client, owner, iid, "pay", {"paid_on": "2026-03-11", "amount": "20.18"})
    assert (rest.json()["status"], rest.json()["amount_paid"]) == ("paid", "120.18")
    history = (await client.get(f"{API}/invoices/{iid}/history", headers=owner.headers)).json()
    assert [h["to_status"] for h in history] == ["draft", "submitted", "approved", "paid"]
    assert problem_code(await step(client, owner, iid, "void")) == "illegal_transition"


@pytest.mark.parametrize(
    ("action", "status"),
    [("approve", "draft"), ("reject", "draft"), ("pay", "draft")],
)
async def test_illegal_steps_are_409_with_the_current_status(
    client: httpx.AsyncClient, owner: Account, action: str, status: str
) -> None:
    created = (await invoice(client, owner, await vendor(client, owner))).json()
    body = (
        {"reason": "x"}
        if action == "reject"
        else ({"paid_on": "2026-03-10", "amount": "1.00"} if action == "pay" else None)
    )
    response = await step(client, owner, created["id"], action, body)
    assert response.status_code == 409
    assert response.json()["current_status"] == status


async def test_rejection_needs_a_reason_and_steps_need_the_current_etag(
    client: httpx.AsyncClient, owner: Account
) -> None:
    iid = (await invoice(client, owner, await vendor(client, owner))).json()["id"]
    bare = await client.post(f"{API}/invoices/{iid}/submit", headers=owner.headers)
    assert problem_code(bare) == "if_match_required"
    stale_tag = (await client.get(f"{API}/invoices/{iid}", headers=owner.headers)).headers["etag"]
    await step(client, owner, iid, "submit")
    stale = await step(client, owner, iid, "approve", etag=stale_tag)
    assert problem_code(stale) == "version_conflict"
    assert (await step(client, owner, iid, "reject", {"reason": ""})).status_code == 422
    rejected = await step(client, owner, iid, "reject", {"reason": "Wrong prices"})
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "Wrong prices",
    )


async def test_only_drafts_change_and_only_owners_approve_or_delete(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ann = await add_user(client, owner, "ann@payables.example.com")
    created = (await invoice(client, ann, await vendor(client, ann))).json()
    iid = created["id"]
    assert problem_code(await client.delete(f"{API}/invoices/{iid}", headers=ann.headers)) == (
        "permission_denied"
    )
    assert (await step(client, ann, iid, "submit")).status_code == 200
    assert problem_code(await step(client, ann, iid, "approve")) == "permission_denied"
    etag = (await client.get(f"{API}/invoices/{iid}", headers=ann.headers)).headers["etag"]
    late_edit = await client.patch(
        f"{API}/invoices/{iid}", json={"notes": "x"}, headers=ann.headers | {"If-Match": etag}
    )
    assert problem_code(late_edit) == "invoice_not_draft"


async def test_two_concurrent_approvals_approve_once(
    client: httpx.AsyncClient, owner: Account
) -> None:
    iid = (await invoice(client, owner, await vendor(client, owner))).json()["id"]
    await step(client, owner, iid, "submit")
    etag = (await client.get(f"{API}/invoices/{iid}", headers=owner.headers)).headers["etag"]
    results = await asyncio.gather(
        *(step(client, owner, iid, "approve", etag=etag) for _ in range(4))
    )
    assert sorted(r.status_code for r in results) == [200, 412, 412, 412]
    history = (await client.get(f"{API}/invoices/{iid}/history", headers=owner.headers)).json()
    assert [h["to_status"] for h in history].count("approved") == 1


async def test_two_concurrent_payments_are_not_counted_twice(
    client: httpx.AsyncClient, owner: Account
) -> None:
    iid = (await invoice(client, owner, await vendor(client, owner))).json()["id"]
    await step(client, owner, iid, "submit")
    await step(client, owner, iid, "approve")
    etag = (await client.get(f"{API}/invoices/{iid}", headers=owner.headers)).headers["etag"]
    payment = {"paid_on": "2026-03-10", "amount": "120.18"}
    results = await asyncio.gather(
        *(step(client, owner, iid, "pay", payment, etag=etag) for _ in range(3))
    )
    assert sorted(r.status_code for r in results) == [200, 412, 412]
    final = (await client.get(f"{API}/invoices/{iid}", headers=owner.headers)).json()
    assert (final["amount_paid"], final["status"]) == ("120.18", "paid")


async def test_another_tenants_invoices_and_vendors_do_not_exist(
    client: httpx.AsyncClient, owner: Account
) -> None:
    paper = await vendor(client, owner)
    iid = (await invoice(client, owner, paper)).json()["id"]
    other = await signup(client, "notpayables")
    assert problem_code(await invoice(client, other, paper)) == "vendor_not_found"
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/history"),
        ("POST", "/submit"),
        ("POST", "/approve"),
        ("POST", "/void"),
    ):
        response = await client.request(
            method,
            f"{API}/invoices/{iid}{path}",
            json={"notes": "x"} if method == "PATCH" else None,
            headers=other.headers | {"If-Match": '"1"'},
        )
        assert response.status_code == 404, (method, path)


async def test_a_partly_paid_invoice_cannot_be_voided(
    client: httpx.AsyncClient, owner: Account
) -> None:
    iid = (await invoice(client, owner, await vendor(client, owner))).json()["id"]
    await step(client, owner, iid, "submit")
    await step(client, owner, iid, "approve")
    await step(client, owner, iid, "pay", {"paid_on": "2026-03-10", "amount": "100.00"})
    voided = await step(client, owner, iid, "void")
    assert problem_code(voided) == "invoice_has_payments"
    foreign = await step(
        client, owner, iid, "pay", {"paid_on": "2026-03-10", "amount": "1.00", "currency": "USD"}
    )
    assert foreign.status_code == 422  # a payment is in the invoice's currency


async def test_amounts_dates_and_totals_are_checked(
    client: httpx.AsyncClient, owner: Account
) -> None:
    paper = await vendor(client, owner)
    huge = [
        {"description": "x", "quantity": "99999999999999.9999", "unit_price": "99999999999999.9999"}
    ]
    assert (await invoice(client, owner, paper, lines=huge)).status_code == 422
    for whole in ("99999999999999", "12345678901"):  # 10 digits before the point at most
        too_many = [{"description": "x", "quantity": whole, "unit_price": "1"}]
        refused = await invoice(client, owner, paper, number=f"W{whole}", lines=too_many)
        assert problem_code(refused) == "validation_failed", refused.text
    backwards = await invoice(client, owner, paper, number="B", due_date="2020-01-01")
    assert problem_code(backwards) == "due_before_issue"
    sub_cent = await invoice(client, owner, paper, number="C", total="120.184")
    assert sub_cent.status_code == 422
    free = await invoice(
        client,
        owner,
        paper,
        number="D",
        lines=[{"description": "Gift", "quantity": "1", "unit_price": "0"}],
    )
    assert problem_code(await step(client, owner, free.json()["id"], "submit")) == "zero_total"


async def test_new_lines_are_a_new_version(client: httpx.AsyncClient, owner: Account) -> None:
    created = await invoice(
        client,
        owner,
        await vendor(client, owner),
        lines=[{"description": "Apples", "quantity": "1", "unit_price": "10"}],
    )
    old_tag = created.headers["etag"]
    swapped = await client.patch(
        f"{API}/invoices/{created.json()['id']}",
        json={"lines": [{"description": "Other", "quantity": "2", "unit_price": "5"}]},
        headers=owner.headers | {"If-Match": old_tag},
    )
    assert swapped.json()["total"] == created.json()["total"]
    assert swapped.headers["etag"] != old_tag
    stale = await step(client, owner, created.json()["id"], "submit", etag=old_tag)
    assert problem_code(stale) == "version_conflict"


async def test_concurrent_duplicates_are_409_not_500(
    client: httpx.AsyncClient, owner: Account
) -> None:
    paper = await vendor(client, owner)
    results = await asyncio.gather(
        *(invoice(client, owner, paper, number="RACE") for _ in range(4))
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]


async def test_creating_an_invoice_or_batch_is_idempotent(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    body = {"vendor_id": vendor_id, "number": "K-1", "issue_date": "2026-03-01", "lines": LINES}
    headers = owner.headers | {"Idempotency-Key": "invoice-k-1"}
    first = await client.post(f"{API}/invoices", json=body, headers=headers)
    again = await client.post(f"{API}/invoices", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    other_body = await client.post(
        f"{API}/invoices", json=body | {"number": "K-2"}, headers=headers
    )
    assert other_body.status_code == 422
    listed = await client.get(f"{API}/invoices", headers=owner.headers)
    assert [i["number"] for i in listed.json()["items"]] == ["K-1"]
    batch_headers = owner.headers | {"Idempotency-Key": "batch-1"}
    batches = [
        await client.post(f"{API}/batches", json={"name": "Post"}, headers=batch_headers)
        for _ in range(2)
    ]
    assert batches[0].json()["id"] == batches[1].json()["id"]
