"""What every response carries, what no request may exceed, and whose address is whose."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from ledgerline.config import Settings
from tests.helpers.audit import audit_events
from tests.helpers.http import API, problem_code
from tests.helpers.identity import PASSWORD, signup


@pytest.fixture(scope="module")
async def proxied_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app behind a trusted proxy at 127.0.0.1 (httpx's test client address)."""
    app = create_app(
        settings.model_copy(
            update={
                "trusted_proxies": ["127.0.0.1/32"],
                "cors_origins": ["https://app.example.com"],
            }
        )
    )
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def proxied(proxied_app: FastAPI, empty_tables: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=proxied_app, client=("127.0.0.1", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/health"), await client.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" not in response.headers  # plain HTTP
    docs = await client.get("/docs")
    assert "content-security-policy" not in docs.headers  # its scripts come from elsewhere


async def test_hsts_only_over_https(proxied: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    behind_tls = await proxied.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")
    spoofed = await client.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in spoofed.headers


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    big = b"{" + b" " * settings.max_request_body_bytes + b"}"
    declared = await client.post(
        f"{API}/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert problem_code(declared) == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * (settings.max_request_body_bytes // 2)

    streamed = await client.post(
        f"{API}/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_a_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "spoof")
    await client.post(
        f"{API}/auth/login",
        json={"email": owner.email, "password": "wrong passphrase here"},
        headers={"X-Tenant-ID": str(owner.tenant_id), "X-Forwarded-For": "203.0.113.9"},
    )
    failed = await audit_events(client, owner, action="auth.login_failed")
    assert failed[0]["ip"] == "127.0.0.1"


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(proxied: httpx.AsyncClient) -> None:
    owner = await signup(proxied, "proxied")
    await proxied.post(
        f"{API}/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        headers={"X-Tenant-ID": "proxied", "X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
    )
    logins = await audit_events(proxied, owner, action="auth.login")
    assert logins[0]["ip"] == "203.0.113.9"  # the hop the trusted proxy saw


async def test_cors_allows_only_the_configured_origins(proxied: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = await proxied.options(
        f"{API}/auth/login", headers={"Origin": "https://app.example.com", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-credentials" not in allowed.headers
    other = await proxied.options(
        f"{API}/auth/login", headers={"Origin": "https://evil.example.com", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers


async def test_a_proxys_own_forwarded_for_line_is_read_with_the_clients(
    proxied: httpx.AsyncClient,
) -> None:
    """A proxy may add its line after the client's: the client's cannot decide the address."""
    owner = await signup(proxied, "twolines")
    await proxied.post(
        f"{API}/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        headers=[
            ("X-Tenant-ID", "twolines"),
            ("X-Forwarded-For", "203.0.113.77"),
            ("X-Forwarded-For", "198.51.100.7"),
        ],
    )
    logins = await audit_events(proxied, owner, action="auth.login")
    assert logins[0]["ip"] == "198.51.100.7"


async def test_a_streamed_body_over_the_limit_is_413_wherever_it_is_parsed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"tenant": {"name": "'
        for _ in range(3):
            yield b"x" * (settings.max_request_body_bytes // 2)
        yield b'"}}'

    response = await client.post(
        f"{API}/auth/signup", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert problem_code(response) == "payload_too_large"
