"""The smaller rules of asset accounting, each refused or kept through HTTP: maintenance
ends at disposal, nothing is dated before posted months, adjustments follow each other,
the kind's figures are checked, the accounts named must exist."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import assets
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account
from tests.test_asset_accounting import adjust, machine, run, straight_line


async def _posted_through_2025(client: httpx.AsyncClient, who: Account, **fields: Any) -> str:
    category = await straight_line(client, who)
    asset_id = await machine(client, who, category, **fields)
    assert (await run(client, who, "2025-12")).status_code == 201
    return asset_id


async def test_open_maintenance_ends_at_the_disposal(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2025-01-01")
    opened = await client.post(
        f"{API}/assets/{asset_id}/maintenance",
        json={"started_on": "2025-05-02"},
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert opened.status_code == 201, opened.text
    sold = await assets.dispose(client, owner, asset_id, {"on": "2025-06-30", "method": "scrap"})
    assert sold.status_code == 200, sold.text
    reversed_ = await client.post(
        f"{API}/assets/{asset_id}/disposal/reverse",
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert reversed_.json()["status"] == "in_service"
    closed_again = await client.post(
        f"{API}/assets/{asset_id}/maintenance/{opened.json()['id']}/close",
        json={"ended_on": "2025-07-01"},
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert (closed_again.status_code, problem_code(closed_again)) == (409, "maintenance_closed")


async def test_nothing_is_dated_before_a_posted_month(
    client: httpx.AsyncClient, owner: Account
) -> None:
    asset_id = await _posted_through_2025(client, owner)
    early = await assets.dispose(client, owner, asset_id, {"on": "2025-11-30", "method": "scrap"})
    assert (early.status_code, problem_code(early)) == (409, "asset_history_posted")
    category = await assets.category(
        client,
        owner,
        name="Presses",
        depreciation_method="units_of_production",
        useful_life_months=60,
        salvage_percent="0",
    )
    press = await machine(client, owner, category, since="2025-01-01", total_units="1000")
    usage = await client.post(
        f"{API}/assets/{press}/usage",
        json={"period": "2025-03-01", "units": "10"},
        headers=owner.headers,
    )
    assert usage.status_code == 204, usage.text
    assert (await run(client, owner, "2025-03")).json()["month_count"] == 1
    rewritten = await client.post(
        f"{API}/assets/{press}/usage",
        json={"period": "2025-03-01", "units": "20"},
        headers=owner.headers,
    )
    assert (rewritten.status_code, problem_code(rewritten)) == (409, "asset_history_posted")
    unsupported = await adjust(
        client, owner, press, {"kind": "salvage", "on": "2025-04-01", "salvage_value": "1.00"}
    )
    assert (unsupported.status_code, problem_code(unsupported)) == (
        409,
        "adjustment_not_supported",
    )


async def test_adjustments_follow_each_other_and_check_their_figures(
    client: httpx.AsyncClient, owner: Account
) -> None:
    asset_id = await _posted_through_2025(client, owner)
    later = await adjust(
        client, owner, asset_id, {"kind": "salvage", "on": "2026-03-01", "salvage_value": "1.00"}
    )
    assert later.status_code == 201, later.text
    refusals = {
        "adjustment_out_of_order": {
            "kind": "salvage",
            "on": "2026-02-01",
            "salvage_value": "2.00",
        },
        "useful_life_too_short": {"kind": "useful_life", "on": "2026-03-02"}
        | {"useful_life_months": 26},
        "no_impairment": {"kind": "impairment", "on": "2026-03-02"}
        | {"recoverable_amount": "9000.00"},
        "salvage_above_carrying_amount": {"kind": "salvage", "on": "2026-03-02"}
        | {"salvage_value": "9000.00"},
        "no_revaluation": {"kind": "revaluation", "on": "2026-03-02", "fair_value": "6800.00"},
        "adjustment_date_out_of_range": {"kind": "salvage", "on": "2199-01-01"}
        | {"salvage_value": "2.00"},
        "unknown_account_code": {"kind": "cost", "on": "2026-03-02", "amount": "1.00"}
        | {"credit_account_code": "0042"},
    }
    for code, body in refusals.items():
        refused = await adjust(client, owner, asset_id, body)
        assert problem_code(refused) == code, (code, refused.text)


async def test_capitalization_and_disposal_name_existing_accounts(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2025-01-01")
    unknown = await client.post(
        f"{API}/assets/{asset_id}/capitalize",
        json={"credit_account_code": "0042"},
        headers=owner.headers,
    )
    assert (unknown.status_code, problem_code(unknown)) == (422, "unknown_account_code")
    by_default = await client.post(
        f"{API}/assets/{asset_id}/capitalize", json={}, headers=owner.headers
    )
    assert by_default.status_code == 200, by_default.text
    sold = await assets.dispose(
        client,
        owner,
        asset_id,
        {"on": "2025-06-30", "method": "sale", "proceeds": "1.00"}
        | {"proceeds_account_code": "0042"},
    )
    assert (sold.status_code, problem_code(sold)) == (422, "unknown_account_code")
    asset = (await client.get(f"{API}/assets/{asset_id}", headers=owner.headers)).json()
    assert asset["status"] == "in_service"
