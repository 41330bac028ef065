"""Engines and session factories for the runtime and platform roles."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ledgerline.config import Settings
from ledgerline.db import outage, tenant_context, timeouts
from ledgerline.db.tenant_context import TenantConnection, tenant_scope
from ledgerline.db.timeouts import BoundedConnection, DatabaseTimeouts, bounded
from ledgerline.problems import Problem


def create_engine_for(url: URL, settings: Settings, *, tenant_aware: bool) -> AsyncEngine:
    """An engine whose every wait on the database is bounded (db/timeouts.py) and whose
    outage errors become `DatabaseUnavailable` (db/outage.py)."""
    limits = DatabaseTimeouts.from_settings(settings)
    connect_args = limits.connect_args()
    connect_args["server_settings"]["application_name"] = "ledgerline"
    connection_class = TenantConnection if tenant_aware else BoundedConnection
    connect_args["connection_class"] = bounded(connection_class, limits)
    if settings.database_transaction_pooler:
        connect_args.update(transaction_pooler_connect_args())
    engine = create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=limits.pool,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args=connect_args,
    )
    outage.install(engine)
    timeouts.install(engine)
    tenant_context.install(engine)
    return engine


def transaction_pooler_connect_args() -> dict[str, Any]:
    """asyncpg and SQLAlchemy arguments for a pooler in transaction mode (PgBouncer 1.18).

    A prepared statement lives in one server session, and PgBouncer hands each
    transaction whichever server connection is free: a cached statement would be
    missing there ("prepared statement does not exist") or, under asyncpg's counter
    names, someone else's ("already exists"). PgBouncer only tracks prepared statements
    from 1.21 (`max_prepared_statements`); Debian 12 ships 1.18. So nothing is cached:
    asyncpg's own calls (db/driver.py) use the unnamed statement, and SQLAlchemy's
    adapter, which always names its statements, gets names no other client repeats.
    Every statement runs inside a transaction, so its parse and execution stay on one
    server connection.
    """
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__ll_{uuid4().hex}__"


class TenantTransaction:
    """One transaction in one tenant: commit on success, roll back on error, then close.

    A `Problem` that keeps its writes commits too (a counted failure it reports).

    A plain class rather than an async generator: it sits on every tenant request.
    """

    __slots__ = ("_scope", "_session")

    def __init__(self, sessions: async_sessionmaker[AsyncSession], tenant_id: UUID) -> None:
        self._scope = tenant_scope(tenant_id)
        self._session = sessions()

    async def __aenter__(self) -> AsyncSession:
        self._scope.__enter__()
        return await self._session.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None or (isinstance(exc, Problem) and exc.keep_writes):
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            try:
                # The session's own exit: it closes shielded from cancellation.
                await self._session.__aexit__(exc_type, exc, traceback)
            finally:
                self._scope.__exit__()


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

    def tenant_transaction(self, tenant_id: UUID) -> TenantTransaction:
        """`async with`: a session whose transaction acts in `tenant_id`; commits on success."""
        return TenantTransaction(self.runtime_sessions, tenant_id)

    async def dispose(self) -> None:
        await self.runtime_engine.dispose()
        await self.platform_engine.dispose()
