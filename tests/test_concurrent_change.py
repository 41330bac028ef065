"""A transaction PostgreSQL ends because of a concurrent one answers 409, not 500."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.requests import Request

from ledgerline.db.engine import Database
from tests.helpers.identity import Account

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


async def _real_deadlock(database: Database, owner: Account) -> sa_exc.DBAPIError:
    """Two transactions each holding a lock the other then asks for: PostgreSQL ends one."""
    holding = [asyncio.Event(), asyncio.Event()]

    async def locks(first: int, second: int, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(_LOCK, {"key": first})
            mine.set()
            await theirs.wait()
            await session.execute(_LOCK, {"key": second})

    results = await asyncio.gather(
        locks(7001, 7002, holding[0], holding[1]),
        locks(7002, 7001, holding[1], holding[0]),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, sa_exc.DBAPIError)]
    assert len(errors) == 1, results
    return errors[0]


async def test_a_deadlock_is_409_concurrent_change(
    app: FastAPI, database: Database, owner: Account
) -> None:
    error = await _real_deadlock(database, owner)
    handler = app.exception_handlers[sa_exc.DBAPIError]
    response = await handler(Request({"type": "http", "headers": []}), error)  # type: ignore[arg-type]
    assert response.status_code == 409
    assert json.loads(bytes(response.body))["code"] == "concurrent_change"


async def test_other_database_errors_stay_500(app: FastAPI) -> None:
    handler = app.exception_handlers[sa_exc.DBAPIError]
    error = sa_exc.DBAPIError("SELECT 1", {}, Exception("boom"))
    with pytest.raises(sa_exc.DBAPIError):
        await handler(Request({"type": "http", "headers": []}), error)  # type: ignore[arg-type]
