"""Discussion threads and socket authentication live, against the same real
`ledgerline serve --workers 2` as tests/test_live_events.py (its fixture): a mention
reaches only the mentioned user, edits stream and keep their history, another tenant's
ids are 404 and an error frame, credentials in Sec-WebSocket-Protocol, and a reader that
never reads is dropped while a fast one keeps receiving."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from typing import Any
from uuid import UUID

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ledgerline.db.base import new_id
from tests.helpers.http import API
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.invoices import invoice, vendor
from tests.helpers.service_process import ServiceProcess
from tests.test_live_events import (  # noqa: F401 - the module's server and client fixtures
    FRAME_TIMEOUT,
    http,
    receive,
    service,
    subscribed,
    ws_url,
)


async def an_invoice(http: httpx.AsyncClient, who: Account, number: str) -> str:  # noqa: F811
    created = await invoice(http, who, await vendor(http, who, f"V {number}"), number=number)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def nothing_within(socket: ClientConnection, seconds: float = 1.5) -> None:
    with pytest.raises(TimeoutError):
        await receive(socket, within=seconds)


def protocols(who: Account, *, tenant: bool = True, token: str | None = None) -> list[Any]:
    offered = ["ledgerline", f"bearer.{token or who.access_token}"]
    return offered + ([f"tenant.{who.tenant_id}"] if tenant else [])


async def test_a_mention_reaches_only_the_mentioned_user_on_me(
    service: ServiceProcess,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    owner = await signup(http, "mentions")
    ann = await add_user(http, owner, "ann@mentions.example.com")
    bob = await add_user(http, owner, "bob@mentions.example.com")
    stranger = await signup(http, "mentions-b")
    invoice_id = await an_invoice(http, owner, "M-1")
    ann_me = await subscribed(service, ann, ["me"])
    bob_me = await subscribed(service, bob, ["me"])
    owner_me = await subscribed(service, owner, ["me"])
    outsider = await subscribed(service, stranger, ["me", "comments"])
    thread = await subscribed(service, bob, ["comments", f"invoice:{invoice_id}"])

    made = await http.post(
        f"{API}/invoices/{invoice_id}/comments",
        json={"body": "@ann@mentions.example.com can you check the VAT?"},
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    comment_id = made.json()["id"]

    mention = await receive(ann_me)
    assert mention["event"] == "comment.mentioned"
    assert mention["channels"] == ["me"]
    assert mention["data"]["comment_id"] == comment_id
    assert mention["data"]["subject_id"] == invoice_id
    created = await receive(thread)
    assert created["event"] == "comment.created"
    assert created["subject"] == {"type": "comment", "id": comment_id}
    for unseen in (bob_me, owner_me, outsider):
        await nothing_within(unseen)
    for socket_ in (ann_me, bob_me, owner_me, outsider, thread):
        await socket_.close()


async def test_edits_stream_and_keep_history_and_another_tenants_ids_are_404(
    service: ServiceProcess,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    owner = await signup(http, "edits")
    ann = await add_user(http, owner, "ann@edits.example.com")
    other = await signup(http, "edits-b")
    invoice_id = await an_invoice(http, owner, "H-1")
    thread = await subscribed(service, owner, [f"invoice:{invoice_id}"])
    made = await http.post(
        f"{API}/invoices/{invoice_id}/comments",
        json={"body": "Total is 11.90 @ann@edits.example.com"},
        headers=owner.headers,
    )
    comment_id = made.json()["id"]
    edited = await http.patch(
        f"{API}/comments/{comment_id}",
        json={"body": "Total is 119.00"},
        headers=owner.headers | {"If-Match": made.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    frames = [await receive(thread), await receive(thread)]
    assert [frame["event"] for frame in frames] == ["comment.created", "comment.edited"]
    assert frames[1]["data"]["body"] == "Total is 119.00"
    assert frames[1]["data"]["version"] == 2
    history = await http.get(f"{API}/comments/{comment_id}/history", headers=ann.headers)
    assert [item["body"] for item in history.json()["items"]] == [
        "Total is 11.90 @ann@edits.example.com"
    ]
    notification_id = (await http.get(f"{API}/notifications", headers=ann.headers)).json()["items"][
        0
    ]["id"]

    for method, path in (
        ("GET", f"/comments/{comment_id}"),
        ("GET", f"/comments/{comment_id}/history"),
        ("GET", f"/invoices/{invoice_id}/comments"),
        ("POST", f"/notifications/{notification_id}/read"),
    ):
        answer = await http.request(method, f"{API}{path}", headers=other.headers)
        assert answer.status_code == 404, (path, answer.text)
    outsider = await subscribed(service, other, ["comments"])
    await outsider.send(json.dumps({"type": "subscribe", "channels": [f"invoice:{invoice_id}"]}))
    refused = await receive(outsider)
    assert refused["channels"] == {f"invoice:{invoice_id}": "invoice_not_found"}
    await nothing_within(outsider)
    await outsider.close()
    await thread.close()


async def test_sec_websocket_protocol_carries_the_credentials_and_a_bad_one_closes_4401(
    service: ServiceProcess,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    owner = await signup(http, "subprotocol")
    async with websockets.connect(ws_url(service), subprotocols=protocols(owner)) as socket_:
        assert socket_.subprotocol == "ledgerline"
        assert (await receive(socket_))["type"] == "ready"

    # The token in the header, the tenant in the first message.
    offered = protocols(owner, tenant=False)
    async with websockets.connect(ws_url(service), subprotocols=offered) as socket_:
        assert socket_.subprotocol == "ledgerline"
        await socket_.send(json.dumps({"type": "auth", "tenant_id": str(owner.tenant_id)}))
        assert (await receive(socket_))["type"] == "ready"

    for offered in (
        protocols(owner, token="not-a-token"),
        protocols(owner, token=owner.access_token[:-4] + "AAAA"),
        [f"bearer.{owner.access_token}", f"tenant.{owner.tenant_id}"],  # no "ledgerline"
    ):
        try:
            async with websockets.connect(ws_url(service), subprotocols=offered) as socket_:
                with pytest.raises(ConnectionClosed) as closed:
                    await receive(socket_)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4401
        except websockets.InvalidHandshake:
            # Offered without "ledgerline", nothing can be echoed: a client refuses that.
            assert "ledgerline" not in offered


async def test_the_readme_browser_example_runs_its_protocol(
    service: ServiceProcess,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """What README's WebSocket example does, step by step, with `websockets`."""
    owner = await signup(http, "browser")
    invoice_id = await an_invoice(http, owner, "B-1")
    last_event_id: str | None = None
    async with websockets.connect(ws_url(service), subprotocols=protocols(owner)) as socket_:
        assert socket_.subprotocol == "ledgerline"
        await socket_.send(
            json.dumps({"type": "subscribe", "channels": ["comments", f"invoice:{invoice_id}"]})
        )
        frames = [await receive(socket_), await receive(socket_)]
        assert [frame["type"] for frame in frames] == ["ready", "subscribed"]
        await http.post(
            f"{API}/invoices/{invoice_id}/comments", json={"body": "first"}, headers=owner.headers
        )
        event = await receive(socket_)
        assert event["event"] == "comment.created"
        last_event_id = event["id"]
    await http.post(
        f"{API}/invoices/{invoice_id}/comments", json={"body": "missed"}, headers=owner.headers
    )
    async with websockets.connect(ws_url(service), subprotocols=protocols(owner)) as socket_:
        await socket_.send(json.dumps({"type": "subscribe", "channels": ["comments"]}))
        await socket_.send(json.dumps({"type": "resume", "last_event_id": last_event_id}))
        assert [(await receive(socket_))["type"] for _ in range(2)] == ["ready", "subscribed"]
        missed = await receive(socket_)
        assert missed["event"] == "comment.created"
        assert missed["data"]["body"] == "missed"


