"""One live stream (a WebSocket or an SSE response), whatever carries it.

A `LiveSession` subscribes to channels (each checked against the caller and the tenant),
replays what a resuming client missed, then sends what the hub queues for it, with a
heartbeat when nothing happens. Beside it runs the guard: the access token's expiry ends
the stream, and the caller is re-read every few seconds (a revoked session, a
deactivated user or a revoked key ends it; a changed role changes what it receives).
A stream ends by raising `StreamEnded` with the close code the README documents; a
database outage while the stream needs an answer from it (authentication, a subscription,
a resume) ends it with 1013 (try again later), so that the client reconnects and resumes,
while one during the periodic re-read keeps it: the caller is read again next time.
The streams of one credential in a process share their re-reads (`SharedRereads`): a
thousand sockets of one token cost one read per interval, not a thousand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from time import monotonic
from typing import Any, Generic, TypeVar
from uuid import UUID

import asyncpg

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.outage import outage_kind
from ledgerline.events import channels as channel_rules
from ledgerline.events.hub import DRAIN_GRACE_SECONDS, Event, Hub, Subscriber, replay

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_TRY_AGAIN = 1013  # RFC 6455's "try again later": the database is unavailable
CLOSE_INTERNAL_ERROR = 1011  # RFC 6455's "internal error": a failure of ours, logged
MAX_CHANNELS = 100

Send = Callable[[dict[str, Any]], Awaitable[None]]
# Re-reads the caller: returns its permissions now, or raises `StreamEnded`.
Recheck = Callable[[], Awaitable[frozenset[str]]]


T = TypeVar("T")


class SharedRereads(Generic[T]):
    """One re-read per key at a time, and its answer (or its error) shared with every
    caller of that key for `fresh_seconds` after it started.

    The key is a stream's tenant and credential, so what a stream learns is never older
    than its own re-read interval plus `fresh_seconds`: a revoked session still ends every
    socket of it within seconds. A read that fails is shared too, so all its sockets end
    (or stay, on an outage) together."""

    def __init__(self, fresh_seconds: float) -> None:
        self._fresh_seconds = fresh_seconds
        self._reads: dict[Hashable, tuple[float, asyncio.Future[T]]] = {}
        self._swept_at = monotonic()

    async def read(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        now = monotonic()
        recent = self._reads.get(key)
        if recent is None or now - recent[0] >= self._fresh_seconds:
            self._forget_stale(now)
            recent = (now, asyncio.ensure_future(read()))
            recent[1].add_done_callback(_retrieve_exception)
            self._reads[key] = recent
        # Shielded: one stream closing while it waits does not cancel the others' read.
        return await asyncio.shield(recent[1])

    def _forget_stale(self, now: float) -> None:
        """Drop finished reads past their freshness, sweeping at most once per
        `fresh_seconds`: with a thousand credentials, not a scan per re-read."""
        if now - self._swept_at < self._fresh_seconds:
            return
        self._swept_at = now
        stale = [
            key
            for key, (started, future) in self._reads.items()
            if future.done() and now - started >= self._fresh_seconds
        ]
        for key in stale:
            del self._reads[key]


def _retrieve_exception(future: asyncio.Future[Any]) -> None:
    """A shared read whose waiters have all gone leaves no "never retrieved" warning."""
    if not future.cancelled():
        future.exception()


class StreamEnded(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@contextmanager
def outage_ends_stream() -> Iterator[None]:
    """A database outage (`DatabaseUnavailable`, a pool timeout) inside becomes
    `StreamEnded(1013)`: the stream closes with a code instead of dying without one."""
    try:
        yield
    except Exception as error:
        kind = outage_kind(error)
        if kind is None:
            raise
        raise StreamEnded(CLOSE_TRY_AGAIN, f"database_unavailable: {kind}") from error


def failed_reread(error: BaseException) -> bool:
    """A periodic re-read of the caller that failed in the database: an outage, a pool
    timeout, or a connection the driver found unusable (a restart can leave one in the
    middle of an operation). The stream goes on; the caller is read again next time."""
    if outage_kind(error) is not None:
        return True
    link: BaseException | None = error
    while link is not None:
        if isinstance(link, (asyncpg.InternalClientError, asyncpg.InterfaceError)):
            return True
        link = getattr(link, "orig", None) or link.__cause__
    return False


class LiveSession:
    def __init__(
        self,
        hub: Hub,
        database: Database,
        settings: Settings,
        *,
        tenant_id: UUID,
        caller_id: UUID,
        permissions: frozenset[str],
        expires_at: datetime | None,
        recheck: Recheck,
    ) -> None:
        self._hub = hub
        self._database = database
        self._settings = settings
        self._expires_at = expires_at
        self._recheck = recheck
        self._sending = asyncio.Lock()
        self._registered = False
        self.subscriber = Subscriber(tenant_id, caller_id, permissions, settings.events_queue_size)

    async def subscribe(self, channels: Sequence[object]) -> dict[str, Any]:
        """Add the channels the caller may read; an error frame names the others."""
        if len(channels) > MAX_CHANNELS:
            return error_frame("too_many_channels", f"At most {MAX_CHANNELS} channels.")
        refused: dict[str, str] = {}
        accepted: list[str] = []
        with outage_ends_stream():
            for channel in channels:
                name = channel if isinstance(channel, str) else repr(channel)
                problem = await channel_rules.refusal(
                    self._database, self.subscriber.tenant_id, self.subscriber.permissions, channel
                )
                if problem is None:
                    accepted.append(name)
                else:
                    refused[name[:100]] = problem
            self.subscriber.channels.update(accepted)
            if not self._registered and accepted:
                await self._hub.add(self.subscriber)
                self._registered = True
        if refused:
            return error_frame("channel_refused", "Some channels were refused.", refused)
        return {"type": "subscribed", "channels": sorted(self.subscriber.channels)}

    async def resume(self, last_event_id: object, send: Send) -> None:
        """Send the events after `last_event_id` the caller would have received."""
        if self.subscriber.last_sent is not None:
            await send(error_frame("resume_too_late", "Resume before any event is sent."))
            return
        try:
            after = UUID(str(last_event_id))
        except ValueError:
            await send(error_frame("invalid_event_id", "last_event_id must be an event id."))
            return
        async with self._sending:
            with outage_ends_stream():
                async for event in replay(self._database, self.subscriber.tenant_id, after):
                    if self.subscriber.wants(event) and self.subscriber.fresh(event):
                        await send(event.message())
            if self.subscriber.last_sent is None:
                self.subscriber.last_sent = after

    async def pump(self, send: Send) -> None:
        """Send what the hub offers, a heartbeat when nothing comes; a subscriber that
        fell behind is ended."""
        subscriber = self.subscriber
        while True:
            if subscriber.dropped.is_set():
                raise StreamEnded(CLOSE_TOO_SLOW, "too slow: events were not read in time")
            event: Event | None
            try:
                event = await asyncio.wait_for(
                    subscriber.take(), self._settings.events_heartbeat_seconds
                )
            except TimeoutError:
                event = None
            async with self._sending:
                if event is None:
                    await send({"type": "heartbeat"})
                elif subscriber.wants(event) and subscriber.fresh(event):
                    await send(event.message())

    async def watch(self) -> None:
        """End a stream that stays past its queue size for the grace (or that the hub
        dropped), even while its writer is stuck sending."""
        subscriber = self.subscriber
        loop = asyncio.get_running_loop()
        while not subscriber.dropped.is_set():
            await subscriber.over.wait()
            since = subscriber.over_since
            if since is not None:
                await asyncio.sleep(max(0.0, since + DRAIN_GRACE_SECONDS - loop.time()))
            if subscriber.behind(loop.time()):
                subscriber.drop()
        raise StreamEnded(CLOSE_TOO_SLOW, "too slow: events were not read in time")

    async def guard(self) -> None:
        """End the stream at the token's expiry, or when the caller no longer holds."""
        interval = self._settings.events_liveness_seconds
        while True:
            wait = interval
            if self._expires_at is not None:
                left = (self._expires_at - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    raise StreamEnded(CLOSE_UNAUTHENTICATED, "the access token expired")
                wait = min(wait, left)
            await asyncio.sleep(wait)
            if self._expires_at is None or self._expires_at > datetime.now(UTC):
                self.subscriber.permissions = await self._recheck()

    def close(self) -> None:
        if self._registered:
            self._hub.remove(self.subscriber)


def error_frame(code: str, detail: str, channels: dict[str, str] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
    if channels is not None:
        frame["channels"] = channels
    return frame
