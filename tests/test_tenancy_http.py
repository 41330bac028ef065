"""X-Tenant-ID is checked against the caller; other tenants' rows do not exist."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.access import Requires, require_admin
from ledgerline.db.engine import Database
from ledgerline.security.permissions import permission_table_markdown
from tests.helpers.http import API, problem_code
from tests.helpers.identity import bearer, signup

ROOT = Path(__file__).resolve().parents[1]


async def test_another_tenants_header_is_403(client: httpx.AsyncClient) -> None:
    a = await signup(client, "tena")
    b = await signup(client, "tenb")
    response = await client.get(f"{API}/users/me", headers=bearer(a.access_token, b.tenant_id))
    assert response.status_code == 403
    assert problem_code(response) == "tenant_mismatch"


async def test_another_tenants_row_is_404_under_ones_own_header(client: httpx.AsyncClient) -> None:
    a = await signup(client, "rowa")
    b = await signup(client, "rowb")
    response = await client.get(f"{API}/users/{b.user_id}", headers=a.headers)
    assert response.status_code == 404
    patch = await client.patch(
        f"{API}/users/{b.user_id}", json={"full_name": "x"}, headers=a.headers | {"If-Match": '"1"'}
    )
    assert patch.status_code == 404
    listed = await client.get(f"{API}/users", headers=a.headers)
    assert [u["id"] for u in listed.json()["items"]] == [str(a.user_id)]


@pytest.mark.parametrize(
    ("value", "code"), [(None, "tenant_header_missing"), ("acme", "tenant_header_invalid")]
)
async def test_a_missing_or_malformed_tenant_header_is_400(
    client: httpx.AsyncClient, value: str | None, code: str
) -> None:
    owner = await signup(client, "hdr")
    headers = {"Authorization": f"Bearer {owner.access_token}"}
    if value is not None:
        headers["X-Tenant-ID"] = value
    response = await client.get(f"{API}/users/me", headers=headers)
    assert response.status_code == 400
    assert problem_code(response) == code


async def test_no_token_is_401_with_a_challenge(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "notoken")
    response = await client.get(f"{API}/users/me", headers={"X-Tenant-ID": str(owner.tenant_id)})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_signup_and_login_are_in_the_audit_trail_without_secrets(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "trail")
    await client.post(
        f"{API}/auth/login",
        json={"email": owner.email, "password": "wrong passphrase here"},
        headers={"X-Tenant-ID": str(owner.tenant_id)},
    )
    response = await client.get(f"{API}/audit", headers=owner.headers)
    assert response.status_code == 200, response.text
    actions = [e["action"] for e in response.json()["items"]]
    assert actions == ["auth.login_failed", "tenant.signed_up"]
    assert "argon2" not in response.text
    assert owner.refresh_token not in response.text
    failed = response.json()["items"][0]
    assert failed["actor_type"] == "anonymous"
    assert failed["request_id"]
    only_failed = await client.get(
        f"{API}/audit", params={"action": "auth.login_failed"}, headers=owner.headers
    )
    assert [e["action"] for e in only_failed.json()["items"]] == ["auth.login_failed"]


async def test_the_audit_trail_is_append_only_for_the_runtime_role(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await signup(client, "append")
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with database.tenant_transaction(owner.tenant_id) as session:
                await session.execute(text(statement))


def test_every_api_route_declares_its_permission(app: FastAPI) -> None:
    public = {
        f"/api/v1/auth/{path}"
        for path in (
            "signup",
            "login",
            "refresh",
            "otp/request",
            "otp/verify",
            "password-reset/request",
            "password-reset/confirm",
            "verify-email",
        )
    }
    token_only = {"/api/v1/auth/logout", "/api/v1/auth/logout-all"}
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            continue
        if route.path in public | token_only:
            continue
        calls = {d.call for d in route.dependant.dependencies}
        declared = any(isinstance(c, Requires) for c in calls) or require_admin in calls
        assert declared, f"{route.methods} {route.path} declares no permission"


def test_the_readme_prints_the_permission_table() -> None:
    assert permission_table_markdown() in (ROOT / "README.md").read_text()
