"""What row-level security and the tenant context cost on primary-key reads.

Three ways to read one row by primary key, one transaction each, through SQLAlchemy
sessions on asyncpg:
- app:       the app's own runtime engine; RLS policy; tenant riding on BEGIN; no WHERE
             on tenant_id (the policy supplies it);
- reference: a copy of the table without RLS, `WHERE tenant_id = ... AND id = ...`, plain
             asyncpg connections;
- naive:     RLS, with the tenant set by a separate `set_config` statement per transaction;
- begin-only: the app's engine on the table without RLS: what riding on BEGIN costs alone.

Rounds interleave the variants; each cost is the median over rounds of the ratio within
a round, so drift of the machine between rounds cancels out.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench.database import admin_url, fresh_database
from ledgerline.db.base import new_id
from ledgerline.db.engine import Database, create_engine_for
from ledgerline.db.roles import asyncpg_dsn

TENANTS = 200
USERS_PER_TENANT = 50
READS_PER_ROUND = 2000
ROUNDS = 9


async def seed(admin_dsn: str, runtime_role: str) -> list[tuple[UUID, UUID]]:
    rows = [
        (tenant, new_id(), f"user{i}@t{n}.test")
        for n, tenant in enumerate(new_id() for _ in range(TENANTS))
        for i in range(USERS_PER_TENANT)
    ]
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.copy_records_to_table(
            "tenants",
            records=[
                (t, f"t{n}", f"T{n}") for n, t in enumerate(dict.fromkeys(r[0] for r in rows))
            ],
            columns=["id", "slug", "name"],
        )
        await conn.copy_records_to_table(
            "users",
            records=[(t, u, e, e, "ASSISTANT") for t, u, e in rows],
            columns=["tenant_id", "id", "email", "full_name", "role"],
        )
        await conn.execute(
            "CREATE TABLE plain_users (LIKE users INCLUDING ALL);"
            "INSERT INTO plain_users SELECT * FROM users;"
            f'GRANT SELECT ON plain_users TO "{runtime_role}";'
            "ANALYZE users; ANALYZE plain_users;"
        )
    finally:
        await conn.close()
    return [(t, u) for t, u, _ in rows]


async def rate(
    read: Callable[[UUID, UUID], Awaitable[object]], keys: list[tuple[UUID, UUID]]
) -> float:
    started = time.perf_counter()
    for tenant, user in keys:
        assert await read(tenant, user) is not None
    return len(keys) / (time.perf_counter() - started)


async def run() -> dict[str, float]:
    with admin_url() as admin:
        settings = await fresh_database(admin, "ledgerline_bench_rls")
        bench_admin = admin.set(database="ledgerline_bench_rls")
        keys = await seed(asyncpg_dsn(bench_admin), settings.database_runtime_user)
        database = Database(settings)
        plain_engine = create_engine_for(settings.runtime_url(), settings, tenant_aware=False)
        plain_sessions = async_sessionmaker(plain_engine, expire_on_commit=False)
        by_id = text("SELECT email FROM users WHERE id = :id")
        plain = text("SELECT email FROM plain_users WHERE tenant_id = :tenant AND id = :id")
        set_tenant = text("SELECT set_config('app.tenant_id', :tenant, true)")

        async def app_read(tenant: UUID, user: UUID) -> object:
            async with database.tenant_transaction(tenant) as session:
                return await session.scalar(by_id, {"id": user})

        # The same transaction pattern as the app's TenantTransaction: autobegin on the
        # first statement, commit, close.
        async def reference_read(tenant: UUID, user: UUID) -> object:
            async with plain_sessions() as session:
                row = await session.scalar(plain, {"tenant": tenant, "id": user})
                await session.commit()
                return row

        async def naive_read(tenant: UUID, user: UUID) -> object:
            async with plain_sessions() as session:
                await session.execute(set_tenant, {"tenant": str(tenant)})
                row = await session.scalar(by_id, {"id": user})
                await session.commit()
                return row

        async def begin_only_read(tenant: UUID, user: UUID) -> object:
            async with database.tenant_transaction(tenant) as session:
                return await session.scalar(plain, {"tenant": tenant, "id": user})

        readers = {
            "app": app_read,
            "reference": reference_read,
            "naive": naive_read,
            "begin_only": begin_only_read,
        }
        rates: dict[str, list[float]] = {name: [] for name in readers}
        try:
            for read in readers.values():  # warm pools and statement caches
                await rate(read, random.sample(keys, 300))
            for _ in range(ROUNDS):  # interleaved, so drift hits every variant alike
                sample = random.sample(keys, READS_PER_ROUND)
                for name, read in readers.items():
                    rates[name].append(await rate(read, sample))
        finally:
            await database.dispose()
            await plain_engine.dispose()
    return rates


def cost(rates: dict[str, list[float]], name: str) -> float:
    """Median over rounds of how much slower `name` was than the reference, in %."""
    pairs = zip(rates["reference"], rates[name], strict=True)
    return 100 * statistics.median(reference / other - 1 for reference, other in pairs)


def main() -> None:
    rates = asyncio.run(run())
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"rls_overhead: primary-key reads, one transaction each, {ROUNDS} rounds")
    print(f"  reference (no RLS, WHERE tenant_id)   {median['reference']:7.0f} reads/s")
    print(f"  app (RLS, tenant on BEGIN)            {median['app']:7.0f} reads/s")
    print(f"  begin-only (tenant on BEGIN, no RLS)  {median['begin_only']:7.0f} reads/s")
    print(f"  naive (RLS, separate set_config)      {median['naive']:7.0f} reads/s")
    print(f"  app cost vs reference:        {cost(rates, 'app'):5.1f}% (target < 5%)")
    print(f"  begin-only cost vs reference: {cost(rates, 'begin_only'):5.1f}%")
    print(f"  naive cost vs reference:      {cost(rates, 'naive'):5.1f}%")
