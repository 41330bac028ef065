"""Direct SQL for arranging a test's preconditions (moving time, reading raw rows)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from ledgerline.config import Settings
from ledgerline.db.roles import asyncpg_dsn


async def owner_sql(settings: Settings, tenant_id: UUID, sql: str, *args: Any) -> list[Any]:
    """Run `sql` as the owner in `tenant_id` (row security is forced on the owner too)."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
            return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()
