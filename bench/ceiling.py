"""The ceiling of the `http` benchmark: an authenticated tenant read, an invoice create and
an invoice approval, each with the app's security and database work and nothing else, on
bare Starlette and asyncpg.

`GET /invoices/{id}`:
- verify the access token: HS256 pinned, SECRET_KEY, JWT_ISSUER and JWT_AUDIENCE of the
  settings, the app's required claims, `typ` access (401 otherwise);
- refuse an `X-Tenant-ID` other than the token's `tid` (403);
- open a transaction whose BEGIN carries the tenant (`BEGIN; SET LOCAL app.tenant_id =
  '<uuid>';` in one simple-query message, as ledgerline.db.tenant_context does);
- read the invoice and its lines in one query as the runtime role, under row-level
  security (no tenant in the WHERE: the policies supply it);
- commit, and answer the invoice as JSON with its ETag.

`POST /invoices` (a draft of the body bench/wrk.lua sends: vendor, number, issue date,
PO number, lines of description, quantity, unit price and bare tax rate):
- the same token and tenant checks;
- the same BEGIN, then the statements the app sends for `POST /api/v1/invoices`, in its
  order, as the runtime role under RLS: the caller's liveness (the access hook's query,
  `security.liveness`; 401 when it finds nothing, 403 for a suspended or read-only
  tenant or a role without `invoices:create`), the vendor (404, 409 inactive), the same
  folded number (409 `duplicate_invoice`, rolled back), the near duplicates (the oldest
  NEAR_LIMIT), the audit row, the invoice, its lines in one statement, the status history
  row (the order of the app's one flush), the event stream's advisory lock and the
  event, COMMIT: the app's 12 statements, their texts imported where the app keeps them
  as text;
- totals and tax computed by the app's own functions, ids by `new_id` (UUIDv7);
- 201 with the invoice and its lines as the app answers them, its ETag and Location.
The work after the token check is `insert_draft`, which the floor reuses.

`POST /invoices/{id}/approve` (If-Match, no body): the same token and tenant checks, the
same BEGIN, then `bench.ceiling_approval.approve_submitted`: the 21 statements the app
sends for `POST /api/v1/invoices/{id}/approve` of a submitted invoice of the kind the
benchmark seeds (caller, invoice locked, near duplicates, policy, approvals, their row,
the invoice's update, history, lines, the posting's reads and writes, the audit row, the
event), in its order; 200 with the approved invoice and ETag `"3"`.

Settings come from the environment, like the app's. Served as `ledgerline serve` serves the
app: `uvicorn.run` of a factory, one worker unless --workers says more, the loop and HTTP
implementation left to uvicorn's choice ("auto"), no access log, no proxy headers, no
server header.

    python -m bench.ceiling --port 8001 [--workers 2]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import jwt
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy import TextClause
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.server import serve_factory
from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.db.tenant_context import TENANT_SETTING
from ledgerline.events import outbox
from ledgerline.events.catalog import INVOICE_EVENTS
from ledgerline.events.channels import invoice_channels
from ledgerline.invoices import duplicates, taxes
from ledgerline.invoices import service as invoice_service
from ledgerline.invoices.duplicates import NEAR_DAYS, NEAR_LIMIT
from ledgerline.invoices.models import TaxRounding
from ledgerline.log import configure_logging
from ledgerline.security import liveness
from ledgerline.security.permissions import ROLE_PERMISSIONS, Permission, Role
from ledgerline.tenants.models import TenantStatus
from ledgerline.values import fold_invoice_number, precise

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


def _sent(statement: str | TextClause) -> str:
    """A statement as the app sends it: plain SQL as it is, a text clause as SQLAlchemy's
    asyncpg dialect compiles it (its parameters numbered in their order of appearance)."""
    if isinstance(statement, str):
        return statement
    return str(statement.compile(dialect=asyncpg_dialect()))  # type: ignore[no-untyped-call]


# The statements of the app's create, as its access hook and ORM send them (traced through
# asyncpg; tests/test_bench_ceiling_create.py compares them with the app's).
CALLER_QUERY = liveness._USER_NOW
VENDOR_QUERY = invoice_service._VENDOR_TERMS
SAME_NUMBER_QUERY = duplicates._SAME_NUMBER  # vendor, folded number, "void", own id
NEAR_DUPLICATES_QUERY = duplicates._NEAR  # an array of at most NEAR_LIMIT ids
INSERT_INVOICE = """
INSERT INTO invoices (tenant_id, id, vendor_id, number, issue_date, due_date, currency,
    source, po_number, notes, subtotal, tax_total, total, amount_paid, status,
    rejection_reason, kind, original_invoice_id, tax_rounding, tax_summary, number_key,
    possible_duplicate_of, submissions, match_differences, submitted_at, approved_at,
    version)
