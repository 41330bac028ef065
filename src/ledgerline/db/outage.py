"""When the database cannot answer: one exception, one rule for what counts, one log line.

Refused or lost connections, a connect or pool timeout, a server that does not answer
in time, a statement PostgreSQL cancelled (statement_timeout), a server shutting down or
starting up: each becomes `DatabaseUnavailable` with a `kind`, which the API answers with
503 (errors.py). The engines' hooks (`install`) do the converting, because only there is
it certain that a bare `OSError` or `TimeoutError` came from the database. A connection
that failed that way is thrown away at once, without a goodbye to a server that may be
frozen. The log gets one line per kind per interval, not a traceback per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

LOG_INTERVAL_SECONDS = 10.0

# SQLSTATEs that mean "not now" rather than "not this": class 08 (connection exception)
# is matched as a class below.
_KIND_BY_SQLSTATE = {
    "57014": "statement_cancelled",  # query_canceled: statement_timeout or a cancel request
    "57P01": "server_shutdown",  # admin_shutdown
    "57P02": "server_shutdown",  # crash_shutdown
    "57P03": "server_starting",  # cannot_connect_now
    "53300": "too_many_connections",
}
# Kinds after which the connection is in an unknown state or gone: it is not reused.
CONNECTION_BROKEN = frozenset({"no_answer", "connection_lost", "server_shutdown"})


class DatabaseUnavailable(Exception):
    """The database cannot serve this now; the same request may work a little later."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"the database is unavailable ({kind})")
        self.kind = kind


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and the driver errors it wraps (SQLAlchemy's `orig`, the driver
    adapter's `__cause__`, then asyncpg's)."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__


def driver_kind(error: BaseException) -> str | None:
    """The kind of outage a driver error shows; only for errors known to come from it."""
    for cause in _causes(error):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str):
            if sqlstate in _KIND_BY_SQLSTATE:
                return _KIND_BY_SQLSTATE[sqlstate]
            if sqlstate.startswith("08"):
                return "connection_lost"
        if isinstance(cause, TimeoutError):
            return "no_answer"
        if isinstance(cause, ConnectionError):
            return "connection_lost"
        if isinstance(cause, asyncpg.InterfaceError) and "connection is closed" in str(cause):
            return "connection_lost"  # asyncpg's words for a connection already gone
    return None


def outage_kind(error: BaseException) -> str | None:
    """The kind of outage `error` (or an error it was raised from) shows, else None."""
    link: BaseException | None = error
    while link is not None:
        if isinstance(link, DatabaseUnavailable):
            return link.kind
        if isinstance(link, sa_exc.TimeoutError):  # QueuePool: no free connection in time
            return "pool_timeout"
        link = link.__cause__
    return None


class OutageLog:
    """One warning per outage kind per interval, counting the failures it stands for."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._unlogged: dict[str, int] = {}

    def report(self, kind: str, error: BaseException) -> None:
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._unlogged[kind] = self._unlogged.get(kind, 0) + 1
            return
        self._last[kind] = now
        while error.__cause__ is not None:  # the driver's own words, not our wrapper's
            error = error.__cause__
        logger.warning(
            "database unavailable",
            extra={
                "kind": kind,
                "error": f"{type(error).__name__}: {error}"[:300],
                "failures_since_last_line": self._unlogged.pop(kind, 0),
            },
        )


outage_log = OutageLog()  # per process, shared by requests and background workers


def report(kind: str, error: BaseException) -> None:
    outage_log.report(kind, error)


def log_failure(log: logging.Logger, message: str, error: BaseException) -> None:
    """An outage as one line per kind per interval; anything else with its traceback."""
    kind = outage_kind(error)
    if kind is not None:
        report(kind, error)
    else:
        log.error(message, exc_info=error)


def _terminate(context: ExceptionContext) -> None:
    """Close the failed connection at once: a polite close would wait for a frozen
    server's answer. SQLAlchemy then discards it instead of rolling back on it."""
    connection = context.connection
    if connection is None or connection.closed or connection.invalidated:
        return
    driver = connection.connection.driver_connection
    if driver is not None:
        driver.terminate()


def _on_error(context: ExceptionContext) -> BaseException | None:
    """Engine hook: a driver error that shows an outage becomes `DatabaseUnavailable`."""
    original = context.original_exception
    cancelled = isinstance(original, asyncio.CancelledError)
    kind = driver_kind(original)
    if kind is None and context.is_disconnect and not cancelled:
        kind = "connection_lost"
    if cancelled or kind in CONNECTION_BROKEN:
        _terminate(context)
        context.is_disconnect = True
    return None if kind is None else DatabaseUnavailable(kind)


def _connect(dialect: Dialect, _: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
    """Engine hook: asyncpg raises a refused connection, a missing socket or a connect
    timeout as a bare `OSError`; as `DatabaseUnavailable` it cannot be mistaken."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:
        kind = "connect_timeout" if isinstance(error, TimeoutError) else "connect_refused"
        raise DatabaseUnavailable(kind) from error


def install(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "handle_error", _on_error)
    event.listen(engine.sync_engine, "do_connect", _connect)
