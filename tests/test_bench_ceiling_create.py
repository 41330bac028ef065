"""The `http` benchmark's write ceiling and floor do the app's create and nothing more.

`POST /invoices` of bench/ceiling.py (bare Starlette + asyncpg) and of bench/floor.py
(FastAPI + the app's session) must send the statements the app sends for
`POST /api/v1/invoices`, in its order, write the same rows, and answer the same invoice;
otherwise the benchmark's ratios compare different work. (Their speed is measured by
`make bench BENCH=http`, never here.)
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from asyncpg import prepared_stmt
from bench.ceiling import create_ceiling
from bench.floor import create_floor
from bench.http import wrk_create_body

from ledgerline.config import Settings
from ledgerline.values import fold_invoice_number
from tests.helpers.database import owner_sql
from tests.helpers.http import problem_code
from tests.helpers.identity import Account
from tests.helpers.invoices import API, vendor

ROOT = Path(__file__).resolve().parents[1]
# Differ between two creates by nature: ids, the number (each must be unique), times.
OWN_TO_EACH = ("id", "number", "created_at", "updated_at", "possible_duplicate_of")


@pytest.fixture
async def servers(
    client: httpx.AsyncClient, settings: Settings
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The app (the `client` fixture), the ceiling and the floor on one database."""
    ceiling, floor = create_ceiling(settings), create_floor(settings)
    async with (
        LifespanManager(ceiling),
        LifespanManager(floor),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=ceiling), base_url="http://c") as c,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=floor), base_url="http://f") as f,
    ):
        yield {"app": client, "ceiling": c, "floor": f}


def create_path(server: str) -> str:
    return f"{API}/invoices" if server == "app" else "/invoices"


