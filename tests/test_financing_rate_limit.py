"""The public acceptance of financing offers is limited per client address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from ledgerline.config import Settings
from tests.helpers import financing
from tests.helpers.http import API, problem_code

ACCEPT_LIMIT = 3


@pytest.fixture(scope="module")
async def limited_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(
        settings.model_copy(update={"rate_limit_financing_accept": f"{ACCEPT_LIMIT}/minute"})
    )
    async with LifespanManager(app):
        yield app


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_acceptances_are_limited_per_client_address(
    limited_app: FastAPI, empty_tables: None
) -> None:
    await limited_app.state.rate_limits.reset()
    async with (
        client_from(limited_app, "192.0.2.20") as guesser,
        client_from(limited_app, "192.0.2.21") as vendor,
    ):
        answers = [
            await financing.accept(guesser, f"llf_{'0' * 32}_guess-{n}")
            for n in range(ACCEPT_LIMIT + 1)
        ]
        assert [a.status_code for a in answers] == [404] * ACCEPT_LIMIT + [429]
        assert problem_code(answers[-1]) == "rate_limited"
        assert int(answers[-1].headers["retry-after"]) >= 1
        other = await vendor.post(f"{API}/financing/offers/accept", json={"token": "llf_x"})
        assert other.status_code == 404
