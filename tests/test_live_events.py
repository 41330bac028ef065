"""Live events against a real `ledgerline serve --workers 2`, with real WebSocket and SSE
clients: authentication first, fan-out across workers, tenant and permission filtering,
rollback, revocation, and a PostgreSQL restart with resume."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import httpx
import psutil
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ledgerline.db.base import new_id
from tests.helpers import api_keys
from tests.helpers.http import API
from tests.helpers.identity import Account, signup
from tests.helpers.invoices import invoice, step, vendor
from tests.helpers.service_process import ServiceProcess

SETTINGS = {"EVENTS_LIVENESS_SECONDS": "0.5", "EVENTS_QUEUE_SIZE": "64"}
FRAME_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(tmp_path_factory.mktemp("live") / "serve.log", 2, **SETTINGS)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A server of its own for the restart: the connections the restart breaks stay in
    its pool and answer a later request 503 each, which would reach the module's other
    tests."""
    running = ServiceProcess(tmp_path_factory.mktemp("live-restart") / "serve.log", 2, **SETTINGS)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http(service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
        yield client


def ws_url(service: ServiceProcess) -> str:
    return service.base_url.replace("http://", "ws://") + f"{API}/ws"


async def receive(socket: ClientConnection, within: float = FRAME_TIMEOUT) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), within))
        if frame["type"] != "heartbeat":
            return dict(frame)


async def subscribed(
    service: ServiceProcess, who: Account, channels: list[str], **options: Any
) -> ClientConnection:
    socket = await websockets.connect(ws_url(service), **options)
    await socket.send(
        json.dumps({"type": "auth", "token": who.access_token, "tenant_id": str(who.tenant_id)})
    )
    assert (await receive(socket))["type"] == "ready"
    await socket.send(json.dumps({"type": "subscribe", "channels": channels}))
    assert (await receive(socket))["type"] == "subscribed"
    return socket


async def approved_invoice(http: httpx.AsyncClient, who: Account, number: str) -> str:
    vendor_id = await vendor(http, who, f"Vendor {number}")
    created = await invoice(http, who, vendor_id, number=number)
    assert created.status_code == 201, created.text
    invoice_id = str(created.json()["id"])
    assert (await step(http, who, invoice_id, "submit")).status_code == 200
    approved = await step(http, who, invoice_id, "approve")
    assert approved.status_code == 200, approved.text
    return invoice_id


def worker_of(service: ServiceProcess, socket: ClientConnection) -> int:
    """The pid of the serve worker holding the socket's TCP connection."""
    local_port = socket.local_address[1]
    for worker in psutil.Process(service.process.pid).children():
        for connection in worker.net_connections("tcp"):
            if connection.raddr and connection.raddr.port == local_port:
                return worker.pid
    raise AssertionError("no worker holds the socket")


async def test_nothing_flows_before_authentication_and_silence_closes_4401(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "silent")
    socket = await websockets.connect(ws_url(service))
    started = time.monotonic()
    await approved_invoice(http, owner, "S-1")
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 15)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert 4.5 < time.monotonic() - started < 12


async def test_bad_credentials_close_4401_and_another_tenant_4403(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "creds")
    other = await signup(http, "creds-other")
    for token, tenant, code in (
        ("not-a-token", str(owner.tenant_id), 4401),
        (owner.access_token, str(other.tenant_id), 4403),
    ):
        async with websockets.connect(ws_url(service)) as socket:
            await socket.send(json.dumps({"type": "auth", "token": token, "tenant_id": tenant}))
            with pytest.raises(ConnectionClosed) as closed:
                await receive(socket)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == code


