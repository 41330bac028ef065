"""A scratch database on the embedded server (or BENCH_DATABASE_ADMIN_URL) for benchmarks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

from ledgerline.config import Settings
from ledgerline.db import migrate
from ledgerline.db.embedded import external_or_embedded, owner_url_for
from ledgerline.db.roles import asyncpg_dsn, bootstrap_database

BENCH_DATA_DIR = Path(__file__).resolve().parents[1] / ".data" / "bench-postgres"


@contextmanager
def admin_url() -> Iterator[URL]:
    with external_or_embedded(os.environ.get("BENCH_DATABASE_ADMIN_URL"), BENCH_DATA_DIR) as url:
        yield url


async def fresh_database(admin: URL, name: str) -> Settings:
    """Drop and recreate `name`, bootstrapped and migrated to head."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=owner_url_for(admin, name).render_as_string(hide_password=False),
        log_level="WARNING",
    )
    conn = await asyncpg.connect(asyncpg_dsn(admin))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()
    await bootstrap_database(settings, admin.render_as_string(hide_password=False))
    await asyncio.to_thread(migrate.upgrade, settings)
    return settings
