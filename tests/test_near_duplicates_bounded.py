"""A vendor's run of identical invoices: each names at most the oldest ten twins, and
approving any of them still needs the override."""

from __future__ import annotations

import httpx

from tests.helpers.http import problem_code
from tests.helpers.identity import Account
from tests.helpers.payables import act, draft, new_vendor

LINE = {"description": "Card fee", "quantity": "1", "unit_price": "2.50", "tax_rate": "0"}


async def test_a_run_of_twins_names_the_oldest_ten(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await new_vendor(client, owner)
    ids = []
    for n in range(13):
        answer = await draft(client, owner, vendor_id, [LINE], f"FEE-{n}")
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    last = (await client.get(f"/api/v1/invoices/{ids[-1]}", headers=owner.headers)).json()
    assert last["possible_duplicate_of"] == ids[:10]
    assert (await act(client, owner, ids[-1], "submit")).status_code == 200
    refused = await act(client, owner, ids[-1], "approve")
    assert (refused.status_code, problem_code(refused)) == (409, "possible_duplicate")
    assert refused.json()["possible_duplicate_of"] == ids[:10]
