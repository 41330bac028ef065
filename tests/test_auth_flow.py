"""Sign-up, login and the profile, through HTTP."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select

from ledgerline.audit.models import PlatformAuditEvent
from ledgerline.config import Settings
from ledgerline.db.engine import Database
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import PASSWORD, bearer, create_admin, login, signup


async def test_signup_then_login_then_me(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme", "Olive@Acme.example.com")
    me = await client.get(f"{API}/users/me", headers=owner.headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "olive@acme.example.com"
    assert me.json()["role"] == "TENANT_OWNER"
    assert me.headers["etag"] == '"1"'

    for tenant in (owner.tenant_id, "acme", "ACME"):
        again = await login(client, tenant, "olive@acme.example.com")
        assert again.status_code == 200, again.text
        assert set(again.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert again.json()["token_type"] == "bearer"
        assert (
            await client.get(
                f"{API}/users/me", headers=bearer(again.json()["access_token"], owner.tenant_id)
            )
        ).status_code == 200


async def test_a_taken_slug_is_409(client: httpx.AsyncClient) -> None:
    await signup(client, "taken")
    response = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": "Other", "slug": "taken"},
            "owner": {"email": "x@other.example.com", "password": PASSWORD, "full_name": "X"},
        },
    )
    assert response.status_code == 409
    assert problem_code(response) == "slug_taken"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "weak_password"),
        ("password1234", "weak_password"),
        ("aaaaaaaaaaaaaaa", "weak_password"),
    ],
)
async def test_weak_passwords_are_refused(
    client: httpx.AsyncClient, password: str, code: str
) -> None:
    response = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": "Weak", "slug": "weak"},
            "owner": {"email": "w@weak.example.com", "password": password, "full_name": "W"},
        },
    )
    assert response.status_code == 422
    assert problem_code(response) == code


async def test_unknown_email_and_wrong_password_answer_alike(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "alike")
    wrong = await login(client, owner.tenant_id, owner.email, "not the right passphrase")
    unknown = await login(client, owner.tenant_id, "nobody@alike.example.com")
    unknown_tenant = await login(client, "no-such-tenant", owner.email)
    for response in (wrong, unknown, unknown_tenant):
        assert response.status_code == 401
        assert response.json() == wrong.json()
        assert response.headers["www-authenticate"] == "Bearer"


async def test_the_oauth2_password_form_logs_in(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "formco")
    response = await client.post(
        f"{API}/auth/login",
        data={"username": owner.email, "password": PASSWORD, "client_id": "formco"},
    )
    assert response.status_code == 200, response.text


async def test_a_platform_admin_logs_in_without_a_tenant(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await create_admin(settings, app.state.passwords, "ada@platform.example.com")
    response = await login(client, None, "ada@platform.example.com")
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"].startswith("lla_")
    assert (
        await login(client, None, "ada@platform.example.com", "wrong password here")
    ).status_code == 401


async def test_an_unknown_email_still_verifies_a_hash(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that it takes as long as a wrong password: one argon2 verification each."""
    owner = await signup(client, "timing")
    passwords = app.state.passwords
    verified: list[str | None] = []
    real_verify = passwords.verify

    async def counting_verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
        verified.append(password_hash)
        return await real_verify(password, password_hash)

    monkeypatch.setattr(passwords, "verify", counting_verify)
    await login(client, owner.tenant_id, "nobody@timing.example.com")
    await login(client, "no-such-tenant", owner.email)
    await login(client, owner.tenant_id, owner.email, "a wrong passphrase here")
    assert len(verified) == 3
    assert verified[:2] == [None, None]  # the dummy hash


async def test_a_hash_made_with_older_parameters_is_upgraded_at_login(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "rehash")
    older = Argon2Hasher(time_cost=1, memory_cost=16, parallelism=1).hash(PASSWORD)
    await owner_sql(settings, owner.tenant_id, "UPDATE users SET password_hash = $1", older)
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200
    rows = await owner_sql(settings, owner.tenant_id, "SELECT password_hash FROM users")
    upgraded = rows[0]["password_hash"]
    assert upgraded != older
    assert f"m={settings.password_argon2_memory_kib}," in upgraded
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200


async def test_a_password_over_1024_characters_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": "Long", "slug": "long"},
            "owner": {"email": "l@long.example.com", "password": "x1" * 513, "full_name": "L"},
        },
    )
    assert response.status_code == 422


async def test_admin_logins_and_failures_are_in_the_platform_trail(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, database: Database
) -> None:
    await create_admin(settings, app.state.passwords, "ada@platform.example.com")
    await login(client, None, "ada@platform.example.com", "wrong password here")
    tokens = (await login(client, None, "ada@platform.example.com")).json()
    await client.post(f"{API}/auth/logout", headers=bearer(tokens["access_token"]))
    async with database.platform_sessions() as session:
        actions = list(
            await session.scalars(select(PlatformAuditEvent.action).order_by(PlatformAuditEvent.id))
        )
    assert actions == ["auth.login_failed", "auth.login", "auth.logout"]
