"""The one event writer: `emit(session, tenant_id, ...)` in the transaction of the change.

The row and its doorbell commit or roll back with the change: PostgreSQL delivers a
`NOTIFY` sent inside a transaction only when that transaction commits, so an event of a
rolled-back change never exists and never rings. The doorbell carries only
`tenant:event id`; listeners read the rows themselves (events/hub.py).

Ids are in commit order per tenant, which is what makes "everything after id X" a
complete resume: `emit` first takes a transaction-level advisory lock on the tenant's
event stream, so a second transaction emitting in the same tenant waits until the first
commits or rolls back, and its id is then made greater than every committed one. A
service calls `emit` as its last write, so the lock is held only for the commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db import driver
from ledgerline.db.base import new_id

DOORBELL_CHANNEL = "ledgerline_events"

# Sent with asyncpg itself (db/driver.py): every change of the busy paths ends with them.
# Advisory-lock namespace of the event streams ('ev' in the high bits, the tenant below).
_LOCK = "SELECT pg_advisory_xact_lock(1702232064, hashtext($1::text))"
_LAST_ID = "SELECT id FROM domain_events WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1"
# The row and its doorbell; with $10 (only if last), only when no event of the tenant has
# an id at or past $2 (the usual case: one round trip after the lock instead of two).
_APPEND = """
WITH appended AS (
    INSERT INTO domain_events (tenant_id, id, type, channels, permission, recipient_id,
                               subject_type, subject_id, data)
    SELECT $1::uuid, $2::uuid, $3::varchar, $4::varchar[], $5::varchar, $6::uuid,
           $7::varchar, $8::uuid, $9::jsonb
    WHERE NOT ($10::boolean AND EXISTS (
        SELECT FROM domain_events WHERE tenant_id = $1::uuid AND id >= $2::uuid))
    RETURNING tenant_id, id
)
SELECT pg_notify($11, tenant_id::text || ':' || id::text) FROM appended
"""


def _after(last: UUID | None) -> UUID:
    """A fresh UUIDv7, moved past `last` when another process's clock put it behind."""
    candidate = new_id()
    if last is None or candidate > last:
        return candidate
    return UUID(int=last.int + 1)


async def emit(
    session: AsyncSession,
    tenant_id: UUID,
    event_type: str,
    *,
    subject_type: str,
    subject_id: UUID,
    channels: Sequence[str],
    permission: str,
    data: Mapping[str, Any],
    recipient_id: UUID | None = None,
) -> UUID:
    """Append one event (delivered on `channels` to subscribers holding `permission`;
    with `recipient_id`, to that user only) and ring the doorbell at commit."""
    await session.flush()  # the change's own writes go first: the event is the last
    connection = await driver.driver_connection(session)
    await connection.execute(_LOCK, str(tenant_id))
    row = (
        event_type,
        list(channels),
        permission,
        recipient_id,
        subject_type,
        subject_id,
        json.dumps(data, default=str),
    )
    event_id = new_id()
    appended = await connection.fetchrow(_APPEND, tenant_id, event_id, *row, True, DOORBELL_CHANNEL)
    if appended is None:  # another process's clock put this id behind the last
        last = await connection.fetchrow(_LAST_ID, tenant_id)
        event_id = _after(None if last is None else last["id"])
        await connection.fetchrow(_APPEND, tenant_id, event_id, *row, False, DOORBELL_CHANNEL)
    return event_id
