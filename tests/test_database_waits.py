"""Bounded waits on the database, and 503 (never 500) when it cannot answer.

Through HTTP and the app's own engines and sessions, on the real test PostgreSQL. The
faults are arranged without harming the shared server: a table lock held from a second
connection makes statements wait, a terminated backend is a lost connection, a closed
port refuses and a socket that never answers stands for a frozen server. The real
server process with its own PostgreSQL killed and frozen is in test_faults.py.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db import outage
from ledgerline.db.engine import Database
from ledgerline.db.roles import asyncpg_dsn
from tests.helpers.database import admin_execute
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, signup

STATEMENT_TIMEOUT = 0.5
CLIENT_BACKSTOP = STATEMENT_TIMEOUT + 1.0  # asyncpg's command_timeout in these apps
LOCK_HELD = CLIENT_BACKSTOP + 1.0  # longer than both the server's and the client's limit


@pytest.fixture(autouse=True)
def fresh_outage_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outage log's intervals are per process; each test starts with none running."""
    monkeypatch.setattr(outage, "outage_log", outage.OutageLog())


@asynccontextmanager
async def running(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(settings.model_copy(update=overrides))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=30
        ) as http:
            yield http, app


@asynccontextmanager
async def locked(settings: Settings, *tables: str) -> AsyncIterator[None]:
    """Every statement on `tables` waits while the block runs (ACCESS EXCLUSIVE locks)."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


async def waiting_on_a_lock(settings: Settings, admin_url: URL) -> None:
    """Returns once a statement in the settings' database waits for a lock (at most 10 s).
    (Only a superuser sees what other roles' sessions wait for.)"""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    deadline = time.monotonic() + 10
    try:
        while not await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = $1",
            settings.owner_url().database,
        ):
            assert time.monotonic() < deadline, "no statement came to wait for the lock"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert problem_code(response) == "database_unavailable"
    assert response.headers["retry-after"] == "5"


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.getMessage() == "database unavailable"]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)


async def new_vendor(http: httpx.AsyncClient, who: Account, name: str) -> httpx.Response:
    return await http.post(
        f"{API}/vendors", json={"name": name, "default_currency": "EUR"}, headers=who.headers
    )


async def test_a_statement_past_its_timeout_is_a_503_logged_once_per_interval(
    settings: Settings, empty_tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, database_statement_timeout_seconds=STATEMENT_TIMEOUT) as (
        http,
        _,
    ):
        owner = await signup(http, "slow-statements")
        timed: list[tuple[httpx.Response, float]] = []
        async with locked(settings, "vendors"):
            for n in range(3):
                started = time.monotonic()
                response = await new_vendor(http, owner, f"Vendor {n}")
                timed.append((response, time.monotonic() - started))
        after = await new_vendor(http, owner, "Vendor after")
    for response, seconds in timed:
        assert_unavailable(response)
        assert STATEMENT_TIMEOUT <= seconds < STATEMENT_TIMEOUT + 1.0
    assert [line.kind for line in outage_lines(caplog)] == ["statement_cancelled"]
    assert no_tracebacks(caplog)
    assert after.status_code == 201, after.text


async def test_no_free_connection_within_the_pool_timeout_is_a_503(
    settings: Settings, empty_tables: None, admin_url: URL
) -> None:
    pool_timeout = 0.3
    async with running(
        settings,
        database_pool_size=1,
        database_max_overflow=0,
        database_pool_timeout_seconds=pool_timeout,
    ) as (http, _):
        owner = await signup(http, "busy-pool")
        async with locked(settings, "vendors"):
            holding = asyncio.create_task(new_vendor(http, owner, "Holds the connection"))
            await waiting_on_a_lock(settings, admin_url)  # with the only connection
            started = time.monotonic()
            refused = await http.get(f"{API}/vendors", headers=owner.headers)
            waited = time.monotonic() - started
        assert (await holding).status_code == 201
    assert_unavailable(refused)
    assert pool_timeout <= waited < pool_timeout + 1.0


