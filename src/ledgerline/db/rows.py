"""Reading one row by id for a change: locked when asked, 404 when absent.

Under row-level security another tenant's row is absent too, so a foreign id and a
missing one answer alike.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.problems import Problem

RowT = TypeVar("RowT")


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
