"""The platform console changes a tenant at the version it read: ETag and If-Match."""

from __future__ import annotations

import httpx

from tests.helpers.audit import audit_events
from tests.helpers.http import API, problem_code
from tests.helpers.identity import signup

TENANTS = f"{API}/admin/tenants"


async def test_a_tenant_answers_with_its_version_as_etag(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await client.post(TENANTS, json={"name": "Initech", "slug": "initech"}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    url = f"{TENANTS}/{created.json()['id']}"
    assert (await client.get(url, headers=admin)).headers["etag"] == '"1"'

    changed = await client.patch(
        url, json={"plan": "premium"}, headers={**admin, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert (await client.get(url, headers=admin)).headers["etag"] == '"2"'


async def test_a_tenant_change_without_if_match_is_428(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    url = f"{TENANTS}/{acme.tenant_id}"
    refused = await client.patch(url, json={"status": "suspended"}, headers=admin)
    assert refused.status_code == 428
    assert problem_code(refused) == "if_match_required"
    assert (await client.get(url, headers=admin)).json()["status"] == "active"
    assert (await client.get(f"{API}/users/me", headers=acme.headers)).status_code == 200
    assert await audit_events(client, acme, action="tenant.updated") == []


async def test_a_tenant_change_at_a_stale_version_is_412(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    url = f"{TENANTS}/{acme.tenant_id}"
    read = (await client.get(url, headers=admin)).headers["etag"]
    first = await client.patch(url, json={"plan": "gold"}, headers={**admin, "If-Match": read})
    assert first.status_code == 200, first.text

    stale = await client.patch(
        url, json={"status": "suspended"}, headers={**admin, "If-Match": read}
    )
    assert stale.status_code == 412
    assert problem_code(stale) == "version_conflict"
    assert stale.json()["current_etag"] == first.headers["etag"]
    assert (await client.get(url, headers=admin)).json()["status"] == "active"
    assert len(await audit_events(client, acme, action="tenant.updated")) == 1
