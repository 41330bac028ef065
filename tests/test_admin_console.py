"""The platform console: tenants and their users, for platform ADMINs only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tests.helpers.audit import audit_events
from tests.helpers.http import API, all_pages, problem_code
from tests.helpers.identity import PASSWORD, login, signup

TENANTS = f"{API}/admin/tenants"

SetStatus = Callable[[UUID, str], Awaitable[None]]


async def tenant_ids(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> set[UUID]:
    pages = await all_pages(client, TENANTS, headers, **params)
    return {UUID(item["id"]) for page in pages for item in page}


async def console_status(
    client: httpx.AsyncClient, admin: dict[str, str], tenant_id: UUID, status: str
) -> None:
    etag = (await client.get(f"{TENANTS}/{tenant_id}", headers=admin)).headers["etag"]
    response = await client.patch(
        f"{TENANTS}/{tenant_id}", json={"status": status}, headers={**admin, "If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


@pytest.fixture
def set_status(client: httpx.AsyncClient, admin: dict[str, str]) -> SetStatus:
    async def apply(tenant_id: UUID, status: str) -> None:
        await console_status(client, admin, tenant_id, status)

    return apply


# --- listing tenants --------------------------------------------------------------------


async def test_an_admin_pages_through_every_tenant_newest_first(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = [(await signup(client, slug)).tenant_id for slug in ("acme", "globex", "initech")]

    first = await client.get(TENANTS, params={"limit": 2}, headers=admin)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 2
    assert first.json()["next_cursor"]

    pages = await all_pages(client, TENANTS, admin, limit=2)
    assert [len(page) for page in pages] == [2, 1]
    visited = [UUID(item["id"]) for page in pages for item in page]
    assert visited == list(reversed(created))
    assert pages[0][0]["slug"] == "initech"


async def test_the_tenant_list_filters_by_text(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    assert await tenant_ids(client, admin, q="ACM") == {acme.tenant_id}  # slug or name, any case
    assert await tenant_ids(client, admin, q="Globex") == {globex.tenant_id}
    assert await tenant_ids(client, admin, q="nothing-like-it") == set()


async def test_the_tenant_list_filters_by_status(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    await console_status(client, admin, globex.tenant_id, "suspended")
    assert await tenant_ids(client, admin, status="suspended") == {globex.tenant_id}
    assert await tenant_ids(client, admin, status="active") == {acme.tenant_id}
    assert await tenant_ids(client, admin, status="read_only") == set()


async def test_an_invalid_tenant_cursor_is_400(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.get(TENANTS, params={"cursor": "not-a-cursor"}, headers=admin)
    assert response.status_code == 400
    assert problem_code(response) == "invalid_cursor"


async def test_the_console_is_for_admins_only(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    calls = [
        ("GET", TENANTS, None),
        ("POST", TENANTS, {"name": "Evil", "slug": "evil"}),
        ("GET", f"{TENANTS}/{owner.tenant_id}", None),
        ("PATCH", f"{TENANTS}/{owner.tenant_id}", {"status": "suspended"}),
        ("GET", f"{TENANTS}/{owner.tenant_id}/users", None),
    ]
    for method, url, body in calls:
        as_owner = await client.request(method, url, json=body, headers=owner.headers)
        assert as_owner.status_code == 403, (method, url)
        assert problem_code(as_owner) == "permission_denied"
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401, (method, url)
        assert anonymous.headers["www-authenticate"] == "Bearer"
    # Nothing was created or changed.
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200
    assert (await login(client, "evil", "x@evil.example.com")).status_code == 401


# --- creating and reading tenants -------------------------------------------------------


async def test_an_admin_creates_a_tenant(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.post(
        TENANTS, json={"name": "Initech", "slug": "Initech", "plan": "premium"}, headers=admin
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == "initech"
    assert body["name"] == "Initech"
    assert body["plan"] == "premium"
    assert body["status"] == "active"

    fetched = await client.get(f"{TENANTS}/{body['id']}", headers=admin)
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert await tenant_ids(client, admin) == {UUID(body["id"])}


async def test_a_taken_slug_is_409(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await signup(client, "acme")
    for slug in ("acme", "ACME"):
        response = await client.post(TENANTS, json={"name": "Other", "slug": slug}, headers=admin)
        assert response.status_code == 409, slug
        assert problem_code(response) == "slug_taken"
    assert len(await tenant_ids(client, admin)) == 1


@pytest.mark.parametrize("slug", ["bad slug", "-acme", "acme-", "acme_gmbh", "ä"])
async def test_a_bad_slug_is_422(
    client: httpx.AsyncClient, admin: dict[str, str], slug: str
) -> None:
    response = await client.post(TENANTS, json={"name": "Bad", "slug": slug}, headers=admin)
    assert response.status_code == 422
    assert problem_code(response) == "invalid_slug"
    assert await tenant_ids(client, admin) == set()


async def test_an_admin_reads_a_tenant(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    owner = await signup(client, "acme")
    response = await client.get(f"{TENANTS}/{owner.tenant_id}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(owner.tenant_id)
    assert response.json()["slug"] == "acme"
    assert response.json()["status"] == "active"


async def test_an_unknown_tenant_is_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await signup(client, "acme")
    unknown = uuid4()
    for method, url, body in [
        ("GET", f"{TENANTS}/{unknown}", None),
        ("PATCH", f"{TENANTS}/{unknown}", {"status": "suspended"}),
        ("GET", f"{TENANTS}/{unknown}/users", None),
    ]:
        response = await client.request(method, url, json=body, headers=admin)
        assert response.status_code == 404, (method, url)
        assert problem_code(response) == "tenant_not_found"


async def test_an_admin_lists_the_users_of_one_tenant(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    ann = await client.post(
        f"{API}/users",
        json={"email": "ann@acme.example.com", "full_name": "Ann", "password": PASSWORD},
        headers=acme.headers,
    )
    assert ann.status_code == 201, ann.text

    pages = await all_pages(client, f"{TENANTS}/{acme.tenant_id}/users", admin, limit=1)
    users = [item for page in pages for item in page]
    assert [user["id"] for user in users] == [ann.json()["id"], str(acme.user_id)]
    assert {user["tenant_id"] for user in users} == {str(acme.tenant_id)}

    other = await client.get(f"{TENANTS}/{globex.tenant_id}/users", headers=admin)
    assert other.status_code == 200
    assert [user["id"] for user in other.json()["items"]] == [str(globex.user_id)]


# --- tenant status ----------------------------------------------------------------------


async def test_a_suspended_tenant_cannot_log_in_or_use_its_tokens_until_reactivated(
    client: httpx.AsyncClient, set_status: SetStatus
) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    await set_status(acme.tenant_id, "suspended")

    refused = await login(client, acme.tenant_id, acme.email)
    assert refused.status_code == 403
    assert problem_code(refused) == "tenant_suspended"
    me = await client.get(f"{API}/users/me", headers=acme.headers)
    assert me.status_code == 403
    assert problem_code(me) == "tenant_suspended"
    # Other tenants are untouched.
    assert (await client.get(f"{API}/users/me", headers=globex.headers)).status_code == 200

    await set_status(acme.tenant_id, "active")
    assert (await login(client, acme.tenant_id, acme.email)).status_code == 200
    assert (await client.get(f"{API}/users/me", headers=acme.headers)).status_code == 200


async def test_a_read_only_tenant_reads_but_cannot_write_until_reactivated(
    client: httpx.AsyncClient, set_status: SetStatus
) -> None:
    acme = await signup(client, "acme")
    await set_status(acme.tenant_id, "read_only")

    me = await client.get(f"{API}/users/me", headers=acme.headers)
    assert me.status_code == 200, me.text
    if_match = {**acme.headers, "If-Match": me.headers["etag"]}
    # Refused before the If-Match check: read-only is read-only, whatever the body.
    write = await client.patch(
        f"{API}/users/me", json={"full_name": "Olive Owner"}, headers=if_match
    )
    assert write.status_code == 403
    assert problem_code(write) == "tenant_read_only"
    new_user = {"email": "ann@acme.example.com", "full_name": "Ann", "password": PASSWORD}
    create = await client.post(f"{API}/users", json=new_user, headers=acme.headers)
    assert create.status_code == 403
    assert problem_code(create) == "tenant_read_only"
    assert (await client.get(f"{API}/users", headers=acme.headers)).json()["items"] == [me.json()]

    await set_status(acme.tenant_id, "active")
    again = await client.patch(
        f"{API}/users/me", json={"full_name": "Olive Owner"}, headers=if_match
    )
    assert again.status_code == 200, again.text
    created = await client.post(f"{API}/users", json=new_user, headers=acme.headers)
    assert created.status_code == 201, created.text


# --- an admin inside a tenant -----------------------------------------------------------


async def test_an_admin_uses_tenant_endpoints_and_each_request_is_audited(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    as_admin = {**admin, "X-Tenant-ID": str(acme.tenant_id)}

    users = await client.get(f"{API}/users", headers=as_admin)
    assert users.status_code == 200, users.text
    assert [item["id"] for item in users.json()["items"]] == [str(acme.user_id)]
    one = await client.get(f"{API}/users/{acme.user_id}", headers=as_admin)
    assert one.status_code == 200, one.text

    events = await audit_events(client, acme, action="admin.tenant_access")
    assert len(events) == 2
    assert {event["actor_type"] for event in events} == {"admin"}
    assert all(event["actor_id"] for event in events)
    assert {event["changes"]["path"] for event in events} == {
        f"{API}/users",
        f"{API}/users/{acme.user_id}",
    }
    assert {event["changes"]["method"] for event in events} == {"GET"}
    # Only the tenant visited has the trail.
    assert await audit_events(client, globex, action="admin.tenant_access") == []


async def test_an_admin_changes_a_tenants_status(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    for status in ("suspended", "read_only", "active"):
        await console_status(client, admin, acme.tenant_id, status)
        fetched = await client.get(f"{TENANTS}/{acme.tenant_id}", headers=admin)
        assert fetched.json()["status"] == status


async def test_an_unknown_status_is_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    acme = await signup(client, "acme")
    response = await client.patch(
        f"{TENANTS}/{acme.tenant_id}", json={"status": "closed"}, headers=admin
    )
    assert response.status_code == 422
    assert problem_code(response) == "validation_failed"
    assert (await client.get(f"{TENANTS}/{acme.tenant_id}", headers=admin)).json()[
        "status"
    ] == "active"


async def test_a_tenant_change_by_an_admin_is_audited_in_that_tenant(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    response = await client.patch(
        f"{TENANTS}/{acme.tenant_id}",
        json={"name": "Acme GmbH", "plan": "premium"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Acme GmbH"
    assert response.json()["plan"] == "premium"

    events = await audit_events(client, acme, action="tenant.updated")
    assert len(events) == 1
    event = events[0]
    assert event["actor_type"] == "admin"
    assert event["target_type"] == "tenant"
    assert event["target_id"] == str(acme.tenant_id)
    assert event["changes"] == {
        "name": {"before": "Acme", "after": "Acme GmbH"},
        "plan": {"before": "standard", "after": "premium"},
    }
    assert await audit_events(client, globex, action="tenant.updated") == []