VALUES ($1::UUID, $2::UUID, $3::UUID, $4::VARCHAR, $5::DATE, $6::DATE, $7::VARCHAR,
    $8::VARCHAR, $9::VARCHAR, $10::VARCHAR, $11::NUMERIC(18, 2), $12::NUMERIC(18, 2),
    $13::NUMERIC(18, 2), $14::NUMERIC(18, 2), $15::VARCHAR, $16::VARCHAR, $17::VARCHAR,
    $18::UUID, $19::VARCHAR, $20::JSONB, $21::VARCHAR, $22::UUID[], $23::INTEGER,
    $24::JSONB, $25::TIMESTAMP WITH TIME ZONE, $26::TIMESTAMP WITH TIME ZONE, $27::INTEGER)
RETURNING invoices.created_at, invoices.updated_at
"""
LINE_INSERT_COLUMNS = ("tenant_id", "id", "invoice_id", "position", *LINE_FIELDS)
LINE_INSERT_TYPES = (
    "UUID",
    "UUID",
    "UUID",
    "INTEGER",
    "VARCHAR",
    "NUMERIC(18, 4)",
    "NUMERIC(18, 4)",
    "NUMERIC(6, 4)",
    "NUMERIC(18, 2)",
    "NUMERIC(18, 2)",
    "VARCHAR",
    "VARCHAR",
    "UUID",
)
INSERT_HISTORY = """
INSERT INTO invoice_status_history (tenant_id, id, invoice_id, from_status, to_status,
    reason, actor_type, actor_id)
VALUES ($1::UUID, $2::UUID, $3::UUID, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR, $7::VARCHAR,
    $8::UUID)
RETURNING invoice_status_history.occurred_at
"""
INSERT_AUDIT = """
INSERT INTO audit_events (tenant_id, id, actor_type, actor_id, action, target_type,
    target_id, changes, request_id, ip, user_agent)
VALUES ($1::UUID, $2::UUID, $3::VARCHAR, $4::UUID, $5::VARCHAR, $6::VARCHAR, $7::UUID,
    $8::JSONB, $9::VARCHAR, $10::VARCHAR, $11::VARCHAR)
RETURNING audit_events.occurred_at
"""
EVENT_LOCK = _sent(outbox._LOCK)  # $1: the tenant as text
# $1-$11: tenant, id, type, channels, permission, recipient, subject type, subject id,
# data, only if last, doorbell channel.
EVENT_APPEND = _sent(outbox._APPEND)
LAST_EVENT = _sent(outbox._LAST_ID)  # $1: the tenant
# A connection of its own (the floor's session's) or one lent by the pool (the ceiling's).
Connection = asyncpg.Connection | PoolConnectionProxy
ZERO = Decimal("0.00")


@cache
def insert_lines(count: int) -> str:
    """The lines' INSERT for `count` lines: one statement, as the ORM batches them."""
    width = len(LINE_INSERT_COLUMNS)
    rows = ", ".join(
        "("
        + ", ".join(f"${row * width + n + 1}::{kind}" for n, kind in enumerate(LINE_INSERT_TYPES))
        + ")"
        for row in range(count)
    )
    return f"INSERT INTO invoice_lines ({', '.join(LINE_INSERT_COLUMNS)}) VALUES {rows}"


def _problem(status: int, detail: str, code: str | None = None, **extra: str) -> Response:
    body = json.dumps({"status": status, "detail": detail, "code": code, **extra})
    return Response(body, status_code=status, media_type="application/problem+json")