async def test_named_long_jobs_wait_up_to_the_long_statement_timeout(
    settings: Settings, empty_tables: None
) -> None:
    async with running(
        settings,
        database_statement_timeout_seconds=STATEMENT_TIMEOUT,
        database_long_statement_timeout_seconds=10,
    ) as (http, app):
        owner = await signup(http, "long-jobs")
        vendor = await new_vendor(http, owner, "Paper GmbH")
        invoice = await http.post(
            f"{API}/invoices",
            json={
                "vendor_id": vendor.json()["id"],
                "number": "INV-1",
                "issue_date": "2026-03-01",
                "lines": [{"description": "Toner", "quantity": "2", "unit_price": "49.99"}],
            },
            headers=owner.headers,
        )
        assert invoice.status_code == 201, invoice.text
        category = await http.post(
            f"{API}/asset-categories",
            json={
                "name": "IT equipment",
                "depreciation_method": "straight_line",
                "useful_life_months": 60,
            },
            headers=owner.headers,
        )
        assert category.status_code == 201, category.text
        asset = await http.post(
            f"{API}/assets",
            json={
                "tag": "A-1",
                "name": "Server",
                "category_id": category.json()["id"],
                "acquisition_date": "2026-01-10",
                "cost": "10000.00",
                "currency": "EUR",
            },
            headers=owner.headers,
        )
        assert asset.status_code == 201, asset.text
        csv_headers = owner.headers | {"Content-Type": "text/csv"}
        jobs = {
            "invoice export": http.get(f"{API}/invoices/export.csv", headers=owner.headers),
            "invoice import": http.post(
                f"{API}/invoices/import",
                content=(
                    b"vendor_name,number,issue_date,description,quantity,unit_price\n"
                    b"Paper GmbH,INV-2,2026-03-02,Paper,1,9.90\n"
                ),
                headers=csv_headers,
            ),
            "asset import": http.post(
                f"{API}/assets/import",
                content=(
                    b"tag,name,category,acquisition_date,cost,currency\n"
                    b"T-1,Laptop,IT equipment,2026-01-02,1200.00,EUR\n"
                ),
                headers=csv_headers,
            ),
            "asset register": http.get(
                f"{API}/assets/register.csv", params={"as_of": "2026-06-30"}, headers=owner.headers
            ),
            "plain request": http.get(f"{API}/invoices", headers=owner.headers),
        }
        async with locked(settings, "vendors", "invoices", "assets", "asset_categories"):
            running_jobs = asyncio.gather(*jobs.values())
            await asyncio.sleep(LOCK_HELD)
        answers = dict(zip(jobs, await running_jobs, strict=True))

        # The raised client-side limit ended with each job's use of its connection.
        engine = app.state.database.runtime_engine
        connections = [await engine.connect() for _ in range(5)]
        try:
            backstops = {
                (await c.get_raw_connection()).driver_connection._config.command_timeout
                for c in connections
            }
        finally:
            for connection in connections:
                await connection.close()

    assert_unavailable(answers["plain request"])
    for job in ("invoice export", "invoice import", "asset import", "asset register"):
        assert answers[job].status_code == 200, (job, answers[job].text)
    exported = list(csv.DictReader(io.StringIO(answers["invoice export"].text)))
    assert [row["number"] for row in exported] == ["INV-1"]
    assert answers["invoice import"].json()["imported"] == 1
    assert answers["asset import"].json()["imported"] == 1
    assert "A-1" in answers["asset register"].text
    assert backstops == {CLIENT_BACKSTOP}


async def test_a_lost_connection_is_a_503_and_the_next_request_reconnects(
    settings: Settings, empty_tables: None, admin_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, database_pool_size=1, database_max_overflow=0) as (http, app):
        owner = await signup(http, "lost-connection")
        assert (await http.get(f"{API}/vendors", headers=owner.headers)).status_code == 200
        async with app.state.database.runtime_engine.connect() as connection:
            backend = await connection.scalar(text("SELECT pg_backend_pid()"))
        await admin_execute(admin_url, f"SELECT pg_terminate_backend({backend})")
        await asyncio.sleep(0.2)
        lost = await http.get(f"{API}/vendors", headers=owner.headers)
        again = await http.get(f"{API}/vendors", headers=owner.headers)
    assert_unavailable(lost)
    assert again.status_code == 200, again.text
    assert [line.kind for line in outage_lines(caplog)] == ["connection_lost"]
    assert no_tracebacks(caplog)


@asynccontextmanager
async def unreachable_database(
    settings: Settings, app: FastAPI, listener: socket.socket
) -> AsyncIterator[None]:
    """The running app's engines pointed at `listener`'s port instead of PostgreSQL."""
    port = listener.getsockname()[1]
    moved = settings.model_copy(
        update={
            "database_url": f"postgresql://ledgerline_owner@127.0.0.1:{port}/ledgerline",
            "database_connect_timeout_seconds": 0.5,
        }
    )
    serving = app.state.database
    app.state.database = Database(moved)
    try:
        yield
    finally:
        await app.state.database.dispose()
        app.state.database = serving


