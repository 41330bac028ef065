"""Migrations go up, down and up again on an empty database, and match the models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ledgerline.config import Settings
from ledgerline.db import migrate
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.models import Base
from tests.helpers.database import admin_execute, make_settings, recreate_database


@pytest.fixture
async def empty_database(
    admin_url: URL, template_database: str, worker_id: str
) -> AsyncIterator[Settings]:
    name = f"ledgerline_migrations_{worker_id}"
    await recreate_database(admin_url, name)
    yield make_settings(admin_url, name)
    await admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def public_tables(settings: Settings) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows} - {"alembic_version"}


async def test_upgrade_downgrade_upgrade(empty_database: Settings) -> None:
    assert await public_tables(empty_database) == set()
    await asyncio.to_thread(migrate.upgrade, empty_database)
    assert await public_tables(empty_database) == set(Base.metadata.tables)
    await asyncio.to_thread(migrate.downgrade, empty_database, "base")
    assert await public_tables(empty_database) == set()
    await asyncio.to_thread(migrate.upgrade, empty_database)
    assert await public_tables(empty_database) == set(Base.metadata.tables)


async def test_the_models_match_the_migrations(settings: Settings) -> None:
    engine = create_async_engine(settings.owner_url(), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []
