"""Alembic environment: runs migrations as the owner role over asyncpg."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ledgerline.config import Settings
from ledgerline.models import Base

config = context.config
settings: Settings = config.attributes.setdefault("settings", Settings())


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # `ledgerline db revision --autogenerate` compares the models with the database.
        target_metadata=config.attributes.get("target_metadata", Base.metadata),
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(settings.direct_owner_url(), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: they set grants per role")
asyncio.run(run_online())