@contextmanager
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The text of every statement sent through asyncpg meanwhile, whitespace folded."""
    sent: list[str] = []

    def record(query: str) -> None:
        sent.append(" ".join(query.split()).rstrip(";"))

    def wrapped(original: Callable[..., Any], text: Callable[..., str | None]) -> Any:
        async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            query = text(self, *args)
            if query is not None:
                record(query)
            return await original(self, *args, **kwargs)

        return call

    connection = asyncpg.connection.Connection
    # `execute` with arguments goes through `_execute`: counted there.
    monkeypatch.setattr(
        connection,
        "execute",
        wrapped(connection.execute, lambda _, query, *args: None if args else query),
    )
    monkeypatch.setattr(
        connection, "_execute", wrapped(connection._execute, lambda _, query, *args: query)
    )
    for name in ("fetch", "fetchrow", "fetchval", "executemany"):
        original = getattr(prepared_stmt.PreparedStatement, name)
        monkeypatch.setattr(
            prepared_stmt.PreparedStatement,
            name,
            wrapped(original, lambda statement, *args: statement.get_query()),
        )
    try:
        yield sent
    finally:
        monkeypatch.undo()


async def test_ceiling_and_floor_send_the_apps_statements_in_its_order(
    servers: dict[str, httpx.AsyncClient], owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor_id = await vendor(servers["app"], owner)
    statements = {}
    for server, http in servers.items():
        # Once untraced: the first create of a process may prepare what later ones reuse.
        path = create_path(server)
        warm = await http.post(
            path, json=wrk_create_body(vendor_id, f"W-{server}"), headers=owner.headers
        )
        assert warm.status_code == 201, warm.text
        with traced(monkeypatch) as sent:
            answer = await http.post(
                path, json=wrk_create_body(vendor_id, f"T-{server}"), headers=owner.headers
            )
        assert answer.status_code == 201, answer.text
        statements[server] = sent

    app = statements["app"]
    assert app[0] == f"BEGIN; SET LOCAL app.tenant_id = '{owner.tenant_id}'"
    assert app[-1] == "COMMIT"
    assert statements["ceiling"] == app
    # BEGIN, caller, vendor, same number, near duplicates, audit, invoice, lines, history,
    # the event's lock and row, COMMIT.
    assert len(statements["ceiling"]) == 12
    assert statements["floor"] == statements["ceiling"]


async def test_ceiling_and_floor_write_and_answer_what_the_app_does(
    servers: dict[str, httpx.AsyncClient], owner: Account, settings: Settings
) -> None:
    vendor_id = await vendor(servers["app"], owner)
    answers = {}
    for server, http in servers.items():
        answer = await http.post(
            create_path(server),
            json=wrk_create_body(vendor_id, f"B-{server}"),
            headers=owner.headers,
        )
        assert answer.status_code == 201, answer.text
        assert answer.headers["etag"] == '"1"'
        assert answer.headers["location"].endswith(answer.json()["id"])
        answers[server] = answer.json()

    expected = answers["app"]
    assert expected["total"] == "305.24"
    assert expected["tax_total"] == "48.74"
    assert expected["lines"][1]["quantity"] == "3.0000"
    for server in ("ceiling", "floor"):
        got = answers[server]
        assert got.keys() == expected.keys()
        assert {k: v for k, v in got.items() if k not in OWN_TO_EACH} == {
            k: v for k, v in expected.items() if k not in OWN_TO_EACH
        }
    # Each sees the earlier ones as near duplicates: same vendor, total and day.
    assert answers["ceiling"]["possible_duplicate_of"] == [expected["id"]]
    assert answers["floor"]["possible_duplicate_of"] == [
        expected["id"],
        answers["ceiling"]["id"],
    ]

    async def rows(sql: str, invoice_id: str) -> list[dict[str, Any]]:
        found = await owner_sql(settings, owner.tenant_id, sql, UUID(invoice_id))
        return [dict(row) for row in found]

    stored = {}
    for server, answer in answers.items():
        stored[server] = {
            "invoice": await rows(
                "SELECT * FROM invoices WHERE id = $1",
                answer["id"],
            ),
            "lines": await rows(
                "SELECT * FROM invoice_lines WHERE invoice_id = $1 ORDER BY position",
                answer["id"],
            ),
            "history": await rows(
                "SELECT * FROM invoice_status_history WHERE invoice_id = $1", answer["id"]
            ),
            "audit": await rows("SELECT * FROM audit_events WHERE target_id = $1", answer["id"]),
            "events": await rows("SELECT * FROM domain_events WHERE subject_id = $1", answer["id"]),
        }

    def comparable(found: dict[str, list[dict[str, Any]]]) -> Any:
        own = {
            "id",
            "invoice_id",
            "target_id",
            "subject_id",
            "created_at",
            "updated_at",
            "occurred_at",
            "request_id",
            "user_agent",
            "number",
            "number_key",
            "possible_duplicate_of",
            "changes",
            "channels",
            "data",
        }
        return {
            table: [{k: v for k, v in row.items() if k not in own} for row in table_rows]
            for table, table_rows in found.items()
        }

    for server in ("ceiling", "floor"):
        assert comparable(stored[server]) == comparable(stored["app"]), server
        assert [len(rows) for rows in stored[server].values()] == [1, 2, 1, 1, 1]
        (event,) = stored[server]["events"]
        assert event["channels"] == [
            "invoices",
            f"invoice:{answers[server]['id']}",
            "dashboard",
        ]
        (audit,) = stored[server]["audit"]
        assert json.loads(audit["changes"]) == {
            "number": f"B-{server}",
            "total": "305.24",
            "possible_duplicate_of": answers[server]["possible_duplicate_of"],
        }
        assert json.loads(event["data"]) == {
            **json.loads(stored["app"]["events"][0]["data"]),
            "number": f"B-{server}",
        }


async def test_ceiling_and_floor_refuse_as_the_app_does(
    servers: dict[str, httpx.AsyncClient], owner: Account, settings: Settings
) -> None:
    vendor_id = await vendor(servers["app"], owner)
    first = await servers["app"].post(
        f"{API}/invoices", json=wrk_create_body(vendor_id, "R-1"), headers=owner.headers
    )
    assert first.status_code == 201, first.text
    for server, http in servers.items():
        path = create_path(server)
        # The same number, folded: refused.
        twin = await http.post(path, json=wrk_create_body(vendor_id, "r 1"), headers=owner.headers)
        assert twin.status_code == 409, (server, twin.text)
        assert problem_code(twin) == "duplicate_invoice"
        assert twin.json()["existing_invoice_id"] == first.json()["id"]
        unknown = await http.post(
            path, json=wrk_create_body(str(owner.user_id), f"U-{server}"), headers=owner.headers
        )
        assert unknown.status_code == 404, (server, unknown.text)
        assert problem_code(unknown) == "vendor_not_found"
        wrong_tenant = {**owner.headers, "X-Tenant-ID": str(owner.user_id)}
        elsewhere = await http.post(
            path, json=wrk_create_body(vendor_id, "E-1"), headers=wrong_tenant
        )
        assert elsewhere.status_code == 403, (server, elsewhere.text)
        if server != "app":
            bad = await http.post(path, content=b'{"lines": [{}]}', headers=owner.headers)
            assert bad.status_code == 422, (server, bad.text)

    # Signed out: the token still verifies, but the caller's liveness check refuses it.
    logout = await servers["app"].post(f"{API}/auth/logout", headers=owner.headers)
    assert logout.status_code == 204
    for server, http in servers.items():
        gone = await http.post(
            create_path(server),
            json=wrk_create_body(vendor_id, f"G-{server}"),
            headers=owner.headers,
        )
        assert gone.status_code == 401, (server, gone.text)
    # Nothing but the first invoice was written.
    assert await owner_sql(settings, owner.tenant_id, "SELECT count(*) FROM invoices") == [(1,)]


def test_the_numbers_wrk_sends_stay_unique_once_folded() -> None:
    """Every wrk run of the benchmark numbers its creates `<tag>-...<n>`; folded as the
    duplicate check folds them, no two runs' numbers may meet (else some creates are
    refused as duplicates and measured as such)."""
    script = (ROOT / "bench" / "wrk.lua").read_text()
    found = re.search(r'"number": "([^"]+)"', script)
    assert found is not None
    number = found.group(1)  # a Lua format of the run's tag and the request's count
    folded = {
        fold_invoice_number(number % (f"W{run}", count))
        for run in range(1, 40)
        for count in range(1, 1_000)
    }
    assert len(folded) == 39 * 999
