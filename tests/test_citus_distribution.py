"""Migration 0022's plan (db/citus.py): what it would distribute is the catalog's tenant
tables, what it would copy is the global tables, in an order Citus accepts; without the
`citus` extension it changes nothing. (Citus itself is not installable here.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from ledgerline.config import Settings
from ledgerline.db import citus
from ledgerline.db.roles import asyncpg_dsn
from tests.helpers.catalog import GLOBAL_TABLES
from tests.test_citus_readiness import LOCAL_TABLES, REFERENCE_TABLES


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[AsyncConnection]:
    """The owner in a transaction that is rolled back."""
    engine = create_async_engine(settings.owner_url())
    try:
        async with engine.connect() as connection:
            yield connection
            await connection.rollback()
    finally:
        await engine.dispose()


async def tenant_tables(settings: Settings) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        names = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in names} - set(GLOBAL_TABLES)


async def test_it_distributes_the_tenant_tables_and_copies_the_global_ones(
    owner: AsyncConnection, settings: Settings
) -> None:
    plan = await owner.run_sync(citus.plan)
    assert set(plan.distributed_tables) == await tenant_tables(settings)
    assert len(plan.distributed_tables) == len(set(plan.distributed_tables))
    assert set(plan.reference_tables) == set(GLOBAL_TABLES) - set(LOCAL_TABLES)
    assert set(plan.reference_tables) == set(REFERENCE_TABLES)
    assert set(citus.LOCAL_TABLES) == set(LOCAL_TABLES)


async def test_a_referenced_table_is_distributed_before_the_tables_referencing_it(
    owner: AsyncConnection,
) -> None:
    plan = await owner.run_sync(citus.plan)
    place = {table: n for n, table in enumerate(plan.distributed_tables)}
    references = (
        await owner.exec_driver_sql(
            "SELECT src.relname, dst.relname FROM pg_constraint con"
            " JOIN pg_class src ON src.oid = con.conrelid"
            " JOIN pg_class dst ON dst.oid = con.confrelid WHERE con.contype = 'f'"
        )
    ).all()
    between_distributed = [
        (referencing, referenced)
        for referencing, referenced in references
        if referencing != referenced and referencing in place and referenced in place
    ]
    assert between_distributed, "the ledger's tables reference each other"
    assert [pair for pair in between_distributed if place[pair[1]] > place[pair[0]]] == []


async def test_the_calls_copy_first_then_distribute_into_one_colocation_group(
    owner: AsyncConnection,
) -> None:
    plan = await owner.run_sync(citus.plan)
    calls = plan.statements()
    anchor = plan.distributed_tables[0]
    assert calls[: len(plan.reference_tables)] == [
        f"SELECT create_reference_table('{table}')" for table in plan.reference_tables
    ]
    assert calls[len(plan.reference_tables) :] == [
        f"SELECT create_distributed_table('{anchor}', 'tenant_id')",
        *(
            f"SELECT create_distributed_table('{table}', 'tenant_id', colocate_with => '{anchor}')"
            for table in plan.distributed_tables[1:]
        ),
    ]
    known = frozenset({"tenants", plan.distributed_tables[1]})
    again = plan.statements(already=known)
    assert len(again) == len(calls) - 2
    assert not [call for call in again if any(f"('{table}'" in call for table in known)]


async def test_without_citus_it_changes_nothing(owner: AsyncConnection) -> None:
    assert await owner.run_sync(citus.citus_installed) is False
    assert await owner.run_sync(citus.distribute, "ledgerline_app") == []
    revision = await owner.exec_driver_sql("SELECT version_num FROM alembic_version")
    assert revision.scalar_one() >= "0022"
