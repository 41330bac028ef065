"""Health, readiness, request ids and problem+json for every kind of error."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.engine import URL

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db import migrate
from ledgerline.errors import PROBLEM_MEDIA_TYPE, problem_response
from ledgerline.problems import Problem
from tests.helpers.database import admin_execute, make_settings, recreate_database

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:ledgerline:problem:{code}"
    assert response.headers["x-request-id"]
    return body


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_is_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migration": migrate.head_revision()}


async def test_every_response_has_a_request_id_and_a_plain_one_is_echoed(
    client: httpx.AsyncClient,
) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    echoed = await client.get("/health", headers={"X-Request-ID": "trace-42.a:b"})
    assert echoed.headers["x-request-id"] == "trace-42.a:b"
    hostile = await client.get("/health", headers={"X-Request-ID": "x" * 500})
    assert hostile.headers["x-request-id"] != "x" * 500


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/no/such/thing"), 404, "not_found")
    assert body["detail"] == "No resource at /no/such/thing."


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


class Payload(BaseModel):
    amount: int
    secret: str


@pytest.fixture(scope="module")
async def app_with_faults(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app with two extra routes: one validating a body, one that crashes."""
    app = create_app(settings)

    @app.post("/test/validate")
    async def validate(payload: Payload) -> Payload:
        return payload

    @app.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError("SELECT secret FROM users -- internal detail")

    async with LifespanManager(app):
        yield app


@pytest.fixture
async def fault_client(app_with_faults: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with_faults, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_invalid_body_is_a_422_problem_that_never_echoes_input(
    fault_client: httpx.AsyncClient,
) -> None:
    response = await fault_client.post(
        "/test/validate", json={"amount": "many", "secret": ["hunter2-password"]}
    )
    body = assert_problem(response, 422, "validation_failed")
    assert {tuple(error["loc"]) for error in body["errors"]} == {  # type: ignore[attr-defined]
        ("body", "amount"),
        ("body", "secret"),
    }
    assert "hunter2" not in response.text


async def test_malformed_json_is_a_400_problem(fault_client: httpx.AsyncClient) -> None:
    response = await fault_client.post(
        "/test/validate", content=b'{"amount": 1,', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


async def test_an_unexpected_error_is_a_500_problem_without_internals(
    fault_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await fault_client.get("/test/crash", headers={"X-Request-ID": "crash-1"})
    body = assert_problem(response, 500, "internal_error")
    assert response.headers["x-request-id"] == "crash-1"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "An unexpected error occurred."
    logged = [r for r in caplog.records if r.name == "ledgerline.access" and r.exc_info]
    assert logged
    assert "internal detail" in str(logged[0].exc_info[1])  # type: ignore[index]


async def test_openapi_has_a_stable_operation_id_per_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert {"health", "ready"} <= set(operation_ids)
    assert len(operation_ids) == len(set(operation_ids))
    assert (await client.get("/docs")).status_code == 200


@pytest.fixture
async def behind_schema(admin_url: URL, worker_id: str) -> AsyncIterator[Settings]:
    """A database whose schema is at base, not head."""
    name = f"ledgerline_behind_{worker_id}"
    await recreate_database(admin_url, name)
    settings = make_settings(admin_url, name)
    await asyncio.to_thread(migrate.upgrade, settings)
    await asyncio.to_thread(migrate.downgrade, settings, "base")
    yield settings
    await admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_not_ready_while_migrations_are_pending(behind_schema: Settings) -> None:
    app = create_app(behind_schema)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/ready")
    body = assert_problem(response, 503, "migrations_pending")
    assert "none" in str(body["detail"])


def test_a_problems_extra_members_cannot_replace_its_core_members() -> None:
    problem = Problem(409, "conflict", "Taken.", extra={"status": 200, "code": "ok", "id": "x"})
    body = json.loads(problem_response(problem).body)
    assert (body["status"], body["code"], body["id"]) == (409, "conflict", "x")
    assert Problem(599, "odd", "Odd.").title == "Error"