class Refused(Exception):
    """A request answered with `response` (a problem) whose transaction rolls back."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


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


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified access token names, and where the request came from."""

    tenant: UUID
    user: UUID
    session: UUID
    jti: UUID
    ip: str | None
    user_agent: str | None


def _access_claims(settings: Settings, request: Request) -> dict[str, Any] | Response:
    """The claims of a verified access token, else the 401 to answer."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _problem(401, "A bearer token is required.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
        if claims["typ"] != "access":
            raise jwt.InvalidTokenError("not an access token")
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return _problem(401, "The token is not valid.")
    return claims


def caller_tenant(settings: Settings, request: Request) -> UUID | Response:
    """The token's tenant when the token verifies and X-Tenant-ID names it, else the
    401 or 403 to answer."""
    claims = _access_claims(settings, request)
    if isinstance(claims, Response):
        return claims
    try:
        tenant = UUID(claims["tid"])
    except (ValueError, TypeError, KeyError):
        return _problem(401, "The token is not valid.")
    if request.headers.get("x-tenant-id") != str(tenant):
        return _problem(403, "X-Tenant-ID is not the token's tenant.")
    return tenant


def verified_caller(settings: Settings, request: Request) -> Caller | Response:
    """`caller_tenant`, with the rest of the caller: its user, session and token ids (for
    the liveness check) and where the request came from (for the audit row)."""
    claims = _access_claims(settings, request)
    if isinstance(claims, Response):
        return claims
    try:
        caller = Caller(
            UUID(claims["tid"]),
            UUID(claims["sub"]),
            UUID(claims["sid"]),
            UUID(claims["jti"]),
            request.client.host if request.client else None,
            request.headers.get("user-agent"),
        )
    except (ValueError, TypeError, KeyError):
        return _problem(401, "The token is not valid.")
    if request.headers.get("x-tenant-id") != str(caller.tenant):
        return _problem(403, "X-Tenant-ID is not the token's tenant.")
    return caller


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


@dataclass(frozen=True, slots=True)
class DraftLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal


@dataclass(frozen=True, slots=True)
class Draft:
    """The body of a create, as bench/wrk.lua sends it."""

    vendor_id: UUID
    number: str
    issue_date: date
    po_number: str | None
    lines: tuple[DraftLine, ...]


def _amount(value: object) -> Decimal:
    """A finite decimal sent as a string, small enough for the columns."""
    if not isinstance(value, str):
        raise TypeError("amounts are strings")
    amount = Decimal(value)
    if not amount.is_finite() or abs(amount) >= 10**10:
        raise ValueError("out of range")
    return amount


def parse_draft(body: bytes) -> Draft | Response:
    """The draft in a create's body, else the 422 to answer."""
    try:
        fields = json.loads(body)
        lines = tuple(
            DraftLine(
                str(line["description"]),
                _amount(line["quantity"]),
                _amount(line["unit_price"]),
                _amount(line.get("tax_rate") or "0"),
            )
            for line in fields["lines"]
        )
        po_number = fields.get("po_number")
        draft = Draft(
            UUID(fields["vendor_id"]),
            str(fields["number"]),
            date.fromisoformat(fields["issue_date"]),
            None if po_number is None else str(po_number),
            lines,
        )
    except (ValueError, TypeError, KeyError, AttributeError, InvalidOperation):
        return _problem(422, "The body is not a draft invoice.", "validation_error")
    if not lines or not draft.number.strip():
        return _problem(422, "A draft needs a number and lines.", "validation_error")
    return draft


