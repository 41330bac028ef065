"""Keyset pagination: `?limit=&cursor=` in, `items` and `next_cursor` out.

Lists are ordered by their UUIDv7 id (time-ordered and unique), newest first, so a page
is `WHERE id < :last ORDER BY id DESC LIMIT :n`: stable under inserts, no OFFSET.

A list may offer other orders (`SortKey`): a page is then ordered by (key, id) and
continues after the last row's (key, id); rows whose key is NULL come last in either
direction. The cursor carries the order it was made for; another order refuses it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, or_
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
    cursor: str | None


@dataclass(frozen=True, slots=True)
class SortKey:
    """An order a list offers: `name` (or `-name`, descending) in `?sort=`."""

    name: str
    column: InstrumentedAttribute[Any]
    descending: bool = False


def contains(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _invalid_cursor() -> Problem:
    return Problem(400, "invalid_cursor", "The cursor is not one this API issued for this list.")


def _unpad(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error) as error:
        raise _invalid_cursor() from error


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_sorted(cursor: str, sort: SortKey) -> tuple[Any, UUID]:
    try:
        name, value, last_id = json.loads(_unpad(cursor))
        if name != f"{'-' if sort.descending else ''}{sort.name}":
            raise _invalid_cursor()
        python_type = sort.column.type.python_type
        if value is not None:
            value = (
                date.fromisoformat(value)
                if python_type is date
                else Decimal(value)
                if python_type is Decimal
                else python_type(value)
            )
        return value, UUID(last_id)
    except (ValueError, TypeError, InvalidOperation, UnicodeDecodeError) as error:
        raise _invalid_cursor() from error


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


def _after(sort: SortKey, id_column: Any, value: Any, last_id: UUID) -> ColumnElement[bool]:
    """Rows after (value, last_id) in the order (key NULLS LAST, id)."""
    column = sort.column
    if value is None:
        return and_(
            column.is_(None), id_column > last_id if not sort.descending else id_column < last_id
        )
    beyond = column > value if not sort.descending else column < value
    tie = id_column > last_id if not sort.descending else id_column < last_id
    return or_(beyond, and_(column == value, tie), column.is_(None))


async def keyset_page(
    session: AsyncSession,
    statement: Select[Any],
    id_column: InstrumentedAttribute[UUID],
    page: PageRequest,
    sort: SortKey | None = None,
) -> tuple[Sequence[Any], str | None]:
    """One page of `statement` (newest first, or by `sort`) and the next page's cursor."""
    if sort is None:
        if page.cursor is not None:
            raw = _unpad(page.cursor)
            if len(raw) != 16:
                raise _invalid_cursor()
            statement = statement.where(id_column < UUID(bytes=raw))
        statement = statement.order_by(id_column.desc())
    else:
        if page.cursor is not None:
            statement = statement.where(_after(sort, id_column, *_decode_sorted(page.cursor, sort)))
        direction = sort.column.desc() if sort.descending else sort.column.asc()
        statement = statement.order_by(
            direction.nulls_last(), id_column.desc() if sort.descending else id_column.asc()
        )
    rows = (await session.scalars(statement.limit(page.limit + 1))).all()
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    if sort is None:
        return rows, _encode(getattr(last, id_column.key).bytes)
    value = getattr(last, sort.column.key)
    token = [
        f"{'-' if sort.descending else ''}{sort.name}",
        None if value is None else str(value),
        str(getattr(last, id_column.key)),
    ]
    return rows, _encode(json.dumps(token, separators=(",", ":")).encode())


def sort_query(keys: dict[str, InstrumentedAttribute[Any]], default: str | None = None) -> Any:
    """A `?sort=` dependency choosing one of `keys` (prefix `-` for descending)."""
    names = sorted(keys) + sorted(f"-{name}" for name in keys)

    def sort_key(
        sort: str | None = Query(default, description=f"one of: {', '.join(names)}"),
    ) -> SortKey | None:
        if sort is None:
            return None
        name = sort.removeprefix("-")
        if name not in keys:
            raise Problem(
                422, "invalid_sort", f"Cannot sort by {sort!r}.", extra={"allowed": names}
            )
        return SortKey(name, keys[name], descending=sort.startswith("-"))

    return sort_key
