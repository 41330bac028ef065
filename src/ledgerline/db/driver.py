"""Statements sent straight to asyncpg inside the session's own transaction.

For the request path only: the caller check every tenant request makes, the reads whose
rows go straight into a response, and the small reads of the busiest writes (creating and
approving an invoice) whose answers are a check or a few ids, never a row to change.
SQLAlchemy's execution (a greenlet per statement, compile-cache keys, result and ORM
objects) measured about four fifths of the processor time of such a read; asyncpg's
prepared-statement cache still applies, keyed by the statement's text. Everything else
goes through the ORM.

Such a statement does not flush the session first, as an ORM read would: it reads what
the transaction has sent, so it runs where nothing it reads is pending in the session.

The statements run on the connection the session's transaction holds, begun by
SQLAlchemy's own driver adapter (so the BEGIN carries the tenant, see tenant_context),
and end with it: the session still commits or rolls back. An outage is handled as the
engine's hooks handle it for SQLAlchemy's own statements (db/outage.py): the error
becomes `DatabaseUnavailable`, and a broken connection is invalidated so that the pool
never hands it out again.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import await_only, greenlet_spawn

from ledgerline.db import outage

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DriverConnection:
    """The asyncpg connection of a session's transaction, and SQLAlchemy's around it."""

    driver: asyncpg.Connection
    connection: Connection

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        """One row (or None) of a prepared statement."""
        return await self._translated(self.driver.fetchrow(query, *args))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """The rows of a prepared statement."""
        rows: list[asyncpg.Record] = await self._translated(self.driver.fetch(query, *args))
        return rows

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._translated(self.driver.execute(query, *args))
        return status

    async def _translated(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except Exception as error:
            kind = _outage_kind(error, self.driver)
            if kind is None:
                raise
            if kind in outage.CONNECTION_BROKEN:
                _discard(self.driver, self.connection, error)
            raise outage.DatabaseUnavailable(kind) from error


def _outage_kind(error: Exception, driver: asyncpg.Connection) -> str | None:
    """The outage `error` shows; any error on a connection that has closed meanwhile is a
    lost connection, as SQLAlchemy's asyncpg dialect judges a disconnect (`is_disconnect`)
    for its own statements. A server killed under load can leave a pooled connection
    whose socket is gone while its protocol still counts an operation in progress: the
    next statement then fails with "another operation is in progress"."""
    kind = outage.driver_kind(error)
    if kind is None and driver.is_closed():
        return "connection_lost"
    return kind


def _discard(driver: asyncpg.Connection, connection: Connection, error: Exception) -> None:
    """Close at once (no goodbye to a server that may be frozen), then tell the pool."""
    driver.terminate()
    connection.invalidate(error)


def _begun(session: Any) -> DriverConnection:
    """(Runs in SQLAlchemy's greenlet.) The session's connection with the driver
    adapter's transaction started, as the adapter starts it before its first statement;
    a BEGIN that fails for an outage invalidates the connection.

    SQLAlchemy's asyncpg adapter starts its transaction lazily, in front of its first
    statement, and offers no public call for it: `_start_transaction` and `_transaction`
    (its one transaction slot) are the adapter's own, pinned with SQLAlchemy in uv.lock
    and exercised by every tenant test (a transaction without the BEGIN would run with no
    tenant and see nothing)."""
    connection: Connection = session.connection()
    fairy = connection.connection
    adapter: Any = fairy.dbapi_connection
    if adapter._transaction is None:
        try:
            await_only(adapter._start_transaction())
        except Exception as error:
            kind = _outage_kind(error, adapter._connection)
            if kind is None:
                raise
            if kind in outage.CONNECTION_BROKEN:
                _discard(adapter._connection, connection, error)
            raise outage.DatabaseUnavailable(kind) from error
    return DriverConnection(adapter._connection, connection)


async def driver_connection(session: AsyncSession) -> DriverConnection:
    """The asyncpg connection of `session`'s transaction, begun in its tenant."""
    begun: DriverConnection = await greenlet_spawn(_begun, session.sync_session)
    return begun
