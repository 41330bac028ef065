"""How long the service waits on PostgreSQL, and the one way a named long job waits longer.

- connect: asyncpg's connect `timeout`, and the bound on BEGIN, the first round trip of
  every transaction: a pooled connection to a frozen server fails as soon as a new one.
- pool: how long a request waits for a free connection (SQLAlchemy's `pool_timeout`).
- statement: PostgreSQL's `statement_timeout`, sent once at connect (no round trip per
  transaction); asyncpg's `command_timeout` a second above it is the backstop for a
  server that does not answer at all. Behind a transaction pooler
  (DATABASE_TRANSACTION_POOLER) a connection's startup parameters reach whichever server
  connection PgBouncer opened, or none (it refuses unknown ones), so there the timeout
  is appended to every BEGIN as `SET LOCAL`, in the same message.
- long statement: `allow_long_statements(session)` raises both for the rest of one
  transaction of a named long job (CSV exports and imports).

Lock waits count against the statement timeout; there is no separate `lock_timeout`
(README: "Operations").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, ClassVar, TypeVar, cast

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ledgerline.config import Settings

COMMAND_TIMEOUT_MARGIN_SECONDS = 1.0
ConnectionT = TypeVar("ConnectionT", bound="BoundedConnection")
_SET_LONG_STATEMENT_TIMEOUT = text("SELECT set_config('statement_timeout', :milliseconds, true)")


@dataclass(frozen=True)
class DatabaseTimeouts:
    connect: float
    pool: float
    statement: float
    long_statement: float
    # Set on each BEGIN (behind a transaction pooler) rather than once at connect.
    statement_on_begin: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseTimeouts:
        return cls(
            connect=settings.database_connect_timeout_seconds,
            pool=settings.database_pool_timeout_seconds,
            statement=settings.database_statement_timeout_seconds,
            long_statement=settings.database_long_statement_timeout_seconds,
            statement_on_begin=settings.database_transaction_pooler,
        )

    @cached_property
    def begin_suffix(self) -> str:
        """What every BEGIN carries after it: the statement timeout behind a pooler."""
        if not self.statement_on_begin:
            return ""
        return f" SET LOCAL statement_timeout = {_milliseconds(self.statement)};"

    @property
    def command(self) -> float:
        return self.statement + COMMAND_TIMEOUT_MARGIN_SECONDS

    @property
    def long_command(self) -> float:
        return self.long_statement + COMMAND_TIMEOUT_MARGIN_SECONDS

    def connect_args(self) -> dict[str, Any]:
        """asyncpg.connect arguments (SQLAlchemy's `connect_args`)."""
        server_settings = (
            {} if self.statement_on_begin else {"statement_timeout": _milliseconds(self.statement)}
        )
        return {
            "timeout": self.connect,
            "command_timeout": self.command,
            "server_settings": server_settings,
        }


def _milliseconds(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


class BoundedConnection(asyncpg.Connection):
    """An asyncpg connection that knows its engine's timeouts and bounds its BEGIN.

    `bounded(cls, timeouts)` makes the subclass an engine connects with.
    """

    timeouts: ClassVar[DatabaseTimeouts]

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's own signature
    ) -> str:
        if not args and query.startswith("BEGIN"):
            query += self.timeouts.begin_suffix
            if timeout is None:
                timeout = self.timeouts.connect
        result: str = await super().execute(query, *args, timeout=timeout)
        return result


@cache
def bounded(connection_class: type[ConnectionT], timeouts: DatabaseTimeouts) -> type[ConnectionT]:
    """`connection_class` with these timeouts, for asyncpg's `connection_class`."""
    subclass = type(connection_class.__name__, (connection_class,), {"timeouts": timeouts})
    return cast("type[ConnectionT]", subclass)


def _set_command_timeout(connection: asyncpg.Connection, seconds: float) -> None:
    """asyncpg reads its client-side timeout from this private tuple on every call and
    offers no public setter; replacing the tuple is all it takes."""
    config = getattr(connection, "_config")  # noqa: B009 - private, on purpose
    if config.command_timeout != seconds:
        setattr(connection, "_config", config._replace(command_timeout=seconds))  # noqa: B010


async def allow_long_statements(session: AsyncSession) -> None:
    """Let the rest of this transaction run statements up to the long-job timeout.

    For named long jobs only (exports, imports). `SET LOCAL` ends with the transaction;
    the client-side backstop returns to normal when the connection goes back to the pool.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not isinstance(driver, BoundedConnection):
        raise TypeError("allow_long_statements needs an engine made by create_engine_for")
    _set_command_timeout(driver, driver.timeouts.long_command)
    await session.execute(
        _SET_LONG_STATEMENT_TIMEOUT,
        {"milliseconds": _milliseconds(driver.timeouts.long_statement)},
    )


def _restore_command_timeout(dbapi_connection: Any, record: Any) -> None:
    driver = record.driver_connection
    if isinstance(driver, BoundedConnection):
        _set_command_timeout(driver, driver.timeouts.command)


def install(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine.pool, "checkin", _restore_command_timeout)