async def insert_draft(connection: Connection, caller: Caller, draft: Draft) -> Response:
    """The create's work inside the transaction the caller's BEGIN opened, statement by
    statement as the app sends them; raises `Refused` for an answer that rolls back."""
    live = await connection.fetchrow(CALLER_QUERY, caller.user, caller.session, caller.jti)
    if live is None:
        raise Refused(_problem(401, "The access token is no longer valid.", "invalid_token"))
    if live["status"] != TenantStatus.ACTIVE:
        raise Refused(_problem(403, "This tenant cannot change now.", "tenant_read_only"))
    if Permission.INVOICES_WRITE not in ROLE_PERMISSIONS[Role(live["role"])]:
        raise Refused(_problem(403, "This needs 'invoices:write'.", "permission_denied"))

    vendor = await connection.fetchrow(VENDOR_QUERY, draft.vendor_id)
    if vendor is None:
        raise Refused(_problem(404, "No such vendor.", "vendor_not_found"))
    if not vendor["is_active"]:
        raise Refused(_problem(409, "This vendor is deactivated.", "vendor_inactive"))
    number_key = fold_invoice_number(draft.number)
    existing = await connection.fetchval(
        SAME_NUMBER_QUERY, draft.vendor_id, number_key, "void", None
    )
    if existing is not None:
        raise Refused(_duplicate(existing))

    computed = taxes.compute(
        [(line.quantity, line.unit_price) for line in draft.lines],
        [taxes.LineTax.bare(line.tax_rate) for line in draft.lines],
        TaxRounding.PER_LINE,
    )
    invoice_id = new_id()
    total = computed.subtotal + computed.tax_total
    currency: str = vendor["default_currency"]
    due_date = draft.issue_date + timedelta(days=vendor["payment_terms_days"])
    near = timedelta(days=NEAR_DAYS)
    twins: list[UUID] = list(
        await connection.fetchval(
            NEAR_DUPLICATES_QUERY,
            draft.vendor_id,
            "invoice",
            currency,
            total,
            draft.issue_date - near,
            draft.issue_date + near,
            number_key,
            "void",
            invoice_id,
            NEAR_LIMIT,
        )
    )
    tenant = caller.tenant
    # The app flushes the four rows at once; its unit of work sends the audit row first
    # (it depends on no other), then the invoice, its lines and the history row.
    changes = {
        "number": draft.number,
        "total": str(total),
        **({"possible_duplicate_of": [str(twin) for twin in twins]} if twins else {}),
    }
    await connection.fetchrow(
        INSERT_AUDIT,
        *(tenant, new_id(), "user", caller.user, "invoice.created", "invoice", invoice_id),
        *(json.dumps(changes), uuid4().hex, caller.ip, (caller.user_agent or "")[:512] or None),
    )
    try:
        written = await connection.fetchrow(
            INSERT_INVOICE,
            *(tenant, invoice_id, draft.vendor_id, draft.number, draft.issue_date, due_date),
            *(currency, "api", draft.po_number, None, computed.subtotal, computed.tax_total),
            *(total, ZERO, "draft", None, "invoice", None, TaxRounding.PER_LINE.value),
            *(json.dumps(computed.summary), number_key, twins, 0, "[]", None, None, 1),
        )
    except asyncpg.UniqueViolationError:  # the same number, committed meanwhile
        existing = await connection.fetchval(
            SAME_NUMBER_QUERY, draft.vendor_id, number_key, "void", None
        )
        raise Refused(_duplicate(existing)) from None
    assert written is not None
    lines = [
        (
            line,
            precise(line.quantity),
            precise(line.unit_price),
            precise(line.tax_rate),
            subtotal,
            tax,
        )
        for line, subtotal, tax in zip(
            draft.lines, computed.line_subtotals, computed.line_taxes, strict=True
        )
    ]
    await connection.execute(
        insert_lines(len(lines)),
        *(
            value
            for position, (line, quantity, unit_price, tax_rate, subtotal, tax) in enumerate(lines)
            for value in (
                *(tenant, new_id(), invoice_id, position, line.description, quantity),
                *(unit_price, tax_rate, subtotal, tax, None, None, None),
            )
        ),
    )
    await connection.fetchrow(
        INSERT_HISTORY, tenant, new_id(), invoice_id, None, "draft", None, "user", caller.user
    )
    await _append_event(connection, tenant, invoice_id, draft.number, currency, total)

    invoice = {
        "id": str(invoice_id),
        "vendor_id": str(draft.vendor_id),
        "number": draft.number,
        "issue_date": draft.issue_date.isoformat(),
        "due_date": due_date.isoformat(),
        "currency": currency,
        "source": "api",
        "po_number": draft.po_number,
        "notes": None,
        "subtotal": str(computed.subtotal),
        "tax_total": str(computed.tax_total),
        "total": str(total),
        "amount_paid": str(ZERO),
        "status": "draft",
        "rejection_reason": None,
        "kind": "invoice",
        "original_invoice_id": None,
        "tax_rounding": TaxRounding.PER_LINE.value,
        "tax_summary": computed.summary,
        "possible_duplicate_of": [str(twin) for twin in twins],
        "match_differences": [],
        "lines": [
            {
                "description": line.description,
                "quantity": str(quantity),
                "unit_price": str(unit_price),
                "tax_rate": str(tax_rate),
                "line_subtotal": str(subtotal),
                "line_tax": str(tax),
                "account_code": None,
                "tax_code": None,
                "purchase_order_line_id": None,
            }
            for line, quantity, unit_price, tax_rate, subtotal, tax in lines
        ],
        "created_at": written["created_at"].isoformat(),
        "updated_at": written["updated_at"].isoformat(),
    }
    return Response(
        json.dumps(invoice),
        status_code=201,
        media_type="application/json",
        headers={"ETag": '"1"', "Location": f"/invoices/{invoice_id}"},
    )


