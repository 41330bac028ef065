"""Every change of an asset takes If-Match with its ETag: deleting a draft, a transfer,
opening and closing a maintenance (428 without, 412 stale), and a refused change leaves
the asset, its history and the audit trail as they were."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.helpers.assets import asset, asset_etag, at_current_version, category, post
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account


@dataclass(frozen=True)
class Change:
    asset_id: str
    method: str
    path: str
    body: dict[str, Any] | None


async def delete_draft(client: httpx.AsyncClient, owner: Account) -> Change:
    draft = await asset(client, owner, await category(client, owner), in_service_date=None)
    return Change(draft["id"], "DELETE", f"/assets/{draft['id']}", None)


async def transfer(client: httpx.AsyncClient, owner: Account) -> Change:
    created = await asset(client, owner, await category(client, owner))
    keeper = await post(client, owner, "/custodians", {"name": "Kim", "email": "kim@a.example.com"})
    body = {"custodian_id": keeper["id"], "on": "2026-02-01"}
    return Change(created["id"], "POST", f"/assets/{created['id']}/transfer", body)


async def open_maintenance(client: httpx.AsyncClient, owner: Account) -> Change:
    created = await asset(client, owner, await category(client, owner))
    body = {"started_on": "2026-03-01", "vendor": "Fixit"}
    return Change(created["id"], "POST", f"/assets/{created['id']}/maintenance", body)


async def close_maintenance(client: httpx.AsyncClient, owner: Account) -> Change:
    created = await asset(client, owner, await category(client, owner))
    opened = await client.post(
        f"{API}/assets/{created['id']}/maintenance",
        json={"started_on": "2026-03-01"},
        headers=await at_current_version(client, owner, created["id"]),
    )
    assert opened.status_code == 201, opened.text
    path = f"/assets/{created['id']}/maintenance/{opened.json()['id']}/close"
    return Change(created["id"], "POST", path, {"ended_on": "2026-03-03"})


CHANGES = pytest.mark.parametrize(
    "prepare",
    [delete_draft, transfer, open_maintenance, close_maintenance],
    ids=["delete", "transfer", "maintenance", "close-maintenance"],
)


async def snapshot(client: httpx.AsyncClient, owner: Account, asset_id: str) -> dict[str, Any]:
    """The asset with its ETag, its history and its audit trail."""
    current = await client.get(f"{API}/assets/{asset_id}", headers=owner.headers)
    assert current.status_code == 200, current.text
    history = await client.get(f"{API}/assets/{asset_id}/history", headers=owner.headers)
    trail = await client.get(f"{API}/audit", params={"target_id": asset_id}, headers=owner.headers)
    assert history.status_code == trail.status_code == 200
    return {
        "asset": current.json(),
        "etag": current.headers["etag"],
        "history": history.json()["items"],
        "audit": trail.json()["items"],
    }


async def send(
    client: httpx.AsyncClient, change: Change, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(change.method, API + change.path, json=change.body, headers=headers)


@CHANGES
async def test_without_if_match_it_is_428_and_nothing_changes(
    client: httpx.AsyncClient, owner: Account, prepare: Any
) -> None:
    change: Change = await prepare(client, owner)
    before = await snapshot(client, owner, change.asset_id)

    response = await send(client, change, owner.headers)
    assert response.status_code == 428, response.text
    assert problem_code(response) == "if_match_required"

    assert await snapshot(client, owner, change.asset_id) == before


@CHANGES
async def test_with_a_stale_etag_it_is_412_and_nothing_changes(
    client: httpx.AsyncClient, owner: Account, prepare: Any
) -> None:
    change: Change = await prepare(client, owner)
    stale = await asset_etag(client, owner, change.asset_id)
    renamed = await client.patch(
        f"{API}/assets/{change.asset_id}",
        json={"name": "Renamed meanwhile"},
        headers=owner.headers | {"If-Match": stale},
    )
    assert renamed.status_code == 200, renamed.text
    before = await snapshot(client, owner, change.asset_id)
    assert before["etag"] != stale

    response = await send(client, change, owner.headers | {"If-Match": stale})
    assert response.status_code == 412, response.text
    assert problem_code(response) == "version_conflict"
    assert response.json()["current_etag"] == before["etag"]

    assert await snapshot(client, owner, change.asset_id) == before


@CHANGES
async def test_with_the_current_etag_the_change_happens(
    client: httpx.AsyncClient, owner: Account, prepare: Any
) -> None:
    change: Change = await prepare(client, owner)
    before = await snapshot(client, owner, change.asset_id)

    response = await send(client, change, owner.headers | {"If-Match": before["etag"]})
    assert response.status_code in (200, 201, 204), response.text

    after = await client.get(f"{API}/assets/{change.asset_id}", headers=owner.headers)
    if change.method == "DELETE":
        assert problem_code(after) == "asset_not_found"
    else:
        assert after.headers["etag"] != before["etag"]
