"""Bad input to the asset register is a 4xx with a reason, never a 500 or a wrong number."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers.assets import asset, category, dispose, import_csv
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account


async def create(client: httpx.AsyncClient, owner: Account, **fields: Any) -> httpx.Response:
    body = {
        "name": "X",
        "category_id": await category(client, owner),
        "currency": "EUR",
        "acquisition_date": "2026-01-10",
        "cost": "100.00",
    } | fields
    return await client.post(f"{API}/assets", json=body, headers=owner.headers)


async def test_generated_tags_step_over_tags_chosen_by_hand(
    client: httpx.AsyncClient, owner: Account
) -> None:
    cat = await category(client, owner)
    await asset(client, owner, cat, tag="A-000001")
    assert (await asset(client, owner, cat))["tag"] == "A-000002"


@pytest.mark.parametrize(
    "fields",
    [
        {"cost": 0.1},  # a float
        {"in_service_date": "2026-01-01"},  # before acquisition
        {"acquisition_date": "9999-01-01"},  # beyond any register
        {"total_units": "1e20"},
        {"cost": "123456789012345"},  # 15 digits before the point; 14 at most
    ],
    ids=[
        "float-money",
        "service-before-acquisition",
        "year-9999",
        "units-overflow",
        "cost-too-large",
    ],
)
async def test_unusable_values_are_422(
    client: httpx.AsyncClient, owner: Account, fields: dict[str, Any]
) -> None:
    assert (await create(client, owner, **fields)).status_code == 422


async def test_money_comes_back_in_cents(client: httpx.AsyncClient, owner: Account) -> None:
    created = (await create(client, owner, cost="0.1")).json()
    assert (created["cost"], created["salvage_value"]) == ("0.10", "0.01")


async def test_nulls_and_a_lost_in_service_date_are_refused(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await asset(client, owner, await category(client, owner))
    etag = (await client.get(f"{API}/assets/{created['id']}", headers=owner.headers)).headers[
        "etag"
    ]
    for body in ({"name": None}, {"in_service_date": None}, {"in_service_date": "2025-01-01"}):
        response = await client.patch(
            f"{API}/assets/{created['id']}", json=body, headers=owner.headers | {"If-Match": etag}
        )
        assert response.status_code == 422, body


async def test_categories_custodians_and_maintenance_must_make_sense(
    client: httpx.AsyncClient, owner: Account
) -> None:
    no_rate = await client.post(
        f"{API}/asset-categories",
        headers=owner.headers,
        json={"name": "DB", "depreciation_method": "declining_balance", "useful_life_months": 60},
    )
    assert no_rate.status_code == 422
    nobody = await client.post(f"{API}/custodians", json={"name": "Ghost"}, headers=owner.headers)
    assert nobody.status_code == 422
    bad_mail = await client.post(
        f"{API}/custodians", json={"name": "G", "email": "not-mail"}, headers=owner.headers
    )
    assert bad_mail.status_code == 422
    created = await asset(client, owner, await category(client, owner))
    backwards = await client.post(
        f"{API}/assets/{created['id']}/maintenance",
        json={"started_on": "2026-03-05", "ended_on": "2026-03-01"},
        headers=owner.headers,
    )
    assert backwards.status_code == 422


async def test_disposal_needs_if_match_and_a_past_date(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await asset(client, owner, await category(client, owner))
    bare = await client.post(
        f"{API}/assets/{created['id']}/dispose",
        headers=owner.headers,
        json={"on": "2026-06-30", "method": "scrap"},
    )
    assert problem_code(bare) == "if_match_required"
    future = await dispose(client, owner, created["id"], {"on": "2199-01-01", "method": "scrap"})
    assert problem_code(future) == "disposal_in_future"


async def test_usage_only_for_months_in_service_up_to_now(
    client: httpx.AsyncClient, owner: Account
) -> None:
    cat = await category(client, owner, name="Machines", depreciation_method="units_of_production")
    press = await asset(client, owner, cat, total_units="1000")
    for period in ("2025-12-01", "2199-12-01"):
        response = await client.post(
            f"{API}/assets/{press['id']}/usage",
            headers=owner.headers,
            json={"period": period, "units": "1"},
        )
        assert problem_code(response) == "usage_period_out_of_range", period


async def test_unreadable_csv_is_422(client: httpx.AsyncClient, owner: Account) -> None:
    header = "name,category,acquisition_date,cost,currency\n"
    nul = await import_csv(client, owner, header + "A\x00,IT equipment,2026-01-01,1.00,EUR\n")
    assert problem_code(nul) == "csv_invalid"
    huge_field = await import_csv(client, owner, header + '"' + "x" * 200_000 + '",c,d,e,f\n')
    assert huge_field.status_code in (413, 422)


async def test_a_nul_in_json_text_is_422_not_500(client: httpx.AsyncClient, owner: Account) -> None:
    response = await create(client, owner, name="bad\u0000name")
    assert response.status_code == 422
    assert problem_code(response) == "invalid_value"


async def test_a_draft_in_the_register_shows_zero_in_cents(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await asset(client, owner, await category(client, owner), in_service_date=None)
    report = (
        await client.get(
            f"{API}/assets/register", params={"as_of": "2026-06-30"}, headers=owner.headers
        )
    ).json()
    assert report["assets"][0]["accumulated_depreciation"] == "0.00"
