"""Live sockets under bursts and database outages, against a real one-worker
`ledgerline serve` with a small queue (16 events), a small pool (2, no overflow) and short
timeouts: one commit of more events than the queue holds reaches a reader that keeps up
whole while a reader that never reads is dropped; a frozen PostgreSQL never ends a
subscribed socket without a close frame (its periodic re-read of the caller fails and is
tried again), and authentication or a subscription that needs the database while it is
frozen closes 1013."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from uuid import UUID

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from ledgerline.db.base import new_id
from tests.helpers.identity import Account, signup
from tests.helpers.invoices import invoice, vendor
from tests.helpers.service_process import ServiceProcess
from tests.test_live_events import receive, subscribed, ws_url
from tests.test_live_threads import _never_reading_socket, _read_until_dropped

QUEUE_SIZE = 16
SETTINGS = {
    "EVENTS_QUEUE_SIZE": str(QUEUE_SIZE),
    "EVENTS_LIVENESS_SECONDS": "0.2",
    "DATABASE_POOL_SIZE": "2",
    "DATABASE_MAX_OVERFLOW": "0",
    "DATABASE_POOL_TIMEOUT_SECONDS": "0.5",
    "DATABASE_CONNECT_TIMEOUT_SECONDS": "1",
    "DATABASE_STATEMENT_TIMEOUT_SECONDS": "2",
    "DATABASE_LONG_STATEMENT_TIMEOUT_SECONDS": "2",
}
FROZEN_SECONDS = 2.5  # past the pool timeout: re-reads wait for a connection and give up
TRY_AGAIN = 1013


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(
        tmp_path_factory.mktemp("live-resilience") / "serve.log", 1, **SETTINGS
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http(service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
        yield client


async def committed_burst(
    service: ServiceProcess, who: Account, count: int, body: str
) -> list[UUID]:
    """`count` comment events in ONE transaction with its doorbell, as the outbox writes
    them; their ids in order."""
    ids = [new_id() for _ in range(count)]
    conn = await service.postgres.connect()
    try:
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO domain_events (tenant_id, id, type, channels, permission,"
                " subject_type, subject_id, data) VALUES ($1, $2, 'comment.created',"
                " '{comments}', 'comments:read', 'comment', $2, $3::jsonb)",
                [(who.tenant_id, event_id, json.dumps({"body": body})) for event_id in ids],
            )
            await conn.execute(
                "SELECT pg_notify('ledgerline_events', $1)", f"{who.tenant_id}:{ids[-1]}"
            )
    finally:
        await conn.close()
    return ids


async def test_one_commit_larger_than_the_queue_reaches_a_fast_reader_whole(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "burst")
    fast = await subscribed(service, owner, ["comments"], max_size=2**20)
    slow = await asyncio.to_thread(_never_reading_socket, service, owner, ["comments"])
    await asyncio.sleep(1.0)  # the slow socket's subscription is in place

    # Three read batches of the hub (200 each) in one commit, 37 queues' worth; about
    # 10 MB, more than the never-reading socket's kernel buffers take.
    ids = await committed_burst(service, owner, 600, "x" * 16_000)

    seen = [UUID((await receive(fast))["id"]) for _ in range(len(ids))]
    assert seen == ids
    received = await _read_until_dropped(slow, within=30)
    slow.close()
    assert received.count(b'"comment.created"') < len(ids)

    # The fast reader is still subscribed: the next commit reaches it too.
    more = await committed_burst(service, owner, QUEUE_SIZE * 3, "y")
    assert [UUID((await receive(fast))["id"]) for _ in range(len(more))] == more
    await fast.close()


async def test_a_frozen_database_keeps_subscribed_sockets_open(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    """Three sockets re-read their caller every 0.2 s through a pool of two: while
    PostgreSQL is frozen the re-reads time out waiting for a connection or an answer,
    and each socket stays open and receives what is committed afterwards."""
    owner = await signup(http, "frozen")
    vendor_id = await vendor(http, owner, "Frozen Vendor")
    sockets = [await subscribed(service, owner, ["invoices"]) for _ in range(3)]
    frozen = service.postgres.freeze()
    try:
        await asyncio.sleep(FROZEN_SECONDS)
    finally:
        service.postgres.thaw(frozen)

    created = None
    for _ in range(40):  # 503 while the pool recovers
        answer = await invoice(http, owner, vendor_id, number="FZ-1")
        if answer.status_code == 201:
            created = answer.json()["id"]
            break
        await asyncio.sleep(0.25)
    assert created is not None, "the service did not recover"
    for socket in sockets:
        frame = await receive(socket)
        assert (frame["event"], frame["subject"]["id"]) == ("invoice.created", created)
        await socket.close()
    assert "Exception in ASGI application" not in service.log.read_text()


async def test_authentication_or_a_subscription_during_an_outage_closes_1013(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "outage-auth")
    vendor_id = await vendor(http, owner, "Outage Vendor")
    made = await invoice(http, owner, vendor_id, number="OA-1")
    assert made.status_code == 201, made.text
    subscribing = await subscribed(service, owner, ["comments"])
    authenticating = await websockets.connect(ws_url(service))

    frozen = service.postgres.freeze()
    try:
        await authenticating.send(
            json.dumps(
                {"type": "auth", "token": owner.access_token, "tenant_id": str(owner.tenant_id)}
            )
        )
        channel = f"invoice:{made.json()['id']}"
        await subscribing.send(json.dumps({"type": "subscribe", "channels": [channel]}))
        for socket in (authenticating, subscribing):
            with pytest.raises(ConnectionClosed) as closed:
                await receive(socket, within=15)
            assert closed.value.rcvd is not None, "closed without a close frame"
            assert closed.value.rcvd.code == TRY_AGAIN
            assert closed.value.rcvd.reason.startswith("database_unavailable")
    finally:
        service.postgres.thaw(frozen)
    assert "Exception in ASGI application" not in service.log.read_text()
