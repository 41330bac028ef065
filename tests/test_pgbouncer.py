"""Behind PgBouncer in transaction mode (the Debian package, 1.18).

Server connections are shared between clients transaction by transaction, so: the tenant
must ride on each BEGIN, no prepared statement may be relied on past its transaction, no
setting may be sent at connect, and LISTEN needs a direct connection. Then the isolation
and concurrency tests run again with the app's engines through PgBouncer.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from ledgerline.config import Settings
from ledgerline.db.engine import Database, transaction_pooler_connect_args
from ledgerline.db.outage import DatabaseUnavailable
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.db.tenant_context import tenant_scope
from tests.helpers.database import recreate_database
from tests.helpers.pgbouncer import PgBouncer, pgbouncer, pgbouncer_binary

ROOT = Path(__file__).resolve().parents[1]
# Run again through PgBouncer: tenant isolation (database and HTTP), the ledger under
# concurrent postings, the hand-written asyncpg reads, Idempotency-Key races.
SUITES_THROUGH_PGBOUNCER = (
    "tests/test_rls.py",
    "tests/test_tenancy_http.py",
    "tests/test_ledger_concurrency.py",
    "tests/test_hot_path.py",
    "tests/test_idempotency.py",
)
SUITE_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def bouncer(admin_url: URL) -> Iterator[PgBouncer]:
    """One server connection per database and role: every client shares it."""
    with pgbouncer(admin_url, pool_size=1) as running:
        yield running


@pytest.fixture
async def through_bouncer(
    bouncer: PgBouncer, settings: Settings, admin_url: URL, template_database: str
) -> Settings:
    """A database of this module's, at head, reached through PgBouncer."""
    name = f"{settings.owner_url().database}_bounced"
    await recreate_database(admin_url, name, template=template_database)
    direct = settings.model_copy(
        update={"database_url": settings.owner_url().set(database=name).render_as_string(False)}
    )
    return bouncer.settings(direct)


async def backend_and_tenant(database: Database, tenant: uuid.UUID | None) -> tuple[int, str]:
    query = text("SELECT pg_backend_pid(), current_setting('app.tenant_id', true)")
    if tenant is None:
        async with database.runtime_sessions() as session, session.begin():
            row = (await session.execute(query)).one()
    else:
        with tenant_scope(tenant):
            async with database.runtime_sessions() as session, session.begin():
                row = (await session.execute(query)).one()
    return int(row[0]), str(row[1] or "")


async def test_the_tenant_rides_on_begin_across_shared_server_connections(
    through_bouncer: Settings,
) -> None:
    """Two services (two client pools), one server connection: each transaction sees
    its own tenant, and one without a tenant sees none."""
    first, second = Database(through_bouncer), Database(through_bouncer)
    try:
        tenants = [uuid.uuid4(), uuid.uuid4()]
        seen = await asyncio.gather(
            *(
                backend_and_tenant(database, tenant)
                for _ in range(10)
                for database in (first, second)
                for tenant in (*tenants, None)
            )
        )
    finally:
        await first.dispose()
        await second.dispose()
    assert len({backend for backend, _ in seen}) == 1, "PgBouncer shared one server connection"
    expected = [
        str(tenant or "") for _ in range(10) for _db in (1, 2) for tenant in (*tenants, None)
    ]
    assert [tenant for _, tenant in seen] == expected


async def test_the_statement_timeout_rides_on_begin(through_bouncer: Settings) -> None:
    database = Database(through_bouncer)
    try:
        with tenant_scope(uuid.uuid4()):
            async with database.runtime_sessions() as session, session.begin():
                timeout = await session.scalar(text("SHOW statement_timeout"))
    finally:
        await database.dispose()
    assert timeout == f"{round(through_bouncer.database_statement_timeout_seconds)}s"


async def test_pgbouncer_refuses_the_statement_timeout_as_a_startup_parameter(
    through_bouncer: Settings,
) -> None:
    """Why it rides on BEGIN: sent at connect, PgBouncer 1.18 refuses the connection."""
    refused = through_bouncer.model_copy(update={"database_transaction_pooler": False})
    database = Database(refused)
    try:
        with pytest.raises(DatabaseUnavailable) as refusal:
            async with database.runtime_sessions() as session, session.begin():
                await session.execute(text("SELECT 1"))
    finally:
        await database.dispose()
    assert "unsupported startup parameter: statement_timeout" in str(refusal.value.__cause__)


@pytest.fixture
def two_server_connections(admin_url: URL) -> Iterator[PgBouncer]:
    with pgbouncer(admin_url, pool_size=2) as running:
        yield running


async def statements_on_moving_server_connections(
    bouncer: PgBouncer, settings: Settings, connect_args: dict[str, object]
) -> None:
    """One client connection runs a statement, then again while another client holds the
    server connection it ran on: PgBouncer gives it the other server connection."""
    url = bouncer.settings(settings).platform_url()
    engine = create_async_engine(url, connect_args=connect_args)
    holder = await asyncpg.connect(asyncpg_dsn(url), statement_cache_size=0)
    query = text("SELECT count(*) FROM tenants WHERE slug = :slug")
    try:
        async with engine.begin() as connection:
            await connection.execute(query, {"slug": "first"})
        # PgBouncer hands out the server connection used last: the holder takes it.
        async with holder.transaction():
            await holder.execute("SELECT 1")
            async with engine.begin() as connection:
                await connection.execute(query, {"slug": "second"})
    finally:
        await holder.close()
        await engine.dispose()


async def test_prepared_statements_without_caches_work_through_pgbouncer(
    two_server_connections: PgBouncer, settings: Settings
) -> None:
    await statements_on_moving_server_connections(
        two_server_connections, settings, transaction_pooler_connect_args()
    )


async def test_cached_prepared_statements_break_through_pgbouncer(
    two_server_connections: PgBouncer, settings: Settings
) -> None:
    """What the pooler settings prevent: a statement cached on one server connection
    is missing on the next."""
    with pytest.raises(DBAPIError, match="prepared statement"):
        await statements_on_moving_server_connections(two_server_connections, settings, {})


async def test_listen_runs_on_the_direct_connection(through_bouncer: Settings) -> None:
    """LISTEN keeps a server session; DATABASE_DIRECT_URL reaches PostgreSQL itself,
    and a NOTIFY committed through PgBouncer reaches it."""
    direct = through_bouncer.direct_runtime_url()
    assert direct.port != through_bouncer.runtime_url().port
    listener = await asyncpg.connect(asyncpg_dsn(direct))
    received: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener("ledgerline_probe", lambda *args: received.put_nowait(args[3]))
        sender = await asyncpg.connect(
            asyncpg_dsn(through_bouncer.runtime_url()), statement_cache_size=0
        )
        try:
            async with sender.transaction():
                await sender.execute("SELECT pg_notify('ledgerline_probe', 'doorbell')")
        finally:
            await sender.close()
        assert await asyncio.wait_for(received.get(), 5) == "doorbell"
    finally:
        await listener.close()


def test_the_isolation_and_concurrency_tests_pass_through_pgbouncer(tmp_path: Path) -> None:
    """The suites above, once more, with the app's engines through PgBouncer (conftest's
    LEDGERLINE_TEST_PGBOUNCER) in databases of their own."""
    pgbouncer_binary()
    env = {**os.environ, "LEDGERLINE_TEST_PGBOUNCER": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider"),
            *("--basetemp", str(tmp_path / "inner")),
            *SUITES_THROUGH_PGBOUNCER,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "skipped" not in result.stdout
