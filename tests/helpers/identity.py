"""Who a test acts as: tenants signed up, users added, platform admins, their headers."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from ledgerline.config import Settings
from ledgerline.security.passwords import Passwords
from ledgerline.users.models import PlatformAdmin
from tests.helpers.http import API

PASSWORD = "a long and unusual passphrase 7"
ADMIN_EMAIL = "ada@platform.example.com"


@dataclass
class Account:
    tenant_id: UUID
    user_id: UUID
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "X-Tenant-ID": str(self.tenant_id)}


def bearer(token: str, tenant_id: UUID | str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if tenant_id is not None:
        headers["X-Tenant-ID"] = str(tenant_id)
    return headers


async def signup(client: httpx.AsyncClient, slug: str, email: str | None = None) -> Account:
    email = email or f"owner@{slug}.example.com"
    response = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": slug.title(), "slug": slug},
            "owner": {"email": email, "password": PASSWORD, "full_name": "Olive Owner"},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        UUID(body["tenant"]["id"]),
        UUID(body["user"]["id"]),
        email,
        body["tokens"]["access_token"],
        body["tokens"]["refresh_token"],
    )


async def login(
    client: httpx.AsyncClient, tenant: UUID | str | None, email: str, password: str = PASSWORD
) -> httpx.Response:
    headers = {"X-Tenant-ID": str(tenant)} if tenant is not None else {}
    return await client.post(
        f"{API}/auth/login", json={"email": email, "password": password}, headers=headers
    )


async def add_user(
    client: httpx.AsyncClient, owner: Account, email: str, role: str = "ASSISTANT"
) -> Account:
    response = await client.post(
        f"{API}/users",
        json={"email": email, "full_name": email.split("@")[0], "role": role, "password": PASSWORD},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    user_id = UUID(response.json()["id"])
    tokens = (await login(client, owner.tenant_id, email)).json()
    return Account(owner.tenant_id, user_id, email, tokens["access_token"], tokens["refresh_token"])


async def create_admin(settings: Settings, passwords: Passwords, email: str) -> None:
    """As `ledgerline create-admin` does: the owner role inserts the admin."""
    engine = create_async_engine(settings.owner_url())
    try:
        async with AsyncSession(engine) as session, session.begin():
            session.add(
                PlatformAdmin(
                    email=email, full_name="Ada Admin", password_hash=await passwords.hash(PASSWORD)
                )
            )
    finally:
        await engine.dispose()
