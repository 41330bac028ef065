"""The framework floor of the `http` benchmark: the ceiling's work and nothing more, on
the stack the app is built with: FastAPI and SQLAlchemy's asyncio session.

`GET /invoices/{id}` does exactly what `bench/ceiling.py` does (the same token check, the
same tenant on BEGIN, the same one query, the same JSON), but as a FastAPI route with
one async dependency that yields the session (as the app's access hook does), the
transaction opened and committed by an `AsyncSession` of the app's own engine
(`ledgerline.db.engine.Database`: the tenant on BEGIN, the bounded waits, the outage
hooks) and the query sent with asyncpg on that transaction's connection
(`ledgerline.db.driver`), answered as a plain `Response`. No caller check, rate limit,
audit, request-id middleware or Pydantic model.

`POST /invoices` likewise does exactly the ceiling's create: the same token check, then
`bench.ceiling.insert_draft` (the caller's liveness, the same statements in the same
order, the same totals and answer) on the asyncpg connection of an `AsyncSession`
transaction of the app's engine, opened by one async dependency that FastAPI closes
before the response is sent (`scope="function"`, as the app's access hook): the commit
(or, for a refusal, the rollback) comes first, then the 201. As in the ceiling, no rate
limit, request-id middleware, Pydantic model or ORM object.

`POST /invoices/{id}/approve` likewise runs the ceiling's
`bench.ceiling_approval.approve_submitted` on such a transaction's connection.

So floor / ceiling is what FastAPI and SQLAlchemy cost by themselves for this read,
create or approval, and app / floor what the app's own rules and plumbing add on top.

    python -m bench.floor --port 8002 [--workers 2]
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from bench.ceiling import (
    INVOICE_FIELDS,
    INVOICE_QUERY,
    Caller,
    Refused,
    caller_tenant,
    insert_draft,
    invoice_response,
    parse_draft,
    verified_caller,
)
from bench.ceiling_approval import approve_submitted
from bench.server import serve_factory
from ledgerline.config import Settings
from ledgerline.db import driver
from ledgerline.db.engine import Database
from ledgerline.log import configure_logging


def create_floor(settings: Settings) -> FastAPI:
    database: Database | None = None

    async def tenant_session(request: Request) -> AsyncIterator[AsyncSession]:
        tenant = caller_tenant(settings, request)
        if isinstance(tenant, Response):
            raise Refused(tenant)
        assert database is not None
        async with database.tenant_transaction(tenant) as session:
            yield session

    async def caller_session(request: Request) -> AsyncIterator[tuple[Caller, AsyncSession]]:
        caller = verified_caller(settings, request)
        if isinstance(caller, Response):
            raise Refused(caller)
        assert database is not None
        async with database.tenant_transaction(caller.tenant) as session:
            yield caller, session

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal database
        database = Database(settings)
        try:
            yield
        finally:
            await database.dispose()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(Refused)
    async def refused(_: Request, error: Exception) -> Response:
        assert isinstance(error, Refused)
        return error.response

    @app.get("/health")
    async def health() -> Response:
        return Response('{"status": "ok"}', media_type="application/json")

    @app.get("/invoices/{invoice_id}")
    async def get_invoice(
        invoice_id: UUID, session: Annotated[AsyncSession, Depends(tenant_session)]
    ) -> Response:
        connection = await driver.driver_connection(session)
        row: Any = await connection.fetchrow(INVOICE_QUERY, invoice_id)
        return invoice_response(row)

    @app.post("/invoices", status_code=201)
    async def create_invoice(
        request: Request,
        context: Annotated[tuple[Caller, AsyncSession], Depends(caller_session, scope="function")],
    ) -> Response:
        draft = parse_draft(await request.body())
        if isinstance(draft, Response):
            raise Refused(draft)
        caller, session = context
        connection = await driver.driver_connection(session)
        return await insert_draft(connection.driver, caller, draft)

    @app.post("/invoices/{invoice_id}/approve")
    async def approve_invoice(
        invoice_id: UUID,
        request: Request,
        context: Annotated[tuple[Caller, AsyncSession], Depends(caller_session, scope="function")],
    ) -> Response:
        caller, session = context
        connection = await driver.driver_connection(session)
        if_match = ", ".join(request.headers.getlist("if-match")) or None
        return await approve_submitted(connection.driver, caller, invoice_id, if_match)

    assert INVOICE_FIELDS  # the same fields as the ceiling's answer
    return app


def floor_from_environment() -> FastAPI:
    """Entry point for uvicorn (`--factory`): settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_floor(settings)


def main() -> None:
    serve_factory("bench.floor", "floor_from_environment", __doc__)


if __name__ == "__main__":
    main()
