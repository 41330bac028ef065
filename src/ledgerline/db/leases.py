"""Work queues in tables: rows claimed under a lease with `FOR UPDATE SKIP LOCKED`.

The mail outbox and the invoice documents are both queues of this kind: a row is due
when its `next_attempt_at` has come; a worker claims due rows (several workers skip
each other's locked rows), marks them taken until `now + lease`, counts the attempt,
and commits before doing the work. A worker that dies leaves its claims to expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

RowT = TypeVar("RowT")


async def claim_due(
    session: AsyncSession,
    model: type[RowT],
    *,
    ready: ColumnElement[bool],
    status: tuple[str, Any],
    now: datetime,
    lease: timedelta,
    limit: int,
) -> Sequence[RowT]:
    """Claim up to `limit` rows that are `ready` and due, in the order they fell due;
    `status` is (attribute, value) marking a row taken."""
    table: Any = model
    due = (
        await session.scalars(
            select(model)
            .where(ready, table.next_attempt_at <= now)
            .order_by(table.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in due:
        claimed: Any = row
        setattr(claimed, *status)
        claimed.attempts += 1
        claimed.next_attempt_at = now + lease
    return due


def backoff(attempts: int, *, first: timedelta, cap: timedelta) -> timedelta:
    """Exponential: `first`, twice that, four times ... after each failed attempt."""
    return min(first * (1 << max(attempts - 1, 0)), cap)
