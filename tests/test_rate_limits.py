"""Rate limits, applied: per client address at sign-in, per caller and plan elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, login, signup

SIGN_IN_LIMIT = 4
CALLER_LIMIT = 5
GOLD_LIMIT = 8


@pytest.fixture(scope="module")
async def limited_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings.model_copy(
            update={
                "rate_limit_auth": f"{SIGN_IN_LIMIT}/minute",
                "rate_limit_default": f"{CALLER_LIMIT}/minute",
                "rate_limit_plans": {"gold": f"{GOLD_LIMIT}/minute"},
            }
        )
    )
    async with LifespanManager(app):
        yield app


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def limited(limited_app: FastAPI, empty_tables: None) -> FastAPI:
    await limited_app.state.rate_limits.reset()
    return limited_app


async def test_sign_in_is_limited_per_client_address(limited: FastAPI) -> None:
    async with (
        client_from(limited, "192.0.2.10") as first,
        client_from(limited, "192.0.2.11") as other,
    ):
        responses = [
            await first.post(
                f"{API}/auth/login", json={"email": "x@y.example.com", "password": "p"}
            )
            for _ in range(SIGN_IN_LIMIT + 1)
        ]
        assert [r.status_code for r in responses[:SIGN_IN_LIMIT]] == [401] * SIGN_IN_LIMIT
        limited_response = responses[-1]
        assert limited_response.status_code == 429
        assert problem_code(limited_response) == "rate_limited"
        assert 1 <= int(limited_response.headers["retry-after"]) <= 60
        assert responses[0].headers["ratelimit-limit"] == str(SIGN_IN_LIMIT)
        assert responses[0].headers["ratelimit-remaining"] == str(SIGN_IN_LIMIT - 1)
        # Another address has its own allowance.
        fresh = await other.post(
            f"{API}/auth/login", json={"email": "x@y.example.com", "password": "p"}
        )
        assert fresh.status_code == 401


async def test_a_spoofed_forwarded_for_does_not_escape_the_limit(limited: FastAPI) -> None:
    async with client_from(limited, "192.0.2.20") as client:
        statuses = [
            (
                await client.post(
                    f"{API}/auth/login",
                    json={"email": "x@y.example.com", "password": "p"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                )
            ).status_code
            for n in range(SIGN_IN_LIMIT + 1)
        ]
    assert statuses[-1] == 429


async def calls_until_limited(client: httpx.AsyncClient, account: Account, most: int) -> int:
    for n in range(1, most + 1):
        response = await client.get(f"{API}/users/me", headers=account.headers)
        if response.status_code == 429:
            assert problem_code(response) == "rate_limited"
            return n - 1
        assert response.status_code == 200, response.text
    return most


async def test_each_caller_has_its_own_allowance(limited: FastAPI) -> None:
    async with client_from(limited, "192.0.2.30") as client:
        a = await signup(client, "limita")
        b = await signup(client, "limitb")
        assert await calls_until_limited(client, a, CALLER_LIMIT + 3) == CALLER_LIMIT
        assert await calls_until_limited(client, b, 1) == 1


async def test_a_tenant_plan_sets_the_allowance(limited: FastAPI, settings: Settings) -> None:
    async with client_from(limited, "192.0.2.40") as client:
        gold = await signup(client, "goldco")
        await owner_sql(settings, gold.tenant_id, "UPDATE tenants SET plan = 'gold'")
        tokens = (await login(client, gold.tenant_id, gold.email)).json()
        gold = Account(gold.tenant_id, gold.user_id, gold.email, tokens["access_token"], "")
        assert await calls_until_limited(client, gold, GOLD_LIMIT + 3) == GOLD_LIMIT


async def test_rotating_ipv6_addresses_within_a_64_gains_nothing(limited: FastAPI) -> None:
    statuses = []
    for n in range(SIGN_IN_LIMIT + 1):
        async with client_from(limited, f"2001:db8:0:1::{n + 1:x}") as client:
            response = await client.post(
                f"{API}/auth/login", json={"email": "x@y.example.com", "password": "p"}
            )
            statuses.append(response.status_code)
    assert statuses[-1] == 429


async def test_failed_credentials_on_tenant_endpoints_are_limited_per_address(
    limited: FastAPI,
) -> None:
    async with client_from(limited, "192.0.2.50") as client:
        owner = await signup(client, "forgery")
        statuses = [
            (
                await client.get(
                    f"{API}/users",
                    headers={"X-API-Key": f"llk_nonsense_{n}", "X-Tenant-ID": str(owner.tenant_id)},
                )
            ).status_code
            for n in range(SIGN_IN_LIMIT + 2)
        ]
    assert statuses[:SIGN_IN_LIMIT] == [401] * SIGN_IN_LIMIT
    assert statuses[-1] == 429


async def test_junk_tokens_never_lock_out_a_caller_whose_credential_verifies(
    limited: FastAPI,
) -> None:
    """Behind one NAT, an attacker's junk tokens must not refuse an honest caller."""
    async with client_from(limited, "192.0.2.60") as client:
        owner = await signup(client, "sharednat")
        junk = {"Authorization": "Bearer not-a-token", "X-Tenant-ID": str(owner.tenant_id)}
        statuses = [
            (await client.get(f"{API}/users", headers=junk)).status_code
            for _ in range(SIGN_IN_LIMIT + 6)
        ]
        assert statuses[:SIGN_IN_LIMIT] == [401] * SIGN_IN_LIMIT
        assert set(statuses[SIGN_IN_LIMIT:]) == {429}

        honest = await client.get(f"{API}/users/me", headers=owner.headers)
    assert honest.status_code == 200, honest.text


async def test_the_429_for_failed_credentials_names_its_cause(limited: FastAPI) -> None:
    async with client_from(limited, "192.0.2.61") as client:
        responses = [
            await client.get(f"{API}/users", headers={"Authorization": "Bearer junk"})
            for _ in range(SIGN_IN_LIMIT + 1)
        ]
    refused = responses[-1]
    assert refused.status_code == 429
    assert problem_code(refused) == "failed_credentials_limited"
    assert "failed credentials from this address" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) >= 1


async def test_failures_claiming_one_tenant_are_limited_across_addresses(
    limited: FastAPI,
) -> None:
    async with client_from(limited, "192.0.2.70") as first:
        owner = await signup(first, "claimed")
    claimed = {"Authorization": "Bearer junk", "X-Tenant-ID": str(owner.tenant_id)}
    responses = []
    for n in range(SIGN_IN_LIMIT + 1):
        async with client_from(limited, f"198.51.100.{n + 1}") as client:
            responses.append(await client.get(f"{API}/users", headers=claimed))
    assert [r.status_code for r in responses[:SIGN_IN_LIMIT]] == [401] * SIGN_IN_LIMIT
    assert responses[-1].status_code == 429
    assert "failed credentials for this tenant" in responses[-1].json()["detail"]

    async with client_from(limited, "198.51.100.200") as client:
        honest = await client.get(f"{API}/users/me", headers=owner.headers)
    assert honest.status_code == 200, honest.text
