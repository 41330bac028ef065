"""Credit notes, rework after rejection, the approval policy and duplicates, through
HTTP; and what PostgreSQL refuses when the runtime role tries it directly."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.ledger import by_code, cache_disagreements, pay, trial_balance
from tests.helpers.payables import act, approved, balanced, draft, entry_lines, new_vendor

LINE = {"description": "Paper", "quantity": "1", "unit_price": "100", "tax_rate": "0.19"}


def line(price: str) -> dict[str, str]:
    return LINE | {"unit_price": price}


async def policy(client: httpx.AsyncClient, who: Account, **body: Any) -> httpx.Response:
    etag = (await client.get(f"{API}/approval-policy", headers=who.headers)).headers["etag"]
    return await client.put(
        f"{API}/approval-policy", json=body, headers=who.headers | {"If-Match": etag}
    )


async def apply(
    client: httpx.AsyncClient, who: Account, note_id: str, *allocations: tuple[str, str]
) -> httpx.Response:
    return await client.post(
        f"{API}/credit-notes/{note_id}/apply",
        json={"allocations": [{"invoice_id": i, "amount": a} for i, a in allocations]},
        headers=who.headers | {"If-Match": "*"},
    )


async def test_a_credit_note_applied_to_two_invoices(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    vendor_id = await new_vendor(client, owner)
    first = await approved(client, owner, vendor_id, [line("100")], "INV-1")  # 119.00
    second = await approved(client, owner, vendor_id, [line("50")], "INV-2")  # 59.50
    note = await approved(
        client, owner, vendor_id, [line("120")], "CN-1",
        kind="credit_note", original_invoice_id=first["id"],
    )  # fmt: skip
    assert (note["kind"], note["total"], note["original_invoice_id"]) == (
        "credit_note", "142.80", first["id"],
    )  # fmt: skip
    assert await entry_lines(client, owner, note["id"]) == {
        "2000": ("142.80", "0.00"),
        "6000": ("0.00", "120.00"),
        "1400": ("0.00", "22.80"),
    }
    paying_a_note = await pay(client, owner, note["id"], "1.00")
    assert (paying_a_note.status_code, problem_code(paying_a_note)) == (
        409, "credit_note_not_payable",
    )  # fmt: skip

    too_much = await apply(client, owner, note["id"], (second["id"], "59.51"))
    assert (too_much.status_code, problem_code(too_much)) == (422, "allocation_exceeds_open_amount")
    applied = await apply(client, owner, note["id"], (first["id"], "100.00"), (second["id"], "20"))
    assert applied.status_code == 200, applied.text
    assert (applied.json()["applied"], applied.json()["remaining"]) == ("120.00", "22.80")
    exceeded = await apply(client, owner, note["id"], (second["id"], "30.00"))
    assert (exceeded.status_code, problem_code(exceeded)) == (422, "credit_exceeded")
    rest = await apply(client, owner, note["id"], (first["id"], "19.00"), (second["id"], "3.80"))
    assert rest.status_code == 200, rest.text
    assert rest.json()["status"] == "paid"

    got = {
        i: (await client.get(f"{API}/invoices/{i}", headers=owner.headers)).json()
        for i in (first["id"], second["id"])
    }
    assert (got[first["id"]]["amount_paid"], got[first["id"]]["status"]) == ("119.00", "paid")
    assert (got[second["id"]]["amount_paid"], got[second["id"]]["status"]) == ("23.80", "approved")
    listed = await client.get(f"{API}/invoices/{second['id']}/allocations", headers=owner.headers)
    assert [a["amount"] for a in listed.json()] == ["20.00", "3.80"]
    # What is left of the second invoice is paid; payables are then zero.
    assert (await pay(client, owner, second["id"], "35.70")).status_code == 200
    assert by_code(await trial_balance(client, owner))["2000"][2] == "0.00"
    assert await balanced(client, owner)
    assert await cache_disagreements(database, owner.tenant_id) == []

    other_vendor = await new_vendor(client, owner, "Ink AG")
    foreign = await approved(client, owner, other_vendor, [line("10")], "X-1")
    note2 = await approved(client, owner, vendor_id, [line("10")], "CN-2", kind="credit_note")
    wrong = await apply(client, owner, note2["id"], (foreign["id"], "1.00"))
    assert (wrong.status_code, problem_code(wrong)) == (422, "allocation_mismatch")
    # PostgreSQL refuses an allocation to another vendor's invoice, and any change of one.
    with pytest.raises(DBAPIError, match="foreign key"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO credit_note_allocations (tenant_id, id, credit_note_id,"
                    " invoice_id, vendor_id, amount) VALUES (:t, gen_random_uuid(), :n, :i,"
                    " :v, 1)"
                ),
                {"t": owner.tenant_id, "n": note2["id"], "i": foreign["id"], "v": vendor_id},
            )
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(text("UPDATE credit_note_allocations SET amount = 1"))
    # An invoice's open amount never goes below zero, whatever is sent.
    with pytest.raises(DBAPIError, match="paid_within_total"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text("UPDATE invoices SET amount_paid = total + 1 WHERE id = :i"),
                {"i": second["id"]},
            )


async def test_concurrent_allocations_never_overdraw_an_invoice(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await new_vendor(client, owner)
    invoice = await approved(client, owner, vendor_id, [line("100")], "INV-1")  # 119.00
    notes = [
        await approved(client, owner, vendor_id, [line(price)], f"CN-{price}", kind="credit_note")
        for price in ("80", "81")
    ]  # 95.20 and 96.39
    answers = await asyncio.gather(
        *(apply(client, owner, note["id"], (invoice["id"], "95.20")) for note in notes)
    )
    codes = sorted(
        (a.status_code, problem_code(a) if a.status_code != 200 else "") for a in answers
    )
    assert codes == [(200, ""), (422, "allocation_exceeds_open_amount")]
    got = (await client.get(f"{API}/invoices/{invoice['id']}", headers=owner.headers)).json()
    assert got["amount_paid"] == "95.20"


async def test_a_rejected_invoice_is_reopened_edited_and_resubmitted(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await new_vendor(client, owner)
    created = await draft(client, owner, vendor_id, [line("100")], "R-1")
    invoice_id = created.json()["id"]
    assert (await act(client, owner, invoice_id, "submit")).status_code == 200
    not_yet = await act(client, owner, invoice_id, "reopen")
    assert (not_yet.status_code, problem_code(not_yet)) == (409, "illegal_transition")
    rejected = await act(client, owner, invoice_id, "reject", {"reason": "wrong price"})
    assert rejected.status_code == 200, rejected.text
    stale = await client.post(
        f"{API}/invoices/{invoice_id}/reopen",
        headers=owner.headers | {"If-Match": created.headers["etag"]},
    )
    assert stale.status_code == 412
    reopened = await client.post(
        f"{API}/invoices/{invoice_id}/reopen",
        headers=owner.headers | {"If-Match": rejected.headers["etag"]},
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["rejection_reason"]) == ("draft", None)
    edited = await client.patch(
        f"{API}/invoices/{invoice_id}",
        json={"lines": [line("90")]},
        headers=owner.headers | {"If-Match": reopened.headers["etag"]},
    )
    assert (edited.status_code, edited.json()["total"]) == (200, "107.10")
    assert (await act(client, owner, invoice_id, "submit")).status_code == 200
    done = await act(client, owner, invoice_id, "approve")
    assert done.json()["status"] == "approved", done.text
    history = await client.get(f"{API}/invoices/{invoice_id}/history", headers=owner.headers)
    assert [(h["to_status"], h["reason"]) for h in history.json()] == [
        ("draft", None),
        ("submitted", None),
        ("rejected", "wrong price"),
        ("draft", None),
        ("submitted", None),
        ("approved", None),
    ]
    audit = await client.get(f"{API}/audit", headers=owner.headers)
    assert "invoice.reopen" in {event["action"] for event in audit.json()["items"]}


async def test_a_voided_invoice_no_longer_blocks_its_number(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await new_vendor(client, owner)
    first = (await draft(client, owner, vendor_id, [line("100")], "R-1")).json()
    again = await draft(client, owner, vendor_id, [line("100")], "R-1")
    assert (again.status_code, problem_code(again)) == (409, "duplicate_invoice")
    assert (await act(client, owner, first["id"], "void")).status_code == 200
    anew = await draft(client, owner, vendor_id, [line("100")], "R-1")
    assert anew.status_code == 201, anew.text
    assert anew.json()["possible_duplicate_of"] == []  # a void invoice is no twin


@pytest.mark.parametrize("number", ["r-1", "R1", "R-1 ", "R\u20131", "R.1", "\uff32-1"])
async def test_numbers_are_compared_folded(
    client: httpx.AsyncClient, owner: Account, number: str
) -> None:
    vendor_id = await new_vendor(client, owner)
    assert (await draft(client, owner, vendor_id, [line("100")], "R-1")).status_code == 201
    twin = await draft(client, owner, vendor_id, [line("100")], number)
    assert (twin.status_code, problem_code(twin)) == (409, "duplicate_invoice")
    other_vendor = await new_vendor(client, owner, "Ink AG")
    assert (await draft(client, owner, other_vendor, [line("100")], number)).status_code == 201


async def test_a_near_duplicate_is_flagged_and_approved_only_with_a_reason(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    vendor_id = await new_vendor(client, owner)
    first = (await draft(client, owner, vendor_id, [line("100")], "R-1")).json()
    near = await draft(client, owner, vendor_id, [line("100")], "R-2", issue_date="2026-03-07")
    assert near.json()["possible_duplicate_of"] == [first["id"]]
    far = await draft(client, owner, vendor_id, [line("100")], "R-3", issue_date="2026-03-20")
    assert far.json()["possible_duplicate_of"] == []
    other_total = await draft(client, owner, vendor_id, [line("101")], "R-4")
    assert other_total.json()["possible_duplicate_of"] == []

    near_id = near.json()["id"]
    assert (await act(client, owner, near_id, "submit")).status_code == 200
    refused = await act(client, owner, near_id, "approve")
    assert (refused.status_code, problem_code(refused)) == (409, "possible_duplicate")
    assert refused.json()["possible_duplicate_of"] == [first["id"]]
    overridden = await act(
        client, owner, near_id, "approve", {"duplicate_override_reason": "two deliveries"}
    )
    assert overridden.json()["status"] == "approved", overridden.text
    audit = await client.get(f"{API}/audit", headers=owner.headers)
    overrides = [e for e in audit.json()["items"] if e["action"] == "invoice.duplicate_overridden"]
    assert overrides[0]["changes"]["reason"] == "two deliveries"
    # The first one is the near duplicate's twin too, when it comes to be approved.
    assert (await act(client, owner, first["id"], "submit")).status_code == 200
    twin = await act(client, owner, first["id"], "approve")
    assert (twin.status_code, problem_code(twin)) == (409, "possible_duplicate")
    # PostgreSQL refuses the same folded number for the vendor, however it is written.
    with pytest.raises(DBAPIError, match="number_key"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text("UPDATE invoices SET number_key = 'r1' WHERE id = :i"), {"i": near_id}
            )


async def test_two_approvals_by_owners_who_did_not_create_it(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    answer = await policy(
        client, owner, segregation_of_duties=True, approver_cannot_pay=True,
        thresholds=[
            {"min_amount": "0.00", "approvals": 1},
            {"min_amount": "10000.00", "approvals": 2, "roles": ["TENANT_OWNER"]},
        ],
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == '"2"'
    shown = await client.get(f"{API}/approval-policy", headers=owner.headers)
    assert shown.json()["thresholds"][1] == {
        "min_amount": "10000.00", "approvals": 2, "roles": ["TENANT_OWNER"],
    }  # fmt: skip
    kim = await add_user(client, owner, "kim@ownerco.example.com", "TENANT_OWNER")
    lee = await add_user(client, owner, "lee@ownerco.example.com", "TENANT_OWNER")
    clerk = await add_user(client, owner, "ann@ownerco.example.com")
    vendor_id = await new_vendor(client, owner)
    created = await draft(client, owner, vendor_id, [line("840336.13")], "BIG-1")  # 999,999.99
    invoice_id = created.json()["id"]
    assert (await act(client, owner, invoice_id, "submit")).status_code == 200

    creator = await act(client, owner, invoice_id, "approve")
    assert (creator.status_code, problem_code(creator)) == (403, "approval_policy")
    assert creator.json()["rule"] == "segregation_of_duties"
    assistant = await act(client, clerk, invoice_id, "approve")
    assert assistant.status_code == 403
    one = await act(client, kim, invoice_id, "approve")
    assert (one.status_code, one.json()["status"]) == (200, "submitted")
    twice = await act(client, kim, invoice_id, "approve")
    assert (twice.status_code, twice.json()["rule"]) == (403, "distinct_approvers")
    two = await act(client, lee, invoice_id, "approve")
    assert (two.status_code, two.json()["status"]) == (200, "approved")
    approvals = await client.get(f"{API}/invoices/{invoice_id}/approvals", headers=owner.headers)
    assert [(a["step"], a["approver_id"], a["role"]) for a in approvals.json()] == [
        (1, str(kim.user_id), "TENANT_OWNER"),
        (2, str(lee.user_id), "TENANT_OWNER"),
    ]
    approver_pays = await pay(client, lee, invoice_id, "1.00")
    assert (approver_pays.status_code, approver_pays.json()["rule"]) == (403, "approver_cannot_pay")
    assert (await pay(client, owner, invoice_id, "1.00")).status_code == 200
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(text("DELETE FROM invoice_approvals"))
    with pytest.raises(DBAPIError, match="approver_id"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO invoice_approvals (tenant_id, id, invoice_id, submission, step,"
                    " approver_type, approver_id) VALUES (:t, gen_random_uuid(), :i, 1, 3,"
                    " 'user', :a)"
                ),
                {"t": owner.tenant_id, "i": invoice_id, "a": kim.user_id},
            )
    # Below the threshold, one approval by anyone who may approve, but not the creator.
    small = (await draft(client, owner, vendor_id, [line("10")], "S-1")).json()["id"]
    assert (await act(client, owner, small, "submit")).status_code == 200
    assert (await act(client, owner, small, "approve")).status_code == 403
    assert (await act(client, kim, small, "approve")).json()["status"] == "approved"
    assert await balanced(client, owner)


async def test_two_approvers_at_the_same_moment_approve_once(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await policy(client, owner, thresholds=[{"min_amount": "0.00", "approvals": 2}])
    kim = await add_user(client, owner, "kim@ownerco.example.com", "TENANT_OWNER")
    vendor_id = await new_vendor(client, owner)
    created = await draft(client, owner, vendor_id, [line("100")], "C-1")
    invoice_id = created.json()["id"]
    submitted = await act(client, owner, invoice_id, "submit")
    etag = submitted.headers["etag"]
    answers = await asyncio.gather(
        *(
            client.post(
                f"{API}/invoices/{invoice_id}/approve", headers=who.headers | {"If-Match": etag}
            )
            for who in (owner, kim)
        )
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["status"] for a in answers) == ["approved", "submitted"]
    approvals = await client.get(f"{API}/invoices/{invoice_id}/approvals", headers=owner.headers)
    assert sorted(a["step"] for a in approvals.json()) == [1, 2]
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_id": invoice_id}, headers=owner.headers
    )
    assert [e["kind"] for e in entries.json()["items"]] == ["approval"]


async def test_the_policy_is_the_owners_and_takes_if_match(
    client: httpx.AsyncClient, owner: Account
) -> None:
    clerk = await add_user(client, owner, "ann@ownerco.example.com")
    body = {"thresholds": [{"min_amount": "0.00", "approvals": 1}]}
    refused = await client.put(
        f"{API}/approval-policy", json=body, headers=clerk.headers | {"If-Match": '"1"'}
    )
    assert refused.status_code == 403
    missing = await client.put(f"{API}/approval-policy", json=body, headers=owner.headers)
    assert missing.status_code == 428
    stale = await client.put(
        f"{API}/approval-policy", json=body, headers=owner.headers | {"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    overlap = await policy(
        client, owner,
        thresholds=[{"min_amount": "5.00", "approvals": 1}, {"min_amount": "5", "approvals": 2}],
    )  # fmt: skip
    assert (overlap.status_code, problem_code(overlap)) == (422, "thresholds_overlap")


async def test_another_tenants_ids_are_not_found(client: httpx.AsyncClient, owner: Account) -> None:
    vendor_id = await new_vendor(client, owner)
    invoice = await approved(client, owner, vendor_id, [line("100")], "INV-1")
    note = await approved(client, owner, vendor_id, [line("10")], "CN-1", kind="credit_note")
    other = await signup(client, "otherco")
    any_version = other.headers | {"If-Match": "*"}
    for path in (
        f"/invoices/{invoice['id']}/approvals",
        f"/invoices/{invoice['id']}/allocations",
        f"/invoices/{note['id']}",
    ):
        answer = await client.get(f"{API}{path}", headers=other.headers)
        assert answer.status_code == 404, path
    reopened = await client.post(f"{API}/invoices/{invoice['id']}/reopen", headers=any_version)
    assert reopened.status_code == 404
    applied = await apply(client, other, note["id"], (invoice["id"], "1.00"))
    assert (applied.status_code, problem_code(applied)) == (404, "credit_note_not_found")
    own_vendor = await new_vendor(client, other)
    own_note = await approved(client, other, own_vendor, [line("10")], "CN-9", kind="credit_note")
    into_theirs = await apply(client, other, own_note["id"], (invoice["id"], "1.00"))
    assert (into_theirs.status_code, problem_code(into_theirs)) == (404, "invoice_not_found")
    linked = await draft(
        client, other, own_vendor, [line("1")], "CN-8",
        kind="credit_note", original_invoice_id=invoice["id"],
    )  # fmt: skip
    assert (linked.status_code, problem_code(linked)) == (404, "invoice_not_found")
