"""Idempotency-Key on creating POSTs: a repeated request replays the first response."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ledgerline.config import Settings
from tests.helpers.assets import category
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import PASSWORD, Account, add_user, signup


def new_asset(category_id: str, name: str = "Server") -> dict[str, Any]:
    return {
        "name": name,
        "category_id": category_id,
        "acquisition_date": "2026-01-10",
        "cost": "100.00",
        "currency": "EUR",
    }


async def post_asset(
    client: httpx.AsyncClient, owner: Account, body: dict[str, Any], key: str
) -> httpx.Response:
    return await client.post(
        f"{API}/assets", json=body, headers=owner.headers | {"Idempotency-Key": key}
    )


async def count_assets(client: httpx.AsyncClient, owner: Account) -> int:
    return len((await client.get(f"{API}/assets", headers=owner.headers)).json()["items"])


async def test_a_repeated_request_replays_the_first_response(
    client: httpx.AsyncClient, owner: Account
) -> None:
    body = new_asset(await category(client, owner))
    first = await post_asset(client, owner, body, "order-1")
    again = await post_asset(client, owner, body, "order-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    assert await count_assets(client, owner) == 1
    other_key = await post_asset(client, owner, body, "order-2")
    assert other_key.json()["id"] != first.json()["id"]


async def test_the_same_key_for_another_request_is_422(
    client: httpx.AsyncClient, owner: Account
) -> None:
    cat = await category(client, owner)
    await post_asset(client, owner, new_asset(cat), "k")
    reused = await post_asset(client, owner, new_asset(cat, name="Other"), "k")
    assert reused.status_code == 422
    assert problem_code(reused) == "idempotency_key_reused"


async def test_concurrent_duplicates_create_once(client: httpx.AsyncClient, owner: Account) -> None:
    body = new_asset(await category(client, owner))
    responses = await asyncio.gather(*(post_asset(client, owner, body, "burst") for _ in range(5)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_assets(client, owner) == 1


async def test_a_failed_request_is_not_remembered(
    client: httpx.AsyncClient, owner: Account
) -> None:
    bad = new_asset("00000000-0000-7000-8000-000000000000")
    assert (await post_asset(client, owner, bad, "retry")).status_code == 404
    assert (await post_asset(client, owner, bad, "retry")).status_code == 404
    assert await count_assets(client, owner) == 0


async def test_keys_belong_to_their_tenant_and_expire_after_a_day(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    other = await signup(client, "twiceco")
    mine = await post_asset(client, owner, new_asset(await category(client, owner)), "shared")
    theirs = await post_asset(client, other, new_asset(await category(client, other)), "shared")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE idempotency_records SET created_at = now() - interval '25 hours'",
    )
    fresh = await post_asset(
        client, owner, new_asset(await category(client, owner, name="New"), "Later"), "shared"
    )
    assert fresh.status_code == 201


async def test_creating_a_user_is_idempotent_too(client: httpx.AsyncClient, owner: Account) -> None:
    body = {"email": "ann@onceco.example.com", "full_name": "Ann", "password": PASSWORD}
    headers = owner.headers | {"Idempotency-Key": "user-1"}
    first = await client.post(f"{API}/users", json=body, headers=headers)
    again = await client.post(f"{API}/users", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]


async def test_another_caller_cannot_replay_a_key(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ann = await add_user(client, owner, "ann@onceco.example.com")
    body = new_asset(await category(client, owner))
    await post_asset(client, owner, body, "mine")
    borrowed = await post_asset(client, ann, body, "mine")
    assert problem_code(borrowed) == "idempotency_key_reused"