def _masked_text_frame(payload: bytes) -> bytes:
    """One client text frame (clients mask), for a socket that speaks WebSocket by hand."""
    mask = os.urandom(4)
    length = len(payload)
    header = bytes([0x81]) + (
        bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + length.to_bytes(2)
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _never_reading_socket(
    server: ServiceProcess, who: Account, channels: list[str]
) -> socket.socket:
    """A WebSocket that authenticates and subscribes, then never reads a byte: its
    receive window is made small so the server's sends back up quickly."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    offered = ", ".join(protocols(who))
    raw.sendall(
        (
            f"GET {API}/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {offered}\r\n\r\n"
        ).encode()
    )
    answered = b""
    while b'"ready"' not in answered:  # the handshake's answer, then the ready frame
        chunk = raw.recv(4096)
        assert chunk, answered
        answered += chunk
    subscribe = json.dumps({"type": "subscribe", "channels": channels}).encode()
    raw.sendall(_masked_text_frame(subscribe))
    return raw


CLOSE_TOO_SLOW = (4408).to_bytes(2) + b"too slow"  # a close frame's code and reason


async def _read_until_dropped(raw: socket.socket, within: float) -> bytes:
    """Everything the server sent, read until it ends the connection or sends its 4408
    close frame (which it gives up on after a while when the client never read)."""
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    received = bytearray()
    deadline = time.monotonic() + within
    while CLOSE_TOO_SLOW not in received[-4096:]:
        left = deadline - time.monotonic()
        assert left > 0, "the server never ended the never-reading socket"
        chunk = await asyncio.wait_for(loop.sock_recv(raw, 1 << 20), left)
        if not chunk:
            break
        received += chunk
    return bytes(received)


async def test_a_reader_that_never_reads_is_dropped_while_a_fast_one_keeps_receiving(
    service: ServiceProcess,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """A burst of large comment events (written as the outbox writes them, in one
    transaction with its doorbell) overflows the bounded queue of a socket that never
    reads; the fast socket receives every event."""
    owner = await signup(http, "slow-reader")
    await an_invoice(http, owner, "D-1")
    fast = await subscribed(service, owner, ["comments"], max_size=2**20)
    slow = await asyncio.to_thread(_never_reading_socket, service, owner, ["comments"])
    await asyncio.sleep(1.0)  # the slow socket's subscription is in place

    burst, per_commit = 600, 40
    body = "x" * 16_000
    ids = [new_id() for _ in range(burst)]
    conn = await service.postgres.connect()
    try:
        for first in range(0, burst, per_commit):
            # Commits smaller than the queue (64 here): a reader that keeps up is never
            # dropped; one that never reads backs up and is.
            chunk = ids[first : first + per_commit]
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO domain_events (tenant_id, id, type, channels, permission,"
                    " subject_type, subject_id, data) VALUES ($1, $2, 'comment.created',"
                    " '{comments}', 'comments:read', 'comment', $2, $3::jsonb)",
                    [(owner.tenant_id, event_id, json.dumps({"body": body})) for event_id in chunk],
                )
                await conn.execute(
                    "SELECT pg_notify('ledgerline_events', $1)", f"{owner.tenant_id}:{chunk[-1]}"
                )
            await asyncio.sleep(0.2)
    finally:
        await conn.close()

    seen = [UUID((await receive(fast))["id"]) for _ in range(burst)]
    assert seen == ids
    received = await _read_until_dropped(slow, within=30)
    slow.close()
    assert received.count(b'"comment.created"') < burst
    await fast.close()
