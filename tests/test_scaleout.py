"""Four API processes behind PgBouncer in transaction mode, rate limits on Redis.

One real `ledgerline serve --workers 4` for the whole module: its engines reach the
suite's PostgreSQL through PgBouncer (DATABASE_TRANSACTION_POOLER), migrations and each
worker's LISTEN connection go straight to PostgreSQL (DATABASE_DIRECT_URL), and its rate
limits count on a Redis of its own. Against it run, unchanged: a parametrised set of the
cross-tenant tests (each on emptied tables, as in the in-process suite), the ledger's
concurrency tests (100 transfers, 50 payments at once) and the cross-worker event test
(an event committed through one worker reaches WebSocket subscribers on the others).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import URL

from ledgerline.config import Settings
from ledgerline.db.roles import asyncpg_dsn
from tests.helpers.database import make_settings, recreate_database
from tests.helpers.http import API
from tests.helpers.identity import signup
from tests.helpers.pgbouncer import pgbouncer
from tests.helpers.service_process import ServiceProcess
from tests.test_api_keys import test_a_key_is_bound_to_its_tenant
from tests.test_assets_http import (
    test_an_asset_cannot_point_at_another_tenants_rows,
    test_another_tenants_assets_do_not_exist,
)
from tests.test_documents_http import test_another_tenants_documents_and_batches_do_not_exist
from tests.test_invoices_http import test_another_tenants_invoices_and_vendors_do_not_exist
from tests.test_ledger_concurrency import (
    test_50_concurrent_payments_of_one_invoice,
    test_100_concurrent_transfers_of_50_out_of_1000,
)
from tests.test_ledger_invoices_http import test_another_tenants_ids_are_404
from tests.test_ledger_refusals_http import test_an_entry_may_name_only_the_tenants_accounts
from tests.test_live_events import (
    test_an_approval_reaches_subscribers_on_both_workers_and_no_other_tenant,
)
from tests.test_payables_workflow import test_another_tenants_ids_are_not_found
from tests.test_rate_limits_redis import RedisServer, redis_server_binary
from tests.test_tenancy_http import (
    test_a_missing_or_malformed_tenant_header_is_400,
    test_another_tenants_header_is_403,
    test_another_tenants_row_is_404_under_ones_own_header,
    test_no_token_is_401_with_a_challenge,
)

WORKERS = 4
# Server connections per database and role: four processes' pools (up to 20 each) queue
# on these, as they would on a production PgBouncer.
SERVER_CONNECTIONS = 10
FINANCING_ACCEPT_LIMIT = 12

__all__ = [
    "test_50_concurrent_payments_of_one_invoice",
    "test_100_concurrent_transfers_of_50_out_of_1000",
    "test_a_key_is_bound_to_its_tenant",
    "test_a_missing_or_malformed_tenant_header_is_400",
    "test_an_approval_reaches_subscribers_on_both_workers_and_no_other_tenant",
    "test_an_asset_cannot_point_at_another_tenants_rows",
    "test_an_entry_may_name_only_the_tenants_accounts",
    "test_another_tenants_assets_do_not_exist",
    "test_another_tenants_documents_and_batches_do_not_exist",
    "test_another_tenants_header_is_403",
    "test_another_tenants_ids_are_404",
    "test_another_tenants_ids_are_not_found",
    "test_another_tenants_invoices_and_vendors_do_not_exist",
    "test_another_tenants_row_is_404_under_ones_own_header",
    "test_no_token_is_401_with_a_challenge",
]


@pytest.fixture(scope="module")
def scaled_settings(admin_url: URL, template_database: str, worker_id: str) -> Settings:
    """A database of this module's, cloned at head from the run's template."""
    name = f"ledgerline_scaleout_{worker_id}"
    asyncio.run(recreate_database(admin_url, name, template=template_database))
    return make_settings(admin_url, name)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisServer(redis_server_binary(), tmp_path_factory.mktemp("scaleout-redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def service(
    admin_url: URL,
    scaled_settings: Settings,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """`serve --workers 4` through PgBouncer, LISTEN and migrations on the direct URL."""
    with pgbouncer(admin_url, pool_size=SERVER_CONNECTIONS) as bouncer:
        through = bouncer.settings(scaled_settings)
        assert through.database_url is not None
        running = ServiceProcess(
            tmp_path_factory.mktemp("scaleout") / "serve.log",
            WORKERS,
            DATABASE_URL=through.database_url,
            DATABASE_DIRECT_URL=through.direct_owner_url().render_as_string(hide_password=False),
            DATABASE_TRANSACTION_POOLER="true",
            DATABASE_POOL_TIMEOUT_SECONDS="60",
            RATE_LIMIT_STORAGE_URL=redis_url,
            RATE_LIMIT_STORAGE_TIMEOUT_SECONDS="5",
            RATE_LIMIT_FINANCING_ACCEPT=f"{FINANCING_ACCEPT_LIMIT}/minute",
            EVENTS_LIVENESS_SECONDS="0.5",
            SERVE_RUNS_JOBS="false",
        )
        try:
            yield running
        finally:
            running.stop()


async def empty_tables(settings: Settings) -> None:
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
async def client(
    service: ServiceProcess, scaled_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The cross-tenant tests' client, here over TCP to the four workers, on emptied
    tables (the tests reuse tenant slugs)."""
    await empty_tables(scaled_settings)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http_client:
        yield http_client


@pytest.fixture
async def http(service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http_client:
        yield http_client


def test_the_server_runs_four_workers_through_pgbouncer(service: ServiceProcess) -> None:
    log = service.log.read_text()
    assert log.count("Application startup complete.") == WORKERS
    assert "in-memory rate limits" not in log


async def test_every_worker_counts_on_one_shared_redis(service: ServiceProcess) -> None:
    """Public acceptance links, each request on a new connection (so on any worker):
    exactly the limit gets through, however the requests were spread."""
    statuses: Counter[int] = Counter()
    for number in range(FINANCING_ACCEPT_LIMIT * 3):
        async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as fresh:
            answer = await fresh.post(
                f"{API}/financing/offers/accept", json={"token": f"t{number:040}"}
            )
        statuses[answer.status_code] += 1
    assert statuses[429] == FINANCING_ACCEPT_LIMIT * 2, statuses
    assert statuses.total() - statuses[429] == FINANCING_ACCEPT_LIMIT, statuses


async def test_a_tenant_on_one_worker_sees_only_its_rows_on_every_other(
    service: ServiceProcess,
) -> None:
    """Many connections, so many workers, many server connections: each request is
    answered in its own tenant."""
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as first:
        tenants = [await signup(first, f"spread{number}") for number in range(4)]

    async def users_seen(number: int) -> tuple[int, list[str]]:
        who = tenants[number % len(tenants)]
        async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as fresh:
            listed = await fresh.get(f"{API}/users", headers=who.headers)
        assert listed.status_code == 200, listed.text
        return number, [user["id"] for user in listed.json()["items"]]

    for number, seen in await asyncio.gather(*(users_seen(n) for n in range(40))):
        assert seen == [str(tenants[number % len(tenants)].user_id)]
