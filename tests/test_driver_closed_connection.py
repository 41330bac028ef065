"""A statement sent with asyncpg itself (db/driver.py) that fails on a connection which has
closed meanwhile is an outage (503, the connection discarded), whatever asyncpg's words:
a server killed under load leaves pooled connections whose protocol still counts an
operation in progress, and their next statement fails with "another operation is in
progress". The same error on an open connection is not an outage. The real path is
`tests/test_faults.py::test_postgres_killed_under_a_write_load`, which met it now and
then; this pins the rule."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from ledgerline.db import outage
from ledgerline.db.driver import DriverConnection

IN_PROGRESS = "cannot switch to state 15; another operation (2) is in progress"


class _Driver:
    def __init__(self, closed: bool) -> None:
        self.closed = closed
        self.terminated = False

    async def fetchrow(self, query: str, *args: Any) -> None:
        raise asyncpg.InternalClientError(IN_PROGRESS)

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.terminated = True


class _Connection:
    def __init__(self) -> None:
        self.invalidated: BaseException | None = None

    def invalidate(self, error: BaseException) -> None:
        self.invalidated = error


async def test_an_error_on_a_closed_connection_is_a_lost_connection() -> None:
    driver, connection = _Driver(closed=True), _Connection()
    with pytest.raises(outage.DatabaseUnavailable) as raised:
        await DriverConnection(driver, connection).fetchrow("SELECT 1")  # type: ignore[arg-type]
    assert raised.value.kind == "connection_lost"
    assert driver.terminated
    assert isinstance(connection.invalidated, asyncpg.InternalClientError)


async def test_the_same_error_on_an_open_connection_is_not_an_outage() -> None:
    driver, connection = _Driver(closed=False), _Connection()
    with pytest.raises(asyncpg.InternalClientError):
        await DriverConnection(driver, connection).fetchrow("SELECT 1")  # type: ignore[arg-type]
    assert not driver.terminated
    assert connection.invalidated is None
