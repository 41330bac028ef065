"""Vendors: tax ids, masked bank details, If-Match, roles and tenants."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup


async def new_vendor(client: httpx.AsyncClient, who: Account, **fields: Any) -> httpx.Response:
    body = {
        "name": "Paper Supplies GmbH",
        "default_currency": "EUR",
        "tax_id": "de 123.456.789",
        "bank_account": "DE89 3704 0044 0532 0130 00",
    } | fields
    return await client.post(f"{API}/vendors", json=body, headers=who.headers)


async def test_a_vendor_keeps_a_normalised_tax_id_unique_per_tenant(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await new_vendor(client, owner)
    assert created.status_code == 201, created.text
    assert created.json()["tax_id"] == "DE123456789"
    again = await new_vendor(client, owner, name="Same firm", tax_id="DE123456789")
    assert again.status_code == 409
    assert again.json()["existing_vendor_id"] == created.json()["id"]
    elsewhere = await signup(client, "otherbuyer")
    assert (await new_vendor(client, elsewhere)).status_code == 201
    assert (await new_vendor(client, owner, name="No id", tax_id=None)).status_code == 201
    assert (await new_vendor(client, owner, name="Bad id", tax_id="??")).status_code == 422


async def test_bank_details_are_masked_for_all_but_the_owner(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor = (await new_vendor(client, owner)).json()
    assert vendor["bank_account"] == "DE89370400440532013000"
    ann = await add_user(client, owner, "ann@buyer.example.com")
    seen = (await client.get(f"{API}/vendors/{vendor['id']}", headers=ann.headers)).json()
    assert seen["bank_account"] == "******************3000"
    listed = (await client.get(f"{API}/vendors", headers=ann.headers)).json()["items"]
    assert listed[0]["bank_account"].startswith("****")


async def test_updates_need_if_match_and_deactivation_is_for_owners(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor = (await new_vendor(client, owner)).json()
    url = f"{API}/vendors/{vendor['id']}"
    assert (
        problem_code(
            await client.patch(url, json={"payment_terms_days": 14}, headers=owner.headers)
        )
        == "if_match_required"
    )
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    changed = await client.patch(
        url, json={"payment_terms_days": 14}, headers=owner.headers | {"If-Match": etag}
    )
    assert changed.json()["payment_terms_days"] == 14
    stale = await client.patch(url, json={"name": "X"}, headers=owner.headers | {"If-Match": etag})
    assert problem_code(stale) == "version_conflict"
    ann = await add_user(client, owner, "ann@buyer.example.com")
    assert problem_code(await client.delete(url, headers=ann.headers)) == "permission_denied"
    assert problem_code(await client.delete(url, headers=owner.headers)) == "if_match_required"
    current = (await client.get(url, headers=owner.headers)).headers["etag"]
    deactivated = await client.delete(url, headers=owner.headers | {"If-Match": current})
    assert deactivated.status_code == 204
    inactive = await client.get(
        f"{API}/vendors", params={"is_active": "false"}, headers=owner.headers
    )
    assert [v["id"] for v in inactive.json()["items"]] == [vendor["id"]]


async def test_search_and_filters(client: httpx.AsyncClient, owner: Account) -> None:
    await new_vendor(client, owner)
    await new_vendor(client, owner, name="Acme Inc", tax_id="123456789", default_currency="USD")

    async def names(**params: str) -> list[str]:
        response = await client.get(f"{API}/vendors", params=params, headers=owner.headers)
        return sorted(v["name"] for v in response.json()["items"])

    assert await names(q="paper") == ["Paper Supplies GmbH"]
    assert await names(q="12345678") == ["Acme Inc", "Paper Supplies GmbH"]
    assert await names(currency="USD") == ["Acme Inc"]


async def test_another_tenants_vendor_does_not_exist(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor = (await new_vendor(client, owner)).json()
    other = await signup(client, "snoop")
    url = f"{API}/vendors/{vendor['id']}"
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            url,
            json={"name": "x"} if method == "PATCH" else None,
            headers=other.headers | {"If-Match": '"1"'},
        )
        assert response.status_code == 404, method


async def test_creating_a_vendor_is_idempotent(client: httpx.AsyncClient, owner: Account) -> None:
    body = {"name": "Once Ltd", "default_currency": "GBP"}
    headers = owner.headers | {"Idempotency-Key": "vendor-1"}
    first = await client.post(f"{API}/vendors", json=body, headers=headers)
    again = await client.post(f"{API}/vendors", json=body, headers=headers)
    assert again.json()["id"] == first.json()["id"]


async def test_only_owners_set_bank_details(client: httpx.AsyncClient, owner: Account) -> None:
    ann = await add_user(client, owner, "ann@buyer.example.com")
    refused = await new_vendor(client, ann)
    assert problem_code(refused) == "permission_denied"
    vendor = (await new_vendor(client, owner)).json()
    url = f"{API}/vendors/{vendor['id']}"
    etag = (await client.get(url, headers=ann.headers)).headers["etag"]
    redirect = await client.patch(
        url,
        json={"bank_account": "GB00MALLORY0000000001"},
        headers=ann.headers | {"If-Match": etag},
    )
    assert problem_code(redirect) == "permission_denied"
    renamed = await client.patch(
        url, json={"name": "Paper Supplies AG"}, headers=ann.headers | {"If-Match": etag}
    )
    assert renamed.status_code == 200
