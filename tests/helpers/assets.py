"""The asset register through HTTP: categories, assets, disposal, the CSV import."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account


async def post(client: httpx.AsyncClient, who: Account, path: str, body: dict[str, Any]) -> Any:
    response = await client.post(f"{API}{path}", json=body, headers=who.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def category(client: httpx.AsyncClient, who: Account, **fields: Any) -> str:
    body = {
        "name": "IT equipment",
        "depreciation_method": "straight_line",
        "useful_life_months": 60,
        "salvage_percent": "10",
    } | fields
    return str((await post(client, who, "/asset-categories", body))["id"])


async def asset(client: httpx.AsyncClient, who: Account, category_id: str, **fields: Any) -> Any:
    body = {
        "name": "Server",
        "category_id": category_id,
        "acquisition_date": "2026-01-10",
        "in_service_date": "2026-01-15",
        "cost": "10000.00",
        "currency": "EUR",
    } | fields
    return await post(client, who, "/assets", body)


async def asset_etag(client: httpx.AsyncClient, who: Account, asset_id: str) -> str:
    """The asset's current ETag, as a change of it sends in If-Match."""
    response = await client.get(f"{API}/assets/{asset_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def at_current_version(
    client: httpx.AsyncClient, who: Account, asset_id: str
) -> dict[str, str]:
    """`who`'s headers with If-Match naming the asset's current ETag."""
    return who.headers | {"If-Match": await asset_etag(client, who, asset_id)}


async def dispose(
    client: httpx.AsyncClient, who: Account, asset_id: str, body: dict[str, Any]
) -> httpx.Response:
    """A disposal is a state change: it carries the ETag just read."""
    return await client.post(
        f"{API}/assets/{asset_id}/dispose",
        json=body,
        headers=await at_current_version(client, who, asset_id),
    )


async def import_csv(
    client: httpx.AsyncClient, who: Account, text: str, **params: str
) -> httpx.Response:
    return await client.post(
        f"{API}/assets/import",
        content=text.encode(),
        params=params,
        headers=who.headers | {"Content-Type": "text/csv"},
    )
