"""Integration API keys: issued once, scoped, tenant-bound, revocable, audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.security.permissions import Permission
from tests.helpers.api_keys import by_bearer, by_header, issue
from tests.helpers.audit import audit_events
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup


async def test_a_key_is_shown_once_and_works_by_either_header(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    created = await issue(client, owner, ["users:read"])
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("llk_")
    assert created.json()["prefix"] == key[:16]
    for headers in (by_bearer(key, owner), by_header(key, owner)):
        response = await client.get(f"{API}/users", headers=headers)
        assert response.status_code == 200, response.text
    listed = (await client.get(f"{API}/api-keys", headers=owner.headers)).json()["items"]
    assert "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    stored = await owner_sql(settings, owner.tenant_id, "SELECT secret_hash FROM api_keys")
    assert key.encode() not in bytes(stored[0]["secret_hash"])


async def test_a_key_acts_only_within_its_scopes(client: httpx.AsyncClient, owner: Account) -> None:
    key = (await issue(client, owner, ["users:read"])).json()["key"]
    denied = await client.get(f"{API}/audit", headers=by_header(key, owner))
    assert denied.status_code == 403
    assert problem_code(denied) == "permission_denied"
    assert (await client.get(f"{API}/users/me", headers=by_header(key, owner))).status_code == 403


@pytest.mark.parametrize("scope", ["users:manage", "api-keys:manage", "profile", "platform:manage"])
async def test_a_key_cannot_be_given_more_than_an_integration_needs(
    client: httpx.AsyncClient, owner: Account, scope: str
) -> None:
    response = await issue(client, owner, ["users:read", scope])
    assert response.status_code == 422
    assert problem_code(response) == "scope_not_grantable"


async def test_a_key_is_bound_to_its_tenant(client: httpx.AsyncClient, owner: Account) -> None:
    other = await signup(client, "otherco")
    key = (await issue(client, owner, ["users:read"])).json()["key"]
    response = await client.get(f"{API}/users", headers=by_header(key, other))
    assert response.status_code == 403
    assert problem_code(response) == "tenant_mismatch"


async def test_a_revoked_key_is_refused_at_once(client: httpx.AsyncClient, owner: Account) -> None:
    created = (await issue(client, owner, ["users:read"])).json()
    assert (
        await client.get(f"{API}/users", headers=by_header(created["key"], owner))
    ).status_code == 200
    revoked = await client.delete(f"{API}/api-keys/{created['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    response = await client.get(f"{API}/users", headers=by_header(created["key"], owner))
    assert response.status_code == 401
    assert problem_code(response) == "invalid_api_key"


async def test_an_expired_key_is_refused(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    key = (await issue(client, owner, ["users:read"])).json()["key"]
    await owner_sql(
        settings, owner.tenant_id, "UPDATE api_keys SET expires_at = now() - interval '1 s'"
    )
    assert (await client.get(f"{API}/users", headers=by_header(key, owner))).status_code == 401
    past = await issue(client, owner, ["users:read"], expires_at="2020-01-01T00:00:00Z")
    assert problem_code(past) == "expiry_in_past"


async def test_a_tampered_or_forged_key_is_refused(
    client: httpx.AsyncClient, owner: Account
) -> None:
    key = (await issue(client, owner, ["users:read"])).json()["key"]
    body, _, checksum = key.rpartition("_")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for forged in (
        f"{body}_{'0' * 8 if checksum != '0' * 8 else '1' * 8}",
        f"{flipped}_{checksum}",
    ):
        response = await client.get(f"{API}/users", headers=by_header(forged, owner))
        assert response.status_code == 401
        assert problem_code(response) == "invalid_api_key"


async def test_a_key_with_a_valid_checksum_but_wrong_secret_is_refused(
    client: httpx.AsyncClient, owner: Account
) -> None:
    import zlib

    key = (await issue(client, owner, ["users:read"])).json()["key"]
    body = key.rpartition("_")[0]
    wrong = body[:-4] + ("ZZZZ" if not body.endswith("ZZZZ") else "YYYY")
    forged = f"{wrong}_{format(zlib.crc32(wrong.encode()), '08x')}"
    response = await client.get(f"{API}/users", headers=by_header(forged, owner))
    assert response.status_code == 401


async def test_only_owners_manage_keys_and_keys_manage_nothing(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ann = await add_user(client, owner, "ann@keyco.example.com")
    assert (await issue(client, ann, ["users:read"])).status_code == 403
    key = (await issue(client, owner, ["users:read", "audit:read"])).json()["key"]
    response = await client.post(
        f"{API}/api-keys",
        json={"name": "x", "scopes": ["users:read"]},
        headers=by_header(key, owner),
    )
    assert response.status_code == 403


async def test_issuing_and_revoking_keys_is_audited_without_the_secret(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = (await issue(client, owner, ["users:read"])).json()
    await client.delete(f"{API}/api-keys/{created['id']}", headers=owner.headers)
    events = await audit_events(client, owner)
    actions = [e["action"] for e in events]
    assert actions[:2] == ["api_key.revoked", "api_key.created"]
    assert created["key"] not in str(events)


async def test_a_suspended_tenant_refuses_its_keys(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    key = (await issue(client, owner, ["users:read"])).json()["key"]
    await owner_sql(settings, owner.tenant_id, "UPDATE tenants SET status = 'suspended'")
    response = await client.get(f"{API}/users", headers=by_header(key, owner))
    assert response.status_code == 403
    assert problem_code(response) == "tenant_suspended"


@pytest.fixture(scope="module")
async def app_with_a_write(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app plus one write endpoint of the kind invoices and assets will add."""
    app = create_app(settings)

    @app.post(f"{API}/test/writes", status_code=204)
    async def write(
        context: Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE)],
    ) -> None:
        context.audit_context.record(context.session, "test.written", target_type="test")

    async with LifespanManager(app):
        yield app


async def test_what_a_key_does_is_audited_with_the_key_as_actor(
    app_with_a_write: FastAPI, empty_tables: None
) -> None:
    transport = httpx.ASGITransport(app=app_with_a_write)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        owner = await signup(client, "actorco")
        created = (await issue(client, owner, ["invoices:write"])).json()
        response = await client.post(f"{API}/test/writes", headers=by_header(created["key"], owner))
        assert response.status_code == 204, response.text
        written = await audit_events(client, owner, action="test.written")
    assert [(e["actor_type"], e["actor_id"]) for e in written] == [("api_key", created["id"])]


async def test_an_expiry_without_a_timezone_is_422(
    client: httpx.AsyncClient, owner: Account
) -> None:
    response = await issue(client, owner, ["users:read"], expires_at="2031-01-01T00:00:00")
    assert response.status_code == 422
