"""Idempotency-Key on creating POSTs: the same key with the same request replays the
first response; with another request it is 422. Keys are kept per tenant for 24 hours.

The key is claimed in the request's own transaction (`INSERT ... ON CONFLICT DO NOTHING`,
then `SELECT ... FOR UPDATE`), so a concurrent duplicate waits for the first request and
then replays it; a first request that fails rolls its claim back with everything else.
`IdempotentRoute` stores the successful response in that same transaction, and gives
every 201 it answers (first or replayed) its `Location`: the collection posted to and
the new row's `id` from the body.

Not for responses that carry a secret shown once (API keys): those must not be stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import (
    DateTime,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.db.base import Base
from ledgerline.problems import Problem

HEADER = "Idempotency-Key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETENTION = timedelta(hours=24)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    etag: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Replay(Exception):
    """Raised to answer with the stored response instead of running the endpoint. It
    carries plain values: the request's transaction is rolled back on the way out."""

    def __init__(
        self, status_code: int, media_type: str | None, body: bytes, etag: str | None
    ) -> None:
        super().__init__("idempotent replay")
        self.status_code, self.media_type, self.body = status_code, media_type, body
        self.etag = etag

    def response(self, path: str) -> Response:
        headers = {"Idempotent-Replayed": "true"}
        if self.etag:
            headers["ETag"] = self.etag
        response = Response(
            self.body, status_code=self.status_code, media_type=self.media_type, headers=headers
        )
        _locate_created(response, path)
        return response


def _locate_created(response: Response, path: str) -> None:
    """A 201 without a Location gets one: `path` (where it was posted) and the new row's
    `id` from the JSON body."""
    if response.status_code != 201 or "location" in response.headers:
        return
    try:
        created = json.loads(bytes(response.body))
    except ValueError:
        return
    if isinstance(created, dict) and isinstance(created.get("id"), str):
        response.headers["Location"] = f"{path.rstrip('/')}/{created['id']}"


async def _fingerprint(request: Request, caller: str) -> bytes:
    """The request's identity: caller, method, path, query and body. Another caller
    reusing a key gets 422, never the first caller's response."""
    digest = hashlib.sha256()
    for part in (caller, request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    digest.update(await request.body())
    return digest.digest()


async def claim(session: AsyncSession, request: Request, tenant_id: UUID, caller: str) -> None:
    """For a request carrying the header: replay, refuse, or claim the key for it."""
    key = request.headers.get(HEADER)
    if key is None:
        return
    if not 1 <= len(key) <= 200:
        raise Problem(400, "idempotency_key_invalid", f"{HEADER} has 1 to 200 characters.")
    fingerprint = await _fingerprint(request, caller)
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < datetime.now(UTC) - RETENTION,
        )
    )
    await session.execute(
        insert(IdempotencyRecord)
        .values(tenant_id=tenant_id, key=key, fingerprint=fingerprint)
        .on_conflict_do_nothing()
    )
    record = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.key == key).with_for_update()
    )
    if record is None:  # a concurrent first attempt failed and took its claim with it
        raise Problem(409, "idempotency_key_retry", "Retry the request with the same key.")
    if record.fingerprint != fingerprint:
        raise Problem(422, "idempotency_key_reused", f"This {HEADER} was used for another request.")
    if record.status_code is not None:
        raise Replay(record.status_code, record.media_type, record.body or b"", record.etag)
    request.state.idempotency_record = record


class IdempotentRoute(APIRoute):
    """Stores a successful response under its claimed key, inside the request's
    transaction (the tenant dependency commits after the handler returns); locates
    each 201. Routes of safe methods keep FastAPI's own handler: nothing to store,
    nothing to wrap."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.methods and self.methods <= SAFE_METHODS:
            return handler

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except Replay as replay:
                return replay.response(request.url.path)
            _locate_created(response, request.url.path)
            record: IdempotencyRecord | None = getattr(request.state, "idempotency_record", None)
            if record is not None and 200 <= response.status_code < 300:
                record.status_code = response.status_code
                record.media_type = response.media_type
                record.body = bytes(response.body)
                record.etag = response.headers.get("etag")
            return response

        handle.stores_idempotent_responses = True  # type: ignore[attr-defined]
        return handle
