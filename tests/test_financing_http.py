"""Financing through HTTP: an offer mailed, accepted by its link, settled from own cash or
by a funder and repaid; stale offers, spent and foreign tokens, the budget's bounds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from tests.helpers import financing
from tests.helpers.audit import audit_events
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.ledger import balances, by_code, cache_disagreements, pay, trial_balance


async def _program(client: httpx.AsyncClient, who: Account, program_id: str) -> dict[str, Any]:
    answer = await client.get(f"{API}/financing/programs/{program_id}", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _offered(
    client: httpx.AsyncClient, settings: Settings, who: Account, **program_fields: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """(program, invoice, offer, token): 10,000.00 due in 40 days, paid in 10."""
    vendor_id = await financing.vendor(client, who)
    invoice = await financing.approved_invoice(client, who, vendor_id)
    program = await financing.program(client, who, **program_fields)
    offer = await financing.offer(client, who, invoice["id"], program["id"], pay_in_days=10)
    return program, invoice, offer, await financing.last_token(settings, who.tenant_id)


def _alike(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["detail"]


async def test_an_offer_is_mailed_accepted_once_and_settled_from_own_cash(
    client: httpx.AsyncClient, settings: Settings, database: Database, owner: Account
) -> None:
    program, invoice, offer, token = await _offered(client, settings, owner)
    [mail] = await financing.offer_mails(settings, owner.tenant_id)
    assert mail["to_address"] == financing.VENDOR_EMAIL
    assert "98.63" in mail["body"]
    assert "9901.37" in mail["body"]
    stored = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT token_hash FROM financing_offers WHERE id = $1",
        UUID(offer["id"]),
    )
    assert token.encode() not in stored[0]["token_hash"]  # a keyed hash, never the token
    assert offer["status"] == "offered"
    again = await financing.make_offer(client, owner, invoice["id"], program["id"], 10)
    assert again.status_code == 409
    assert problem_code(again) == "offer_exists"
    listed = await client.get(
        f"{API}/financing/opportunities",
        params={"program_id": program["id"], "pay_on": financing.days_from_today(10)},
        headers=owner.headers,
    )
    assert listed.json()["items"] == []  # reserved by the live offer

    first = await financing.accept(client, token)
    assert first.status_code == 200, first.text
    assert (first.json()["net_amount"], first.json()["discount"]) == ("9901.37", "98.63")
    second = await financing.accept(client, token)
    assert second.json()["acceptance_id"] == first.json()["acceptance_id"]
    held = await _program(client, owner, program["id"])
    assert (held["committed"], held["available"]) == ("9901.37", "90098.63")

    settled = await financing.settle(client, owner, offer["id"], "settle-1")
    assert settled.status_code == 200, settled.text
    assert (settled.json()["kind"], settled.json()["amount"]) == ("settlement", "9901.37")
    replay = await financing.settle(client, owner, offer["id"], "settle-1")
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["id"] == settled.json()["id"]
    paid = await client.get(f"{API}/invoices/{invoice['id']}", headers=owner.headers)
    assert (paid.json()["status"], paid.json()["amount_paid"]) == ("paid", "10000.00")
    moved = await balances(database, owner.tenant_id)
    assert moved[("2000", "EUR")] == Decimal("0.00")
    assert moved[("1000", "EUR")] == Decimal("-9901.37")
    assert moved[("4900", "EUR")] == Decimal("-98.63")
    assert await cache_disagreements(database, owner.tenant_id) == []
    assert (await _program(client, owner, program["id"]))["committed"] == "0.00"

    # The token of a settled offer is spent: it answers like an unknown one.
    spent = await financing.accept(client, token)
    unknown = await financing.accept(client, f"llf_{owner.tenant_id.hex}_nothing-like-it")
    assert (
        _alike(spent)
        == _alike(unknown)
        == (
            404,
            "offer_link_invalid",
            "This offer link is invalid, used up or expired.",
        )
    )
    actions = {event["action"] for event in await audit_events(client, owner)}
    assert {
        "financing.program_created",
        "financing.offer_made",
        "financing.offer_accepted",
        "financing.offer_settled",
    } <= actions
    for path, count in (("offers", 1), ("acceptances", 1), ("settlements", 1)):
        page = await client.get(
            f"{API}/financing/{path}", params={"program_id": program["id"]}, headers=owner.headers
        )
        assert len(page.json()["items"]) == count, path
    offers = await client.get(
        f"{API}/financing/offers", params={"status": "offered"}, headers=owner.headers
    )
    assert offers.json()["items"] == []


async def _void(client: httpx.AsyncClient, who: Account, invoice_id: str) -> None:
    answer = await client.post(
        f"{API}/invoices/{invoice_id}/void", headers=who.headers | {"If-Match": "*"}
    )
    assert answer.status_code == 200, answer.text


async def _pay_part(client: httpx.AsyncClient, who: Account, invoice_id: str) -> None:
    answer = await pay(client, who, invoice_id, "100.00", financing.today().isoformat())
    assert answer.status_code == 200, answer.text


async def _edit(client: httpx.AsyncClient, who: Account, invoice_id: str) -> None:
    """A payment and its reversal: the same open amount at a new version."""
    answer = await pay(client, who, invoice_id, "100.00", financing.today().isoformat())
    assert answer.status_code == 200, answer.text
    listed = await client.get(f"{API}/invoices/{invoice_id}/payments", headers=who.headers)
    [payment] = listed.json()
    reversed_ = await client.post(
        f"{API}/payments/{payment['id']}/reverse", headers=who.headers | {"If-Match": "*"}
    )
    assert reversed_.status_code == 200, reversed_.text


@pytest.mark.parametrize("change", [_void, _pay_part, _edit])
async def test_an_offer_whose_invoice_changed_is_stale(
    client: httpx.AsyncClient, settings: Settings, owner: Account, change: Any
) -> None:
    program, invoice, _, token = await _offered(client, settings, owner)
    await change(client, owner, invoice["id"])
    refused = await financing.accept(client, token)
    assert refused.status_code == 409, refused.text
    assert problem_code(refused) == "offer_stale"
    assert (await _program(client, owner, program["id"]))["committed"] == "0.00"


async def test_expired_and_withdrawn_tokens_answer_like_unknown_ones(
    client: httpx.AsyncClient, settings: Settings, owner: Account
) -> None:
    vendor_id = await financing.vendor(client, owner)
    program = await financing.program(client, owner)
    answers = [await financing.accept(client, "not a token")]
    answers.append(await financing.accept(client, f"llf_{owner.tenant_id.hex}_unknown"))
    for number, spoil in (("E-1", "expire"), ("E-2", "withdraw")):
        invoice = await financing.approved_invoice(client, owner, vendor_id, number=number)
        offer = await financing.offer(client, owner, invoice["id"], program["id"], 10)
        token = await financing.last_token(settings, owner.tenant_id)
        if spoil == "expire":
            await owner_sql(
                settings,
                owner.tenant_id,
                "UPDATE financing_offers SET expires_at = now() - interval '1 second'"
                " WHERE id = $1",
                UUID(offer["id"]),
            )
            shown = await client.get(f"{API}/financing/offers/{offer['id']}", headers=owner.headers)
            assert shown.json()["status"] == "expired"
        else:
            withdrawn = await client.post(
                f"{API}/financing/offers/{offer['id']}/withdraw",
                headers=owner.headers | {"If-Match": "*"},
            )
            assert withdrawn.json()["status"] == "withdrawn"
        answers.append(await financing.accept(client, token))
    assert {_alike(answer) for answer in answers} == {
        (404, "offer_link_invalid", "This offer link is invalid, used up or expired.")
    }


async def test_reverse_factoring_end_to_end(
    client: httpx.AsyncClient, settings: Settings, database: Database, owner: Account
) -> None:
    program, invoice, offer, token = await _offered(
        client,
        settings,
        owner,
        funding="funder",
        funder_name="Bank of Funds",
        funder_fee_share="0.25",
    )
    assert (await financing.accept(client, token)).status_code == 200
    early = await client.post(
        f"{API}/financing/offers/{offer['id']}/repay", headers=owner.headers | {"If-Match": "*"}
    )
    assert early.status_code == 409
    assert problem_code(early) == "offer_not_settled"
    settled = await financing.settle(client, owner, offer["id"], "rf-settle")
    assert settled.status_code == 200, settled.text
    moved = await balances(database, owner.tenant_id)
    assert moved[("2000", "EUR")] == Decimal("0.00")
    assert moved[("2400", "EUR")] == Decimal("-10000.00")  # owed to the funder
    assert ("1000", "EUR") not in moved  # the funder paid the vendor, not the tenant
    paid = await client.get(f"{API}/invoices/{invoice['id']}", headers=owner.headers)
    assert paid.json()["status"] == "paid"
    assert (await _program(client, owner, program["id"]))["committed"] == "9901.37"

    repaid = await client.post(
        f"{API}/financing/offers/{offer['id']}/repay",
        headers=owner.headers | {"If-Match": "*", "Idempotency-Key": "rf-repay"},
    )
    assert repaid.status_code == 200, repaid.text
    # The full amount less the funder's fee share (25% of 98.63 = 24.66).
    assert (repaid.json()["kind"], repaid.json()["amount"]) == ("repayment", "9975.34")
    assert repaid.json()["paid_on"] == offer["due_date"]
    trial = await financing_trial(client, owner)
    assert trial["totals_balance"]
    rows = by_code(trial["body"])
    assert rows["2400"][2] == "0.00"
    assert rows["1000"][2] == "-9975.34"
    assert rows["4900"][2] == "-24.66"
    assert await cache_disagreements(database, owner.tenant_id) == []
    assert (await _program(client, owner, program["id"]))["committed"] == "0.00"
    shown = await client.get(f"{API}/financing/offers/{offer['id']}", headers=owner.headers)
    assert shown.json()["status"] == "repaid"
    kinds = await client.get(
        f"{API}/financing/settlements", params={"offer_id": offer["id"]}, headers=owner.headers
    )
    assert sorted(item["kind"] for item in kinds.json()["items"]) == ["repayment", "settlement"]


async def financing_trial(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    trial = await trial_balance(client, who, as_of=financing.days_from_today(60))
    debit = sum(Decimal(row["debit"]) for row in trial["accounts"])
    credit = sum(Decimal(row["credit"]) for row in trial["accounts"])
    return {"body": trial, "totals_balance": debit == credit}


async def test_another_tenants_program_offer_and_token_are_not_found(
    client: httpx.AsyncClient, settings: Settings, owner: Account
) -> None:
    program, invoice, offer, token = await _offered(client, settings, owner)
    other = await signup(client, "otherco")
    for path in (f"programs/{program['id']}", f"offers/{offer['id']}"):
        answer = await client.get(f"{API}/financing/{path}", headers=other.headers)
        assert answer.status_code == 404, path
    withdrawn = await client.post(
        f"{API}/financing/offers/{offer['id']}/withdraw",
        headers=other.headers | {"If-Match": "*"},
    )
    assert withdrawn.status_code == 404
    foreign = await financing.make_offer(client, other, invoice["id"], program["id"], 10)
    assert foreign.status_code == 404
    # The token names its tenant; pointed at another one it finds nothing there.
    moved = token.replace(owner.tenant_id.hex, other.tenant_id.hex)
    assert _alike(await financing.accept(client, moved))[:2] == (404, "offer_link_invalid")
    assert (await _program(client, owner, program["id"]))["committed"] == "0.00"


async def test_the_budget_moves_but_never_below_committed_and_runs_out(
    client: httpx.AsyncClient, settings: Settings, owner: Account
) -> None:
    program, _, _, token = await _offered(client, settings, owner, budget="10000.00")
    assert (await financing.accept(client, token)).status_code == 200
    url = f"{API}/financing/programs/{program['id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    lowered = await client.patch(
        url, json={"budget": "9901.36"}, headers=owner.headers | {"If-Match": etag}
    )
    assert lowered.status_code == 409
    assert problem_code(lowered) == "budget_below_committed"
    exact = await client.patch(
        url, json={"budget": "9901.37"}, headers=owner.headers | {"If-Match": etag}
    )
    assert exact.status_code == 200, exact.text
    assert (exact.json()["budget"], exact.json()["available"]) == ("9901.37", "0.00")

    vendor_id = await financing.vendor(client, owner, name="Second Supplier")
    invoice = await financing.approved_invoice(client, owner, vendor_id, amount="10.00")
    await financing.offer(client, owner, invoice["id"], program["id"], 10)
    refused = await financing.accept(client, await financing.last_token(settings, owner.tenant_id))
    assert refused.status_code == 409
    assert problem_code(refused) == "budget_exhausted"
    raised = await client.patch(
        url,
        json={"budget": "20000.00"},
        headers=owner.headers | {"If-Match": exact.headers["etag"]},
    )
    assert raised.status_code == 200
    token = await financing.last_token(settings, owner.tenant_id)
    assert (await financing.accept(client, token)).status_code == 200


async def test_withdrawing_an_accepted_offer_gives_its_reservation_back(
    client: httpx.AsyncClient, settings: Settings, owner: Account
) -> None:
    program, invoice, offer, token = await _offered(client, settings, owner)
    assert (await financing.accept(client, token)).status_code == 200
    withdrawn = await client.post(
        f"{API}/financing/offers/{offer['id']}/withdraw",
        headers=owner.headers | {"If-Match": "*"},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (await _program(client, owner, program["id"]))["committed"] == "0.00"
    settled = await financing.settle(client, owner, offer["id"], "after-withdraw")
    assert settled.status_code == 409
    assert problem_code(settled) == "offer_not_accepted"
    # The invoice is open for a new offer.
    assert (
        await financing.make_offer(client, owner, invoice["id"], program["id"], 10)
    ).status_code == 201


async def test_offers_need_an_approved_invoice_in_currency_with_days_to_spare(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await financing.vendor(client, owner)
    invoice = await financing.approved_invoice(client, owner, vendor_id, due_in_days=12)
    program = await financing.program(client, owner, min_days_early=5)
    usd = await financing.program(client, owner, name="Dollars", currency="USD")
    cases = [
        (invoice["id"], program["id"], 8, 422, "too_few_days_early"),
        (invoice["id"], usd["id"], 1, 422, "currency_mismatch"),
        (invoice["id"], program["id"], -1, 422, "pay_on_in_past"),
    ]
    for invoice_id, program_id, pay_in, status, code in cases:
        answer = await financing.make_offer(client, owner, invoice_id, program_id, pay_in)
        assert (answer.status_code, problem_code(answer)) == (status, code)
    assert (
        await financing.make_offer(client, owner, invoice["id"], program["id"], 7)
    ).status_code == 201


async def test_financing_is_the_owners_and_grantable_to_keys(
    client: httpx.AsyncClient, owner: Account
) -> None:
    assistant = await add_user(client, owner, "amy@ownerco.example.com")
    refused = await client.get(f"{API}/financing/programs", headers=assistant.headers)
    assert refused.status_code == 403
    key = await client.post(
        f"{API}/api-keys",
        json={"name": "treasury", "scopes": ["financing:read", "financing:manage"]},
        headers=owner.headers,
    )
    assert key.status_code == 201, key.text
    listed = await client.get(
        f"{API}/financing/programs",
        headers={"X-API-Key": key.json()["key"], "X-Tenant-ID": str(owner.tenant_id)},
    )
    assert listed.status_code == 200, listed.text