@pytest.mark.parametrize("server", ["refusing", "silent"])
async def test_a_database_that_refuses_or_never_answers_is_a_503_within_the_connect_timeout(
    settings: Settings, empty_tables: None, caplog: pytest.LogCaptureFixture, server: str
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        if server == "silent":
            listener.listen()  # connections are accepted by the kernel, never answered
        async with running(settings) as (http, app):
            owner = await signup(http, f"unreachable-{server}")
            async with unreachable_database(settings, app, listener):
                timed = []
                for path, headers in (
                    (f"{API}/vendors", owner.headers),
                    ("/ready", {}),
                ):
                    started = time.monotonic()
                    timed.append(
                        (await http.get(path, headers=headers), time.monotonic() - started)
                    )
                login = await http.post(
                    f"{API}/auth/login",
                    json={"email": owner.email, "password": "whatever it is"},
                    headers={"X-Tenant-ID": str(owner.tenant_id)},
                )
    for response, seconds in [*timed, (login, 0.0)]:
        assert_unavailable(response)
        assert seconds < 0.5 + 1.0
    kind = "connect_refused" if server == "refusing" else "connect_timeout"
    assert {line.kind for line in outage_lines(caplog)} == {kind}
    assert no_tracebacks(caplog)


class FreezableProxy:
    """TCP on 127.0.0.1 to the test server's unix socket; `freeze` stops passing bytes on
    in both directions (connections stay open), as a SIGSTOPped server would."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.port = 0
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FreezableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self.flowing.set()
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_unix_connection(self.socket_path)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self.flowing.wait()
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()


@asynccontextmanager
async def behind_proxy(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI, FreezableProxy]]:
    url = make_url(settings.database_url or "")
    socket_path = f"{url.query['host']}/.s.PGSQL.{url.port or 5432}"
    async with FreezableProxy(socket_path) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port, query={})
        async with running(
            settings, database_url=proxied.render_as_string(hide_password=False), **overrides
        ) as (http, app):
            yield http, app, proxy


FROZEN = {
    "database_connect_timeout_seconds": 0.5,
    "database_statement_timeout_seconds": 1.0,  # the client's backstop: 2 s
    "database_pool_size": 2,
    "database_max_overflow": 0,
}


async def test_a_frozen_database_fails_pooled_connections_at_begin_within_the_connect_timeout(
    settings: Settings, empty_tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    async with behind_proxy(settings, **FROZEN) as (http, app, proxy):
        owner = await signup(http, "frozen-pool")
        engine = app.state.database.runtime_engine
        idle = [await engine.connect() for _ in range(2)]  # both pooled connections open
        for connection in idle:
            await connection.close()
        proxy.flowing.clear()
        timed = []
        for path, headers in (
            (f"{API}/vendors", owner.headers),
            (f"{API}/vendors", owner.headers),
            ("/ready", {}),
        ):
            started = time.monotonic()
            timed.append((await http.get(path, headers=headers), time.monotonic() - started))
        proxy.flowing.set()
        after = await http.get(f"{API}/vendors", headers=owner.headers)
    for response, seconds in timed:
        assert_unavailable(response)
        assert seconds < 0.5 + 1.0  # the client's backstop would be 2 s
    assert after.status_code == 200, after.text
    assert {line.kind for line in outage_lines(caplog)} == {"no_answer", "connect_timeout"}
    assert no_tracebacks(caplog)


async def test_a_statement_running_when_the_database_froze_ends_at_the_client_backstop(
    settings: Settings, empty_tables: None, admin_url: URL
) -> None:
    async with behind_proxy(settings, **FROZEN) as (http, _, proxy):
        owner = await signup(http, "frozen-statement")
        async with locked(settings, "vendors"):
            waiting = asyncio.create_task(new_vendor(http, owner, "Caught in the freeze"))
            await waiting_on_a_lock(settings, admin_url)
            started = time.monotonic()
            proxy.flowing.clear()
        # The server cancels the statement at 1 s; its answer is held in the proxy.
        try:
            frozen = await asyncio.wait_for(asyncio.shield(waiting), 10)
        finally:
            seconds = time.monotonic() - started
            proxy.flowing.set()  # a request that hangs here ends once the bytes flow
    assert_unavailable(frozen)
    assert 2.0 - 0.5 <= seconds < 2.0 + 1.0


async def test_an_app_starting_while_the_database_is_unreachable_waits_for_it(
    settings: Settings, empty_tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(settings.database_url or "")
    async with FreezableProxy(f"{url.query['host']}/.s.PGSQL.{url.port or 5432}") as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port, query={})
        app = create_app(
            settings.model_copy(
                update={
                    "database_url": proxied.render_as_string(hide_password=False),
                    "database_connect_timeout_seconds": 0.5,
                }
            )
        )
        proxy.flowing.clear()
        asyncio.get_running_loop().call_later(1.5, proxy.flowing.set)
        started = time.monotonic()
        async with LifespanManager(app, startup_timeout=10):
            waited = time.monotonic() - started
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                ready = await http.get("/ready")
    assert ready.status_code == 200, ready.text
    assert waited >= 1.5
    assert {line.kind for line in outage_lines(caplog)} == {"connect_timeout"}
