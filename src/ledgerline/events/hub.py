"""One LISTEN connection per process, fanning committed events out to its subscribers.

The doorbell (`NOTIFY ledgerline_events, 'tenant:id'`) only says that a tenant has new
events; the hub then reads every event of that tenant after the last one it delivered,
in id order, under the tenant's row-level security. A lost doorbell therefore loses
nothing: after the listening connection is re-established (with backoff, e.g. across a
PostgreSQL restart) every tenant with subscribers is read again from its last id.

Each subscriber has a queue of `EVENTS_QUEUE_SIZE` events it may leave unread. A burst
(one commit of many events, read in batches of READ_BATCH) may take a subscriber past
that for a moment; one that stays past it for DRAIN_GRACE_SECONDS has fallen behind and
is dropped, one that reads it down in time is not. Before reading a burst's next batch
the hub waits for every subscriber to be back within its size, at most until the slowest
one's grace runs out and it is dropped: a reader that does not keep up delays the others
once, by at most the grace, and no subscriber ever holds more than its size plus one
batch. Whether an event is sent to a subscriber is decided per event, against the
subscriber's channels and its permissions as they are now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.events.outbox import DOORBELL_CHANNEL

log = logging.getLogger(__name__)

READ_BATCH = 200
DRAIN_GRACE_SECONDS = 0.5
DRAIN_POLL_SECONDS = 0.005
_LAST = text("SELECT id FROM domain_events WHERE tenant_id = :tenant ORDER BY id DESC LIMIT 1")
_AFTER = text(
    "SELECT id, type, channels, permission, recipient_id, subject_type, subject_id, data,"
    " occurred_at FROM domain_events WHERE tenant_id = :tenant AND id > :after"
    " ORDER BY id LIMIT :limit"
)
_FIRST = text(
    "SELECT id, type, channels, permission, recipient_id, subject_type, subject_id, data,"
    " occurred_at FROM domain_events WHERE tenant_id = :tenant ORDER BY id LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class Event:
    id: UUID
    type: str
    channels: tuple[str, ...]
    permission: str
    recipient_id: UUID | None
    subject_type: str
    subject_id: UUID
    data: dict[str, Any]
    occurred_at: datetime

    def message(self) -> dict[str, Any]:
        """What a client receives (WebSocket frame, SSE data)."""
        return {
            "type": "event",
            "id": str(self.id),
            "event": self.type,
            "channels": list(self.channels),
            "subject": {"type": self.subject_type, "id": str(self.subject_id)},
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }


@dataclass(eq=False)
class Subscriber:
    """One live connection: whose, in which tenant, on which channels, and the events
    offered to it that it has not taken yet."""

    tenant_id: UUID
    caller_id: UUID
    permissions: frozenset[str]
    queue_size: int
    channels: set[str] = field(default_factory=set)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    last_sent: UUID | None = None
    # Set while more than `queue_size` events wait, since `over_since` (loop time).
    over: asyncio.Event = field(default_factory=asyncio.Event)
    over_since: float | None = None

    def __post_init__(self) -> None:
        self._waiting: deque[Event] = deque()
        self._ready = asyncio.Event()

    def wants(self, event: Event) -> bool:
        return (
            not self.channels.isdisjoint(event.channels)
            and event.permission in self.permissions
            and (event.recipient_id is None or event.recipient_id == self.caller_id)
        )

    def waiting(self) -> int:
        """Events offered and not taken yet."""
        return len(self._waiting)

    def offer(self, event: Event) -> None:
        if self.dropped.is_set() or not self.wants(event):
            return
        self._waiting.append(event)
        self._ready.set()
        if len(self._waiting) > self.queue_size and self.over_since is None:
            self.over_since = asyncio.get_running_loop().time()
            self.over.set()

    async def take(self) -> Event:
        """The oldest event not taken yet, waiting for one."""
        while not self._waiting:
            self._ready.clear()
            await self._ready.wait()
        event = self._waiting.popleft()
        if len(self._waiting) <= self.queue_size:
            self.over_since = None
            self.over.clear()
        return event

    def behind(self, now: float) -> bool:
        """Past its size for longer than the grace: it does not keep up."""
        return self.over_since is not None and now - self.over_since >= DRAIN_GRACE_SECONDS

    def drop(self) -> None:
        self.dropped.set()
        self._waiting.clear()

    def fresh(self, event: Event) -> bool:
        """Not sent yet (a replay and the live queue may both hold it); marks it sent."""
        if self.last_sent is not None and event.id <= self.last_sent:
            return False
        self.last_sent = event.id
        return True


async def read_events(database: Database, tenant_id: UUID, after: UUID | None) -> list[Event]:
    """The tenant's next events after `after` (from the oldest kept when None), in order."""
    async with database.tenant_transaction(tenant_id) as session:
        if after is None:
            result = await session.execute(_FIRST, {"tenant": tenant_id, "limit": READ_BATCH})
        else:
            result = await session.execute(
                _AFTER, {"tenant": tenant_id, "after": after, "limit": READ_BATCH}
            )
        return [
            Event(
                row.id,
                row.type,
                tuple(row.channels),
                row.permission,
                row.recipient_id,
                row.subject_type,
                row.subject_id,
                row.data,
                row.occurred_at,
            )
            for row in result
        ]


