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

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db.base import new_id

DOORBELL_CHANNEL = "ledgerline_events"

# Advisory-lock namespace of the event streams ('ev' in the high bits, the tenant below).
_LOCK = text("SELECT pg_advisory_xact_lock(1702232064, hashtext(CAST(:tenant AS text)))")
_LAST_ID = text("SELECT id FROM domain_events WHERE tenant_id = :tenant ORDER BY id DESC LIMIT 1")
# The row and its doorbell; with :only_if_last, only when no event of the tenant has an id
# at or past :id (the usual case: one round trip after the lock instead of two).
_APPEND = text(
    """
    WITH appended AS (
        INSERT INTO domain_events (tenant_id, id, type, channels, permission, recipient_id,
                                   subject_type, subject_id, data)
        SELECT CAST(:tenant AS uuid), CAST(:id AS uuid), CAST(:type AS varchar),
               CAST(:channels AS varchar[]), CAST(:permission AS varchar),
               CAST(:recipient AS uuid), CAST(:subject_type AS varchar),
               CAST(:subject_id AS uuid), CAST(:data AS jsonb)
        WHERE NOT (CAST(:only_if_last AS boolean) AND EXISTS (
            SELECT FROM domain_events
            WHERE tenant_id = CAST(:tenant AS uuid) AND id >= CAST(:id AS uuid)))
        RETURNING tenant_id, id
    )
    SELECT pg_notify(:doorbell, tenant_id::text || ':' || id::text) FROM appended
    """
)


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
    await session.execute(_LOCK, {"tenant": str(tenant_id)})
    row = {
        "tenant": tenant_id,
        "type": event_type,
        "channels": list(channels),
        "permission": permission,
        "recipient": recipient_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": json.dumps(data, default=str),
        "doorbell": DOORBELL_CHANNEL,
    }
    event_id = new_id()
    appended = await session.execute(_APPEND, {**row, "id": event_id, "only_if_last": True})
    if appended.first() is None:  # another process's clock put this id behind the last
        event_id = _after(await session.scalar(_LAST_ID, {"tenant": tenant_id}))
        await session.execute(_APPEND, {**row, "id": event_id, "only_if_last": False})
    return event_id
