"""Integration API keys: issuing one as the owner, and the headers a key calls with."""

from __future__ import annotations

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account


async def issue(
    client: httpx.AsyncClient, owner: Account, scopes: list[str], **fields: object
) -> httpx.Response:
    return await client.post(
        f"{API}/api-keys",
        json={"name": "ERP connector", "scopes": scopes, **fields},
        headers=owner.headers,
    )


def by_bearer(key: str, owner: Account) -> dict[str, str]:
    """The key as a bearer token, in the owner's tenant."""
    return {"Authorization": f"Bearer {key}", "X-Tenant-ID": str(owner.tenant_id)}


def by_header(key: str, owner: Account) -> dict[str, str]:
    """The key in X-API-Key, in the owner's tenant."""
    return {"X-API-Key": key, "X-Tenant-ID": str(owner.tenant_id)}