def _duplicate(existing: UUID | None) -> Response:
    return _problem(
        409,
        "This vendor's invoice with this number exists.",
        "duplicate_invoice",
        existing_invoice_id=str(existing),
    )


async def _append_event(
    connection: Connection,
    tenant: UUID,
    invoice_id: UUID,
    number: str,
    currency: str,
    total: Decimal,
) -> None:
    """`invoice.created` as `events.outbox.emit` appends it: the stream's lock, then the
    row and its doorbell (and, should this id sort behind the last one, once more)."""
    await connection.execute(EVENT_LOCK, str(tenant))
    data = {
        "number": number,
        "status": "draft",
        "currency": currency,
        "total": str(total),
        "amount_paid": str(ZERO),
        "version": 1,
    }
    event_id = new_id()
    row = (
        INVOICE_EVENTS["create"],
        invoice_channels(invoice_id),
        Permission.INVOICES_READ.value,
        None,
        "invoice",
        invoice_id,
        json.dumps(data),
    )
    doorbell = outbox.DOORBELL_CHANNEL
    if await connection.fetchrow(EVENT_APPEND, tenant, event_id, *row, True, doorbell) is None:
        event_id = outbox._after(await connection.fetchval(LAST_EVENT, tenant))
        await connection.fetchrow(EVENT_APPEND, tenant, event_id, *row, False, doorbell)


async def in_tenant(
    pool: asyncpg.Pool, tenant: UUID, work: Callable[[Connection], Awaitable[Response]]
) -> Response:
    """`work` in a transaction whose BEGIN carries the tenant: committed, or rolled back
    and answered with the refusal it raised."""
    async with pool.acquire() as connection:
        # A genuine UUID prints as hex digits and dashes only: safe in the statement.
        await connection.execute(f"BEGIN; SET LOCAL {TENANT_SETTING} = '{tenant}';")
        try:
            answer = await work(connection)
        except Refused as refused:
            await connection.execute("ROLLBACK")
            return refused.response
        except BaseException:
            await connection.execute("ROLLBACK")
            raise
        await connection.execute("COMMIT")
    return answer


def create_ceiling(settings: Settings) -> Starlette:
    # The approval builds on this module's pieces: imported once they exist.
    from bench.ceiling_approval import approve_submitted

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

    async def create_invoice(request: Request) -> Response:
        caller = verified_caller(settings, request)
        if isinstance(caller, Response):
            return caller
        draft = parse_draft(await request.body())
        if isinstance(draft, Response):
            return draft
        assert pool is not None
        return await in_tenant(pool, caller.tenant, lambda c: insert_draft(c, caller, draft))

    async def approve_invoice(request: Request) -> Response:
        caller = verified_caller(settings, request)
        if isinstance(caller, Response):
            return caller
        if_match = ", ".join(request.headers.getlist("if-match")) or None
        assert pool is not None
        invoice_id = request.path_params["invoice_id"]
        return await in_tenant(
            pool, caller.tenant, lambda c: approve_submitted(c, caller, invoice_id, if_match)
        )

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
            Route("/invoices", create_invoice, methods=["POST"]),
            Route("/invoices/{invoice_id:uuid}", get_invoice),
            Route("/invoices/{invoice_id:uuid}/approve", approve_invoice, methods=["POST"]),
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
