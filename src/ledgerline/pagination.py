"""Keyset pagination: `?limit=&cursor=` in, `items` and `next_cursor` out.

Lists are ordered by their UUIDv7 id (time-ordered and unique), newest first, so a page
is `WHERE id < :last ORDER BY id DESC LIMIT :n`: stable under inserts, no OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ledgerline.errors import Problem

ItemT = TypeVar("ItemT")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


class PageRequest(BaseModel):
    limit: int
    after: UUID | None


def contains(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _decode_cursor(cursor: str) -> UUID:
    try:
        return UUID(bytes=base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as error:
        raise Problem(400, "invalid_cursor", "The cursor is not one this API issued.") from error


def _encode_cursor(last: UUID) -> str:
    return base64.urlsafe_b64encode(last.bytes).rstrip(b"=").decode()


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=_decode_cursor(cursor) if cursor else None)


async def keyset_page(
    session: AsyncSession,
    statement: Select[Any],
    id_column: InstrumentedAttribute[UUID],
    page: PageRequest,
) -> tuple[Sequence[Any], str | None]:
    """One page of `statement` (newest first) and the cursor of the next, if any."""
    if page.after is not None:
        statement = statement.where(id_column < page.after)
    rows = (await session.scalars(statement.order_by(id_column.desc()).limit(page.limit + 1))).all()
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, _encode_cursor(getattr(rows[-1], id_column.key))
