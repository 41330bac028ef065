"""What the database refuses in financing, sent directly as the runtime role (past any
Python check): each statement here would break an invariant the service keeps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from tests.helpers import financing
from tests.helpers.identity import Account

# The columns of an offer, copied into a second row by the statements below.
_OFFER_COLUMNS = (
    "program_id, invoice_id, invoice_version, vendor_id, vendor_email, currency, open_amount,"
    " discount, net_amount, apr, day_count, days_early, pay_on, due_date, expires_at, version"
)


@pytest.fixture
async def accepted(client: httpx.AsyncClient, settings: Settings, owner: Account) -> dict[str, Any]:
    """An accepted offer of 10,000.00 (net 9,901.37) under a budget of 10,000.00."""
    vendor_id = await financing.vendor(client, owner)
    invoice = await financing.approved_invoice(client, owner, vendor_id)
    program = await financing.program(client, owner, budget="10000.00")
    offer = await financing.offer(client, owner, invoice["id"], program["id"], 10)
    token = await financing.last_token(settings, owner.tenant_id)
    assert (await financing.accept(client, token)).status_code == 200
    return {"program": program["id"], "offer": offer["id"]}


REFUSED = {
    "committed past the budget": (
        "UPDATE financing_programs SET committed = budget + 0.01",
        "within_budget",
    ),
    "committed below zero": ("UPDATE financing_programs SET committed = -0.01", "within_budget"),
    "a budget under committed": ("UPDATE financing_programs SET budget = 1", "within_budget"),
    "a second live offer of an invoice": (
        f"INSERT INTO financing_offers (tenant_id, id, status, token_hash, {_OFFER_COLUMNS})"  # noqa: S608
        f" SELECT tenant_id, gen_random_uuid(), 'offered', '\\x00', {_OFFER_COLUMNS}"
        " FROM financing_offers",
        "one_live_per_invoice",
    ),
    "discount and net not summing to the open amount": (
        f"INSERT INTO financing_offers (tenant_id, id, status, token_hash, {_OFFER_COLUMNS})"  # noqa: S608
        " SELECT tenant_id, gen_random_uuid(), 'withdrawn', '\\x01', program_id, invoice_id,"
        " invoice_version, vendor_id, vendor_email, currency, open_amount, discount + 0.01,"
        " net_amount, apr, day_count, days_early, pay_on, due_date, expires_at, version"
        " FROM financing_offers",
        "discount_and_net_sum_to_open",
    ),
    "a second acceptance of an offer": (
        "INSERT INTO financing_acceptances (tenant_id, id, offer_id, program_id, reserved)"
        " SELECT tenant_id, gen_random_uuid(), offer_id, program_id, reserved"
        " FROM financing_acceptances",
        "financing_acceptances_tenant_id_offer_id_key",
    ),
    "changing an offer's terms": (
        "UPDATE financing_offers SET discount = 0, net_amount = open_amount",
        "permission denied",
    ),
    "changing a program's currency": (
        "UPDATE financing_programs SET currency = 'USD'",
        "permission denied",
    ),
    "deleting an acceptance": ("DELETE FROM financing_acceptances", "permission denied"),
    "deleting an offer": ("DELETE FROM financing_offers", "permission denied"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_the_runtime_role_cannot(
    case: str, database: Database, owner: Account, accepted: dict[str, Any]
) -> None:
    statement, reason = REFUSED[case]
    with pytest.raises(DBAPIError) as refused:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(text(statement))
    assert reason in str(refused.value), str(refused.value)


async def test_a_second_settlement_of_an_offer_is_refused(
    client: httpx.AsyncClient, database: Database, owner: Account, accepted: dict[str, Any]
) -> None:
    settled = await financing.settle(client, owner, accepted["offer"], "once")
    assert settled.status_code == 200, settled.text
    with pytest.raises(DBAPIError) as refused:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO financing_settlements (tenant_id, id, offer_id, program_id,"
                    " kind, paid_on, amount, entry_id) SELECT tenant_id, gen_random_uuid(),"
                    " offer_id, program_id, kind, paid_on, amount, entry_id"
                    " FROM financing_settlements"
                )
            )
    assert "financing_settlements_tenant_id_offer_id_kind_key" in str(refused.value)
