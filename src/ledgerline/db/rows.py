"""Reading one row by id: for a change (locked when asked) or straight into a response;
404 when absent.

Under row-level security another tenant's row is absent too, so a foreign id and a
missing one answer alike. A change of a versioned row takes it with `locked_at_version`:
the row lock first, then the caller's If-Match, so a 404 comes before a 428 or 412, and
of two changes sent with the same ETag exactly one happens.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db import driver
from ledgerline.db.base import Versioned
from ledgerline.etags import check_if_match
from ledgerline.problems import Problem

RowT = TypeVar("RowT")
VersionedT = TypeVar("VersionedT", bound=Versioned)


def not_found(what: str) -> Problem:
    """404 `<what>_not_found`: "No such <what>." (underscores read as spaces)."""
    return Problem(404, f"{what}_not_found", f"No such {what.replace('_', ' ')}.")


async def row_by_id(
    session: AsyncSession, model: type[RowT], row_id: UUID, *, what: str, for_update: bool = False
) -> RowT:
    """The `model` row with `row_id`, with `FOR UPDATE` when `for_update`; else 404."""
    identity: Any = model
    statement = select(model).where(identity.id == row_id)
    if for_update:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        raise not_found(what)
    return row


async def record_by_id(
    session: AsyncSession, statement: str, row_id: UUID, *, what: str
) -> asyncpg.Record:
    """The row `statement` reads with `row_id` as $1, sent with asyncpg itself in the
    session's transaction (db/driver.py: for reads that go straight to a response);
    else 404."""
    connection = await driver.driver_connection(session)
    row = await connection.fetchrow(statement, row_id)
    if row is None:
        raise not_found(what)
    return row


async def locked_at_version(
    session: AsyncSession,
    model: type[VersionedT],
    row_id: UUID,
    if_match: str | None,
    *,
    what: str,
) -> VersionedT:
    """The `model` row with `row_id`, locked (`FOR UPDATE`), at the version the caller
    read: 404 when absent, then 428 without If-Match and 412 when it is stale."""
    row = await row_by_id(session, model, row_id, what=what, for_update=True)
    check_if_match(if_match, row.version)
    return row