async def test_the_dashboard_channel_asks_dashboard_read(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    """An API key with `dashboard:read` and not `ledger:read` subscribes to `dashboard`;
    one with `ledger:read` and not `dashboard:read` gets an error frame (both hold
    `events:read`, which the socket itself asks)."""
    owner = await signup(http, "live-dashboard")
    frames = {}
    for scope in ("dashboard:read", "ledger:read"):
        issued = await api_keys.issue(http, owner, ["events:read", scope])
        assert issued.status_code == 201, issued.text
        async with websockets.connect(ws_url(service)) as socket:
            await socket.send(
                json.dumps(
                    {
                        "type": "auth",
                        "token": issued.json()["key"],
                        "tenant_id": str(owner.tenant_id),
                    }
                )
            )
            assert (await receive(socket))["type"] == "ready"
            await socket.send(json.dumps({"type": "subscribe", "channels": ["dashboard"]}))
            frames[scope] = await receive(socket)
    assert frames["dashboard:read"] == {"type": "subscribed", "channels": ["dashboard"]}
    assert frames["ledger:read"]["type"] == "error"
    assert frames["ledger:read"]["channels"] == {"dashboard": "permission_denied"}


async def test_an_approval_reaches_subscribers_on_both_workers_and_no_other_tenant(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "fanout")
    stranger = await signup(http, "fanout-b")
    sockets = [await subscribed(service, owner, ["invoices"]) for _ in range(4)]
    while len({worker_of(service, socket) for socket in sockets}) < 2:
        assert len(sockets) < 30, "every socket landed on one worker"
        sockets.append(await subscribed(service, owner, ["invoices"]))
    outsider = await subscribed(service, stranger, ["invoices", "comments", "dashboard"])

    invoice_id = await approved_invoice(http, owner, "F-1")

    for socket in sockets:
        seen = [await receive(socket) for _ in range(3)]
        assert [frame["event"] for frame in seen] == [
            "invoice.created",
            "invoice.submitted",
            "invoice.approved",
        ]
        assert {frame["subject"]["id"] for frame in seen} == {invoice_id}
        assert seen[-1]["data"]["status"] == "approved"
        assert [UUID(frame["id"]) for frame in seen] == sorted(UUID(f["id"]) for f in seen)
        await socket.close()

    await outsider.send(json.dumps({"type": "subscribe", "channels": [f"invoice:{invoice_id}"]}))
    refused = await receive(outsider)
    assert refused["type"] == "error"
    assert refused["channels"] == {f"invoice:{invoice_id}": "invoice_not_found"}
    with pytest.raises(TimeoutError):
        await receive(outsider, within=1.5)
    await outsider.close()


async def test_a_rolled_back_event_is_never_sent(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "rollback")
    socket = await subscribed(service, owner, ["invoices"])
    conn = await service.postgres.connect()
    try:
        transaction = conn.transaction()
        await transaction.start()
        ghost = new_id()
        await conn.execute(
            "INSERT INTO domain_events (tenant_id, id, type, channels, permission,"
            " subject_type, subject_id, data) VALUES ($1, $2, 'invoice.approved',"
            " '{invoices}', 'invoices:read', 'invoice', $2, '{}')",
            owner.tenant_id,
            ghost,
        )
        await conn.execute(
            "SELECT pg_notify('ledgerline_events', $1)", f"{owner.tenant_id}:{ghost}"
        )
        await transaction.rollback()
    finally:
        await conn.close()
    vendor_id = await vendor(http, owner)
    await invoice(http, owner, vendor_id, number="R-1")
    frame = await receive(socket)
    assert frame["event"] == "invoice.created"
    assert frame["id"] != str(ghost)
    await socket.close()


async def test_a_revoked_session_closes_its_socket(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "revoked")
    socket = await subscribed(service, owner, ["invoices"])
    signed_out = await http.post(f"{API}/auth/logout", headers=owner.headers)
    assert signed_out.status_code == 204
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        await receive(socket, within=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert time.monotonic() - started < 5


async def _committed(http: httpx.AsyncClient, who: Account, number: str) -> str:
    """An invoice created, retried while the database comes back (503)."""
    vendor_id = ""
    for _ in range(120):
        if not vendor_id:
            made = await http.post(
                f"{API}/vendors",
                json={"name": f"V {number}", "default_currency": "EUR", "payment_terms_days": 14},
                headers=who.headers,
            )
            vendor_id = made.json().get("id", "") if made.status_code == 201 else ""
        if vendor_id:
            created = await invoice(http, who, vendor_id, number=number)
            if created.status_code == 201:
                return str(created.json()["id"])
        await asyncio.sleep(0.5)
    raise AssertionError("the service did not recover")


async def resumed(
    service: ServiceProcess, who: Account, channels: list[str], last_event_id: str
) -> tuple[ClientConnection, dict[str, Any]]:
    """A socket subscribed and resumed after `last_event_id`, and the first event it
    replays; connecting again while the server closes 1013 (after a restart its pool
    still holds connections the restart broke), as the README tells clients to."""
    for _ in range(20):
        try:
            socket = await subscribed(service, who, channels)
            await socket.send(json.dumps({"type": "resume", "last_event_id": last_event_id}))
            return socket, await receive(socket)
        except ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1013:
                raise
            await asyncio.sleep(0.25)
    raise AssertionError("the socket kept closing 1013")


async def test_after_a_postgresql_restart_the_listener_reconnects_and_resume_misses_nothing(
    restartable: ServiceProcess,
) -> None:
    async with httpx.AsyncClient(base_url=restartable.base_url, timeout=60) as http:
        await _restart_and_resume(restartable, http)


async def _restart_and_resume(service: ServiceProcess, http: httpx.AsyncClient) -> None:
    owner = await signup(http, "restart")
    staying = await subscribed(service, owner, ["invoices"])
    leaving = await subscribed(service, owner, ["invoices"])
    first = await _committed(http, owner, "P-1")
    assert (await receive(staying))["subject"]["id"] == first
    last_seen = (await receive(leaving))["id"]
    await leaving.close()

    await asyncio.to_thread(service.postgres.restart)
    second = await _committed(http, owner, "P-2")
    assert (await receive(staying))["subject"]["id"] == second

    back, replayed = await resumed(service, owner, ["invoices"], last_seen)
    assert replayed["subject"]["id"] == second
    third = await _committed(http, owner, "P-3")
    assert (await receive(back))["subject"]["id"] == third
    assert (await receive(staying))["subject"]["id"] == third
    await back.close()
    await staying.close()


async def test_sse_streams_the_same_events_and_resumes_from_last_event_id(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "sse")
    params = {"channels": "invoices"}

    async def events(headers: dict[str, str], wanted: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        async with http.stream("GET", f"{API}/events", params=params, headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    frame = json.loads(line.removeprefix("data: "))
                    if frame["type"] == "event":
                        found.append(frame)
                        if len(found) == wanted:
                            return found
        raise AssertionError("the stream ended")

    listening = asyncio.create_task(events(owner.headers, 1))
    await asyncio.sleep(1.0)
    first = await _committed(http, owner, "E-1")
    got = await asyncio.wait_for(listening, FRAME_TIMEOUT)
    assert got[0]["subject"]["id"] == first
    second = await _committed(http, owner, "E-2")
    resumed = await asyncio.wait_for(
        events(owner.headers | {"Last-Event-ID": got[0]["id"]}, 1), FRAME_TIMEOUT
    )
    assert resumed[0]["subject"]["id"] == second
