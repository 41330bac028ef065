"""Live events over WebSocket (`/ws`) and Server-Sent Events (`/events`): HTTP and the
WebSocket protocol translated to a `LiveSession` (events/live.py) and back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from ledgerline.access import (
    StreamCaller,
    TenantRequest,
    stream_caller,
    stream_caller_now,
    stream_request,
    tenant_request,
)
from ledgerline.events.live import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL_ERROR,
    CLOSE_UNAUTHENTICATED,
    LiveSession,
    StreamEnded,
    error_frame,
    failed_reread,
    outage_ends_stream,
)
from ledgerline.problems import Problem
from ledgerline.ratelimit import count_failed_credential
from ledgerline.security.permissions import Permission

router = APIRouter(tags=["events"])
log = logging.getLogger(__name__)
CLOSE_WAIT_SECONDS = 2.0


def _ended(problem: Problem) -> StreamEnded:
    code = CLOSE_UNAUTHENTICATED if problem.status == 401 else CLOSE_FORBIDDEN
    return StreamEnded(code, problem.code)


def _session(state: Any, caller: StreamCaller) -> LiveSession:
    current = caller

    async def recheck() -> frozenset[str]:
        nonlocal current
        try:
            current = await state.caller_rereads.read(
                (current.tenant_id, current.credential),
                lambda: stream_caller_now(state.database, state.settings, caller),
            )
        except Problem as problem:
            raise _ended(problem) from problem
        except Exception as error:
            if not failed_reread(error):
                raise
        return frozenset(current.principal.permissions)

    return LiveSession(
        state.hub,
        state.database,
        state.settings,
        tenant_id=caller.tenant_id,
        caller_id=caller.principal.id,
        permissions=frozenset(caller.principal.permissions),
        expires_at=caller.expires_at,
        recheck=recheck,
    )


SUBPROTOCOL = "ledgerline"
BEARER_PREFIX = "bearer."
TENANT_PREFIX = "tenant."


def offered_credentials(offered: list[str]) -> tuple[str | None, str | None]:
    """The token (`bearer.<token>`) and tenant (`tenant.<uuid>`) the client offered as
    Sec-WebSocket-Protocol items, each None when absent."""
    token = tenant = None
    for item in offered:
        if item.startswith(BEARER_PREFIX):
            token = item.removeprefix(BEARER_PREFIX)
        elif item.startswith(TENANT_PREFIX):
            tenant = item.removeprefix(TENANT_PREFIX)
    return token, tenant


async def _first_message(websocket: WebSocket) -> dict[str, Any]:
    state = websocket.app.state
    try:
        async with asyncio.timeout(state.settings.events_auth_timeout_seconds):
            message = await websocket.receive_text()
    except TimeoutError as error:
        raise StreamEnded(CLOSE_UNAUTHENTICATED, "no authentication in time") from error
    try:
        auth = json.loads(message)
    except ValueError as error:
        raise StreamEnded(CLOSE_UNAUTHENTICATED, "the first message must be auth") from error
    if not isinstance(auth, dict) or auth.get("type") != "auth":
        raise StreamEnded(CLOSE_UNAUTHENTICATED, "the first message must be auth")
    return auth


async def _credential_failed(websocket: WebSocket, tenant: str) -> None:
    """Count a credential that did not verify as HTTP counts one (its address, the tenant
    it claimed); past the limit the socket still closes 4401, naming the limit."""
    try:
        claimed: str | None = str(UUID(tenant))
    except ValueError:
        claimed = None
    try:
        await count_failed_credential(websocket, claimed)
    except Problem as limited:
        raise StreamEnded(CLOSE_UNAUTHENTICATED, limited.code) from limited


async def _authenticate(websocket: WebSocket, offered: list[str]) -> StreamCaller:
    """The caller, from `bearer.<token>` (and `tenant.<uuid>`) in Sec-WebSocket-Protocol,
    or from the first message: `{"type": "auth", "token", "tenant_id"}` (the token may be
    left out when the header carried it)."""
    state = websocket.app.state
    token, tenant = offered_credentials(offered)
    if token is not None and SUBPROTOCOL not in offered:
        raise StreamEnded(CLOSE_UNAUTHENTICATED, f"offer the {SUBPROTOCOL!r} subprotocol too")
    if token is None or tenant is None:
        auth = await _first_message(websocket)
        token = token if token is not None else auth.get("token")
        tenant = tenant if tenant is not None else auth.get("tenant_id")
    if not isinstance(token, str) or not isinstance(tenant, str):
        raise StreamEnded(CLOSE_UNAUTHENTICATED, "auth needs token and tenant_id")
    try:
        with outage_ends_stream():
            return await stream_caller(
                state.database, state.settings, state.access_tokens, token, tenant
            )
    except Problem as problem:
        if problem.status == 401:
            await _credential_failed(websocket, tenant)
        raise _ended(problem) from problem


async def _read_commands(websocket: WebSocket, live: LiveSession) -> None:
    while True:
        try:
            message = json.loads(await websocket.receive_text())
        except ValueError:
            await websocket.send_json(error_frame("invalid_message", "Send JSON objects."))
            continue
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "subscribe" and isinstance(message.get("channels"), list):
            await websocket.send_json(await live.subscribe(message["channels"]))
        elif kind == "resume":
            await live.resume(message.get("last_event_id"), websocket.send_json)
        elif kind == "ping":
            await websocket.send_json({"type": "pong"})
        else:
            await websocket.send_json(
                error_frame("invalid_message", "Send subscribe, resume or ping.")
            )


@router.websocket("/ws")
async def live_socket(websocket: WebSocket) -> None:
    """Live events: authenticate in Sec-WebSocket-Protocol or the first message, then
    subscribe (README)."""
    offered = list(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    live: LiveSession | None = None
    try:
        caller = await _authenticate(websocket, offered)
        live = _session(websocket.app.state, caller)
        await websocket.send_json({"type": "ready", "tenant_id": str(caller.tenant_id)})
        async with asyncio.TaskGroup() as group:
            group.create_task(_read_commands(websocket, live))
            group.create_task(live.pump(websocket.send_json))
            group.create_task(live.guard())
            group.create_task(live.watch())
    except* StreamEnded as ended:
        reason = ended.exceptions[0]
        assert isinstance(reason, StreamEnded)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                await websocket.close(reason.code, reason.reason)
    except* WebSocketDisconnect:
        pass
    except* Exception as failed:  # ours: logged, and the client still gets a close frame
        log.error("live socket failed", exc_info=failed)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                await websocket.close(CLOSE_INTERNAL_ERROR, "internal_error")
    finally:
        if live is not None:
            live.close()


def _sse(message: dict[str, Any]) -> str:
    if message["type"] == "heartbeat":
        return ": heartbeat\n\n"
    if message["type"] == "event":
        return f"id: {message['id']}\nevent: {message['event']}\ndata: {json.dumps(message)}\n\n"
    return f"event: {message['type']}\ndata: {json.dumps(message)}\n\n"


async def _sse_stream(
    live: LiveSession, channels: list[str], last_event_id: str | None
) -> AsyncIterator[str]:
    frames: asyncio.Queue[str | None] = asyncio.Queue(1)

    async def send(message: dict[str, Any]) -> None:
        await frames.put(_sse(message))

    async def run() -> None:
        try:
            await send(await live.subscribe(channels))
            if last_event_id:
                await live.resume(last_event_id, send)
            async with asyncio.TaskGroup() as group:
                group.create_task(live.pump(send))
                group.create_task(live.guard())
                group.create_task(live.watch())
        except* StreamEnded as ended:
            reason = ended.exceptions[0]
            assert isinstance(reason, StreamEnded)
            await send({"type": "close", "code": reason.code, "reason": reason.reason})
        finally:
            await frames.put(None)

    task = asyncio.create_task(run())
    try:
        while (frame := await frames.get()) is not None:
            yield frame
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        live.close()


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def live_events(
    request: Request,
    tenant: Annotated[TenantRequest, tenant_request(Permission.EVENTS_READ)],
    channels: Annotated[str, Query(max_length=4000, description="Comma-separated channels")],
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """Live events as Server-Sent Events, for clients without WebSocket: the same
    channels, checks and resume (`Last-Event-ID`) as `/ws`."""
    caller = stream_request(request, tenant)
    live = _session(request.app.state, caller)
    wanted = [name for name in (part.strip() for part in channels.split(",")) if name]
    return StreamingResponse(
        _sse_stream(live, wanted, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
