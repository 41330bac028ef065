"""Which failures of a live stream's periodic re-read of its caller keep the stream
(`events/live.failed_reread`): database outages and connections the driver found
unusable, as SQLAlchemy raises them; never an error of ours."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

from ledgerline.db.outage import DatabaseUnavailable
from ledgerline.events.live import failed_reread


def _as_sqlalchemy_raises(driver_error: Exception) -> sa_exc.DBAPIError:
    wrapped = sa_exc.DBAPIError("BEGIN", None, driver_error)
    wrapped.__cause__ = driver_error
    return wrapped


def test_outages_and_unusable_connections_keep_the_stream() -> None:
    mid_operation = asyncpg.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"
    )
    assert failed_reread(_as_sqlalchemy_raises(mid_operation))
    closed = asyncpg.InterfaceError("connection is closed")
    assert failed_reread(_as_sqlalchemy_raises(closed))
    assert failed_reread(DatabaseUnavailable("connection_lost"))
    assert failed_reread(sa_exc.TimeoutError("QueuePool limit reached"))


def test_other_failures_end_it() -> None:
    assert not failed_reread(ValueError("a bug of ours"))
    assert not failed_reread(_as_sqlalchemy_raises(asyncpg.UndefinedColumnError("no such")))
