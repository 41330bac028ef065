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
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import KeyedColumnElement

from ledgerline.problems import Problem

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
        if not isinstance(last_id, str) or not isinstance(value, str | None):
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
            if isinstance(value, Decimal) and (not value.is_finite() or value.adjusted() > 20):
                raise _invalid_cursor()
        return value, UUID(last_id)
    except (ValueError, TypeError, InvalidOperation, UnicodeDecodeError) as error:
        raise _invalid_cursor() from error


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


async def _sorted_rows(
    session: AsyncSession,
    statement: Select[Any],
    id_column: InstrumentedAttribute[UUID],
    sort: SortKey,
    cursor: str | None,
    wanted: int,
) -> list[Any]:
    """Up to `wanted` rows after the cursor in the order (key, id), NULL keys last.

    Rows with a key and rows without are read apart, each with a condition an index on
    (tenant_id, key, id) serves directly: the row value `(key, id) > (:key, :id)`, read
    backwards for a descending order. NULL keys follow once the keyed rows run out.
    """
    column, descending = sort.column, sort.descending
    value, last_id = _decode_sorted(cursor, sort) if cursor is not None else (None, None)
    rows: list[Any] = []
    if cursor is None or value is not None:
        keyed = statement.where(column.is_not(None))
        if value is not None:
            position = tuple_(column, id_column)
            bound = tuple_(literal(value, column.type), literal(last_id, id_column.type))
            keyed = keyed.where(position < bound if descending else position > bound)
        order = (column.desc(), id_column.desc()) if descending else (column, id_column)
        rows = list((await session.scalars(keyed.order_by(*order).limit(wanted))).all())
    if len(rows) < wanted:
        unkeyed = statement.where(column.is_(None))
        if value is None and last_id is not None:
            unkeyed = unkeyed.where(id_column < last_id if descending else id_column > last_id)
        order_id = id_column.desc() if descending else id_column.asc()
        rows += (await session.scalars(unkeyed.order_by(order_id).limit(wanted - len(rows)))).all()
    return rows


async def keyset_page(
    session: AsyncSession,
    statement: Select[Any],
    id_column: InstrumentedAttribute[UUID] | KeyedColumnElement[UUID],
    page: PageRequest,
    sort: SortKey | None = None,
    *,
    whole_rows: bool = False,
) -> tuple[Sequence[Any], str | None]:
    """One page of `statement` (newest first, or by `sort`) and the next page's cursor.
    A page holds the statement's first column (an entity), or with `whole_rows` its rows
    (a statement over a union, say, whose `id_column` names each row)."""
    if sort is None:
        if page.cursor is not None:
            raw = _unpad(page.cursor)
            if len(raw) != 16:
                raise _invalid_cursor()
            statement = statement.where(id_column < UUID(bytes=raw))
        statement = statement.order_by(id_column.desc()).limit(page.limit + 1)
        rows: Sequence[Any] = (
            (await session.execute(statement)).all()
            if whole_rows
            else (await session.scalars(statement)).all()
        )
    else:
        assert isinstance(id_column, InstrumentedAttribute)
        assert not whole_rows
        rows = await _sorted_rows(session, statement, id_column, sort, page.cursor, page.limit + 1)
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
        sort: str | None = Query(
            default,
            description="The order: a key, prefixed with `-` for descending.",
            json_schema_extra={"enum": names},
        ),
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