async def replay(database: Database, tenant_id: UUID, after: UUID | None) -> AsyncIterator[Event]:
    """Every kept event of the tenant after `after`, in order, batch by batch."""
    while True:
        batch = await read_events(database, tenant_id, after)
        for event in batch:
            yield event
        if len(batch) < READ_BATCH:
            return
        after = batch[-1].id


class Hub:
    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._dsn = asyncpg_dsn(settings.direct_runtime_url())
        self._subscribers: dict[UUID, set[Subscriber]] = {}
        self._cursors: dict[UUID, UUID | None] = {}
        self._dirty: set[UUID] = set()
        self._wake = asyncio.Event()
        self.listening = asyncio.Event()

    # --- subscribers --------------------------------------------------------------

    async def add(self, subscriber: Subscriber) -> None:
        tenant = subscriber.tenant_id
        if tenant not in self._cursors:
            async with self._database.tenant_transaction(tenant) as session:
                self._cursors[tenant] = await session.scalar(_LAST, {"tenant": tenant})
        self._subscribers.setdefault(tenant, set()).add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        tenant = subscriber.tenant_id
        subscribers = self._subscribers.get(tenant)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[tenant]
            self._cursors.pop(tenant, None)

    def subscriber_count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())

    # --- the doorbell -------------------------------------------------------------

    def _ring(self, tenants: Iterable[UUID]) -> None:
        self._dirty.update(tenant for tenant in tenants if tenant in self._subscribers)
        self._wake.set()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        tenant, _, _ = str(payload).partition(":")
        with contextlib.suppress(ValueError):
            self._ring([UUID(tenant)])

    async def listen_forever(self) -> None:
        """Keep one LISTEN connection, re-established with backoff when it is lost; on
        every (re)connection read every subscribed tenant again from its cursor."""
        delay = self._settings.events_reconnect_min_seconds
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=self._settings.database_connect_timeout_seconds
                )
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("event listener cannot connect: %s", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.events_reconnect_max_seconds)
                continue
            try:
                await conn.add_listener(DOORBELL_CHANNEL, self._on_notify)
                self.listening.set()
                delay = self._settings.events_reconnect_min_seconds
                self._ring(list(self._subscribers))
                while True:
                    await asyncio.sleep(self._settings.events_heartbeat_seconds / 2)
                    await conn.execute("SELECT 1", timeout=5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
                log.warning("event listener lost its connection: %s", error)
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    conn.terminate()

    async def fan_out_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                tenant = self._dirty.pop()
                try:
                    await self._deliver(tenant)
                except Exception as error:  # a database outage: read again when it rings
                    log.warning("events of a tenant could not be read: %s", error)
                    await asyncio.sleep(self._settings.events_reconnect_min_seconds)
                    self._ring([tenant])

    async def _deliver(self, tenant: UUID) -> None:
        while tenant in self._cursors:
            await self._let_drain(tenant)
            batch = await read_events(self._database, tenant, self._cursors[tenant])
            if not batch or tenant not in self._cursors:
                return
            self._cursors[tenant] = batch[-1].id
            for event in batch:
                for subscriber in list(self._subscribers.get(tenant, ())):
                    subscriber.offer(event)
            if len(batch) < READ_BATCH:
                return

    async def _let_drain(self, tenant: UUID) -> None:
        """Wait until no subscriber of the tenant holds more than its size, dropping those
        still past it when their grace runs out."""
        loop = asyncio.get_running_loop()
        while True:
            over = [
                subscriber
                for subscriber in self._subscribers.get(tenant, ())
                if subscriber.over_since is not None and not subscriber.dropped.is_set()
            ]
            if not over:
                return
            now = loop.time()
            for subscriber in over:
                if subscriber.behind(now):
                    subscriber.drop()
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.listen_forever())
            group.create_task(self.fan_out_forever())


# One batch per statement, so a large backlog never holds one long transaction.
PRUNE_BATCH = 10_000
_PRUNE = text(
    "DELETE FROM domain_events WHERE (tenant_id, id) IN"
    " (SELECT tenant_id, id FROM domain_events WHERE id < :cutoff LIMIT :batch)"
)


def first_id_at(moment: datetime) -> UUID:
    """The smallest UUIDv7 of `moment`'s millisecond: every older event's id is below it."""
    return UUID(int=(int(moment.timestamp() * 1000) << 80) | (7 << 76) | (2 << 62))


async def prune_old_events(settings: Settings, database: Database) -> int:
    """Delete up to PRUNE_BATCH events older than the retention (platform role: every
    tenant); return how many. A scheduled job of worker.py's `BackgroundJobs`."""
    cutoff = first_id_at(datetime.now(UTC) - timedelta(days=settings.events_retention_days))
    async with database.platform_sessions() as session, session.begin():
        result = await session.execute(_PRUNE, {"cutoff": cutoff, "batch": PRUNE_BATCH})
    deleted: int = result.rowcount  # type: ignore[attr-defined]
    return deleted
