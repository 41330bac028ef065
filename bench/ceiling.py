"""The ceiling of the `http` benchmark: an authenticated tenant read with the app's security
work and nothing else, on bare Starlette and asyncpg.

`GET /invoices/{id}`:
- verify the access token: HS256 pinned, SECRET_KEY, JWT_ISSUER and JWT_AUDIENCE of the
  settings, the app's required claims, `typ` access (401 otherwise);
- refuse an `X-Tenant-ID` other than the token's `tid` (403);
- open a transaction whose BEGIN carries the tenant (`BEGIN; SET LOCAL app.tenant_id =
  '<uuid>';` in one simple-query message, as ledgerline.db.tenant_context does);
- read the invoice and its lines in one query as the runtime role, under row-level
  security (no tenant in the WHERE: the policies supply it);
- commit, and answer the invoice as JSON with its ETag.

Settings come from the environment, like the app's. Served as `ledgerline serve` serves the
app: `uvicorn.run` of a factory, one worker unless --workers says more, the loop and HTTP
implementation left to uvicorn's choice ("auto"), no access log, no proxy headers, no
server header.

    python -m bench.ceiling --port 8001 [--workers 2]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.server import serve_factory
from ledgerline.config import Settings
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.db.tenant_context import TENANT_SETTING
from ledgerline.log import configure_logging

REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "typ", "iat", "exp", "role", "sid"]
INVOICE_FIELDS = (
    "id",
    "vendor_id",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "source",
    "po_number",
    "notes",
    "subtotal",
    "tax_total",
    "total",
    "amount_paid",
    "status",
    "rejection_reason",
    "created_at",
    "updated_at",
    "kind",
    "original_invoice_id",
    "tax_rounding",
    "possible_duplicate_of",
)
# JSON columns, passed through as PostgreSQL prints them.
JSON_FIELDS = ("tax_summary", "match_differences")
LINE_FIELDS = (
    "description",
    "quantity",
    "unit_price",
    "tax_rate",
    "line_subtotal",
    "line_tax",
    "account_code",
    "tax_code",
    "purchase_order_line_id",
)
# Amounts as strings, as the app answers them.
INVOICE_QUERY = f"""
SELECT {", ".join(f"i.{field}" for field in INVOICE_FIELDS)}, i.version,
       {", ".join(f"i.{field}::text AS {field}" for field in JSON_FIELDS)},
       (SELECT coalesce(json_agg(json_build_object(
                   {", ".join(f"'{field}', l.{field}::text" for field in LINE_FIELDS)}
               ) ORDER BY l.position), '[]')
          FROM invoice_lines AS l
         WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) AS lines
  FROM invoices AS i
 WHERE i.id = $1
"""


def _problem(status: int, detail: str) -> Response:
    body = json.dumps({"status": status, "detail": detail})
    return Response(body, status_code=status, media_type="application/problem+json")


def _json_value(value: object) -> str | list[str]:
    if isinstance(value, list):  # an array of ids
        return [str(item) for item in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)  # UUID, Decimal


async def _reset(connection: asyncpg.Connection) -> None:
    """On release: end a transaction left open (an error), and nothing else: SET LOCAL
    dies with its transaction, so asyncpg's default reset (RESET ALL and more, one round
    trip per request) has nothing to do."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def caller_tenant(settings: Settings, request: Request) -> UUID | Response:
    """The token's tenant when the token verifies and X-Tenant-ID names it, else the
    401 or 403 to answer."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _problem(401, "A bearer token is required.")
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        if claims["typ"] != "access":
            raise jwt.InvalidTokenError("not an access token")
        tenant = UUID(claims["tid"])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return _problem(401, "The token is not valid.")
    if request.headers.get("x-tenant-id") != str(tenant):
        return _problem(403, "X-Tenant-ID is not the token's tenant.")
    return tenant


def invoice_response(row: Any) -> Response:
    """The invoice row of INVOICE_QUERY as JSON with its ETag (404 when None)."""
    if row is None:
        return _problem(404, "No such invoice.")
    invoice: dict[str, Any] = {
        field: None if row[field] is None else _json_value(row[field]) for field in INVOICE_FIELDS
    }
    raw = {
        field: row[field] if isinstance(row[field], str) else json.dumps(row[field])
        for field in ("lines", *JSON_FIELDS)
    }
    body = json.dumps(invoice)[:-1] + "".join(f', "{k}": {v}' for k, v in raw.items()) + "}"
    return Response(body, media_type="application/json", headers={"ETag": f'"{row["version"]}"'})


def create_ceiling(settings: Settings) -> Starlette:
    pool: asyncpg.Pool | None = None

    async def get_invoice(request: Request) -> Response:
        tenant = caller_tenant(settings, request)
        if isinstance(tenant, Response):
            return tenant
        assert pool is not None
        async with pool.acquire() as connection:
            # A genuine UUID prints as hex digits and dashes only: safe in the statement.
            await connection.execute(f"BEGIN; SET LOCAL {TENANT_SETTING} = '{tenant}';")
            try:
                row = await connection.fetchrow(INVOICE_QUERY, request.path_params["invoice_id"])
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")
        return invoice_response(row)

    async def health(request: Request) -> Response:
        return Response('{"status": "ok"}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(
            asyncpg_dsn(settings.runtime_url()),
            min_size=settings.database_pool_size,
            max_size=settings.database_pool_size + settings.database_max_overflow,
            reset=_reset,
        )
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/invoices/{invoice_id:uuid}", get_invoice),
        ],
        lifespan=lifespan,
    )


def ceiling_from_environment() -> Starlette:
    """Entry point for uvicorn (`--factory`): settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_ceiling(settings)


def main() -> None:
    serve_factory("bench.ceiling", "ceiling_from_environment", __doc__)


if __name__ == "__main__":
    main()
