"""Test databases and direct SQL: the settings that point at one, (re)creating one, and
SQL as a superuser or as the owner to arrange a test's preconditions (moving time, reading
raw rows)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy.engine import URL

from ledgerline.config import Settings
from ledgerline.db.embedded import owner_url_for
from ledgerline.db.roles import asyncpg_dsn


def make_settings(admin_url: URL, database: str, **overrides: object) -> Settings:
    """Test settings, independent of the developer's environment and `.env`."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": owner_url_for(admin_url, database).render_as_string(hide_password=False),
        "database_admin_url": None,
        "database_runtime_user": "ledgerline_app",
        "database_platform_user": "ledgerline_platform",
        "database_pool_size": 5,
        "password_argon2_memory_kib": 8,
        "password_argon2_time_cost": 1,
        "log_level": "WARNING",
        # Generous: the suite logs in often from one address. Limits have their own tests.
        "rate_limit_auth": "100000/minute",
        "rate_limit_default": "100000/minute",
        "rate_limit_financing_accept": "100000/minute",
        # Tests drive the mail sender and document workers themselves (run_once).
        "mail_poll_seconds": 60,
        "document_poll_seconds": 60,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def admin_execute(admin_url: URL, *statements: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def recreate_database(admin_url: URL, name: str, template: str | None = None) -> None:
    clause = f" TEMPLATE {template}" if template else ""
    await admin_execute(
        admin_url,
        f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
        f"CREATE DATABASE {name} OWNER ledgerline_owner{clause}",
    )


async def owner_sql(settings: Settings, tenant_id: UUID, sql: str, *args: Any) -> list[Any]:
    """Run `sql` as the owner in `tenant_id` (row security is forced on the owner too)."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
            return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
