"""Engines and session factories for the runtime and platform roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ledgerline.config import Settings
from ledgerline.db.tenant_context import TenantConnection, tenant_scope


def create_engine_for(url: URL, settings: Settings, *, tenant_aware: bool) -> AsyncEngine:
    connect_args: dict[str, object] = {"server_settings": {"application_name": "ledgerline"}}
    if tenant_aware:
        connect_args["connection_class"] = TenantConnection
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_recycle=1800,
        connect_args=connect_args,
    )


class Database:
    """The two connection pools of a running service.

    `runtime` connects as the runtime role (RLS applies, tenant from the context);
    `platform` as the platform role (BYPASSRLS), for the platform-admin endpoints only.
    """

    def __init__(self, settings: Settings) -> None:
        self.runtime_engine = create_engine_for(settings.runtime_url(), settings, tenant_aware=True)
        self.platform_engine = create_engine_for(
            settings.platform_url(), settings, tenant_aware=False
        )
        self.runtime_sessions = async_sessionmaker(self.runtime_engine, expire_on_commit=False)
        self.platform_sessions = async_sessionmaker(self.platform_engine, expire_on_commit=False)

    @asynccontextmanager
    async def tenant_transaction(self, tenant_id: UUID) -> AsyncIterator[AsyncSession]:
        """A session whose transaction acts in `tenant_id`; commits on success."""
        with tenant_scope(tenant_id):
            async with self.runtime_sessions() as session, session.begin():
                yield session

    async def dispose(self) -> None:
        await self.runtime_engine.dispose()
        await self.platform_engine.dispose()
