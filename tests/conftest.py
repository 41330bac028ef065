"""Test harness: real PostgreSQL, the app's own engines and lifespan, HTTP through httpx.

One embedded server serves the whole run (or TEST_DATABASE_ADMIN_URL, a superuser URL
of an external server). The schema is migrated once per run into a template database;
each xdist worker clones its own database from it and empties the tables before each
test that asks for the app. Nothing replaces the session or transaction machinery.
After the harness, the callers most tests act as: a tenant's `owner` and an `admin`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import fasteners
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import URL

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db import migrate
from ledgerline.db.embedded import external_or_embedded
from ledgerline.db.engine import Database
from ledgerline.db.roles import asyncpg_dsn, bootstrap_database
from tests.helpers.database import make_settings, recreate_database
from tests.helpers.identity import ADMIN_EMAIL, Account, bearer, create_admin, login, signup
from tests.helpers.pgbouncer import pgbouncer

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA_DIR = ROOT / ".data" / "test-postgres"
# LEDGERLINE_TEST_PGBOUNCER=1: the app's engines reach PostgreSQL through PgBouncer in
# transaction mode (tests/test_pgbouncer.py runs the isolation and concurrency tests so),
# in databases of their own beside a run of the whole suite.
THROUGH_PGBOUNCER = os.environ.get("LEDGERLINE_TEST_PGBOUNCER") == "1"
DATABASE_PREFIX = "ledgerline_pgbouncer" if THROUGH_PGBOUNCER else "ledgerline"
TEMPLATE_DATABASE = f"{DATABASE_PREFIX}_template"


@pytest.fixture(scope="session")
def admin_url() -> Iterator[URL]:
    with external_or_embedded(os.environ.get("TEST_DATABASE_ADMIN_URL"), TEST_DATA_DIR) as url:
        yield url


@pytest.fixture(scope="session")
def run_id(request: pytest.FixtureRequest) -> str:
    """Shared by every worker of one pytest run (xdist's testrun_uid), else per process."""
    worker_input = getattr(request.config, "workerinput", None)
    if worker_input is not None:
        return str(worker_input["testrunuid"])
    return f"solo-{os.getpid()}"


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    worker_input = getattr(request.config, "workerinput", None)
    return str(worker_input["workerid"]) if worker_input else "main"


@pytest.fixture(scope="session")
async def template_database(admin_url: URL, run_id: str) -> str:
    """Roles bootstrapped and the schema migrated once per run, whichever worker comes first."""
    TEST_DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    marker = TEST_DATA_DIR.parent / f"test-{TEMPLATE_DATABASE}.run"
    with fasteners.InterProcessLock(str(TEST_DATA_DIR.parent / "test-template.lock")):
        if not marker.exists() or marker.read_text() != run_id:
            settings = make_settings(admin_url, TEMPLATE_DATABASE)
            await bootstrap_database(settings, admin_url.render_as_string(hide_password=False))
            await recreate_database(admin_url, TEMPLATE_DATABASE)
            await asyncio.to_thread(migrate.upgrade, settings)
            marker.write_text(run_id)
    return TEMPLATE_DATABASE


@pytest.fixture(scope="session")
async def settings(
    admin_url: URL,
    template_database: str,
    worker_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Settings]:
    name = f"{DATABASE_PREFIX}_test_{worker_id}"
    await recreate_database(admin_url, name, template=template_database)
    direct = make_settings(
        admin_url, name, document_storage_dir=tmp_path_factory.mktemp("documents")
    )
    if not THROUGH_PGBOUNCER:
        yield direct
        return
    with pgbouncer(admin_url) as bouncer:
        yield bouncer.settings(direct)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def empty_tables(settings: Settings) -> None:
    """Every table emptied (as the owner) before the test; the schema stays."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        tables = await conn.fetchval(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def database(app: FastAPI, empty_tables: None) -> Database:
    """The running app's own engines and session factories."""
    db: Database = app.state.database
    return db


@pytest.fixture
async def client(app: FastAPI, empty_tables: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# --- who a test acts as --------------------------------------------------------------


@pytest.fixture
def owner_slug() -> str:
    """The slug of the tenant `owner` signs up; a module whose tests name it overrides this."""
    return "ownerco"


@pytest.fixture
async def owner(client: httpx.AsyncClient, owner_slug: str) -> Account:
    """The TENANT_OWNER of a tenant signed up just now."""
    return await signup(client, owner_slug)


@pytest.fixture
async def admin(client: httpx.AsyncClient, app: FastAPI, settings: Settings) -> dict[str, str]:
    """Headers of a logged-in platform ADMIN (no X-Tenant-ID)."""
    await create_admin(settings, app.state.passwords, ADMIN_EMAIL)
    response = await login(client, None, ADMIN_EMAIL)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])
