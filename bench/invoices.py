"""Invoices among 1,000,000: a read by id, a filtered list's first and deep pages, the export.

1,000 tenants with 10 vendors each and 1,000,000 invoices of one line each are seeded with
COPY; the benchmark tenant (signed up through HTTP) holds 100,000 of them, the other 999
tenants 900 or 901 each. Through the app (HTTP, auth, RLS, tenant context) we time:
- `GET /invoices/{id}` for random ids of the tenant (p50, p99), beside a reference: a bare
  Starlette route on an asyncpg pool (no RLS, no ORM, no auth) running the app's two
  queries (the invoice by tenant_id and id, then its lines by position); the two take
  turns over blocks of the same ids;
- the first page of `?status=approved&total_min=100.00&sort=due_date&limit=50`, and the
  page DEEP_PAGES pages further down its cursor chain (of `?sort=-issue_date` instead,
  should the filtered list be too short);
- the streamed CSV export of the tenant's 100,000 invoices, in rows/s.

The seed and the reference connect as the server's admin role, which bypasses RLS: the
owner role is under FORCE ROW LEVEL SECURITY, so it could neither COPY nor read unscoped.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.database import admin_url, fresh_database
from bench.seed import (
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    VENDOR_COLUMNS,
    invoice_rows,
    issue_and_due_dates,
    shapes,
    vendor_rows,
)
from bench.server import sign_up
from ledgerline.app import create_app
from ledgerline.db.base import new_id
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.invoices.models import Invoice, InvoiceLine

DATABASE = "ledgerline_bench_invoices"
TENANTS = 1_000
VENDORS_PER_TENANT = 10
INVOICES = 1_000_000
BENCH_INVOICES = 100_000  # the benchmark tenant's; the rest is spread over the others
COPY_CHUNK = 100_000  # invoices (and as many lines) per COPY
GETS = 2_000  # reads by id, per variant
BLOCKS = 4  # app and reference alternate over blocks of the ids
WARM_UP = 200
LIST_GETS = 300  # per list page
DEEP_PAGES = 200  # the deep page is this many pages past the first (10,000 rows in)
EXPORT_ROUNDS = 3

FILTERED = {"status": "approved", "total_min": "100.00", "sort": "due_date", "limit": "50"}
UNFILTERED = {"sort": "-issue_date", "limit": "50"}  # the deep page when FILTERED is short
# The reference runs the app's queries, with the tenant in the WHERE instead of the policy.
REFERENCE_INVOICE = (
    f"SELECT {', '.join(c.name for c in Invoice.__table__.columns)} FROM invoices"
    " WHERE tenant_id = $1 AND id = $2"
)
REFERENCE_LINES = (
    f"SELECT {', '.join(c.name for c in InvoiceLine.__table__.columns)} FROM invoice_lines"
    " WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position"
)

COUNTS = """
SELECT (SELECT count(*) FROM tenants) AS tenants,
       (SELECT count(*) FROM vendors) AS vendors,
       (SELECT count(*) FROM invoices) AS invoices,
       (SELECT count(*) FROM invoice_lines) AS lines,
       (SELECT count(*) FROM invoices WHERE tenant_id = $1) AS mine,
       min(n) AS others_min, max(n) AS others_max
FROM (SELECT count(*) AS n FROM invoices WHERE tenant_id <> $1 GROUP BY tenant_id) AS others
"""


async def seed(dsn: str, bench_tenant: UUID) -> tuple[list[UUID], dict[str, Any]]:
    """Tenants, vendors, invoices and lines: the bench tenant's invoice ids; seconds, counts."""
    started = time.perf_counter()
    rng = random.Random(11)
    others = [new_id() for _ in range(TENANTS - 1)]
    spread, extra = divmod(INVOICES - BENCH_INVOICES, len(others))
    counts = [(bench_tenant, BENCH_INVOICES)]
    counts += [(t, spread + (n < extra)) for n, t in enumerate(others)]
    vendors = {tenant: vendor_rows(rng, tenant, VENDORS_PER_TENANT) for tenant, _ in counts}
    line_shapes = shapes(rng)
    days = issue_and_due_dates()
    bench_ids: list[UUID] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "tenants",
            records=[(t, f"t{n:04d}", f"Tenant {n}") for n, t in enumerate(others, 1)],
            columns=["id", "slug", "name"],
        )
        await conn.copy_records_to_table(
            "vendors",
            records=[row for _, rows in vendors.values() for row in rows],
            columns=VENDOR_COLUMNS,
        )
        invoices: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []

        async def flush() -> None:
            await conn.copy_records_to_table("invoices", records=invoices, columns=INVOICE_COLUMNS)
            await conn.copy_records_to_table("invoice_lines", records=lines, columns=LINE_COLUMNS)
            invoices.clear()
            lines.clear()

        for tenant, count in counts:
            rows = invoice_rows(rng, tenant, vendors[tenant][0], count, line_shapes, days)
            for invoice, its_lines in rows:
                invoices.append(invoice)
                lines.extend(its_lines)
            if tenant == bench_tenant:
                bench_ids = [row[1] for row in invoices]
            if len(invoices) >= COPY_CHUNK:
                await flush()
        await flush()
        await conn.execute("ANALYZE tenants, vendors, invoices, invoice_lines")
        seconds = time.perf_counter() - started
        counts_row = await conn.fetchrow(COUNTS, bench_tenant)
    finally:
        await conn.close()
    seeded = {"seed_s": seconds, **dict(counts_row)}
    assert seeded["invoices"] == seeded["lines"] == INVOICES, seeded
    assert seeded["mine"] == BENCH_INVOICES, seeded
    return bench_ids, seeded


def reference_app(pool: asyncpg.Pool) -> Starlette:
    """One route, `GET /invoices/{id}`: the app's two queries on a plain pool, as JSON."""

    async def get_invoice(request: Request) -> Response:
        tenant = UUID(request.headers["x-tenant-id"])
        invoice_id: UUID = request.path_params["invoice_id"]
        async with pool.acquire() as conn, conn.transaction():
            invoice = await conn.fetchrow(REFERENCE_INVOICE, tenant, invoice_id)
            if invoice is None:
                return JSONResponse({"detail": "No such invoice."}, status_code=404)
            lines = await conn.fetch(REFERENCE_LINES, tenant, invoice_id)
        body = {**invoice, "lines": [dict(line) for line in lines]}
        return Response(json.dumps(body, default=str), media_type="application/json")

    return Starlette(routes=[Route("/invoices/{invoice_id:uuid}", get_invoice)])


def _percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


async def _timed_get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, str] | None
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.get(url, headers=headers, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, params, response.status_code, response.text[:500])
    return elapsed, response


async def _by_id(
    app: httpx.AsyncClient,
    reference: httpx.AsyncClient,
    headers: dict[str, str],
    ids: list[UUID],
) -> dict[str, list[float]]:
    """Latencies (ms) of the same reads by id, app and reference in alternating blocks."""
    variants = {"app": (app, "/api/v1/invoices"), "reference": (reference, "/invoices")}
    for invoice_id in ids:  # the pages of these rows into the buffer cache, for both alike
        await _timed_get(reference, f"/invoices/{invoice_id}", headers, None)
    for client, prefix in variants.values():
        for invoice_id in ids[:WARM_UP]:
            await _timed_get(client, f"{prefix}/{invoice_id}", headers, None)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for block in range(BLOCKS):
        order = list(variants) if block % 2 == 0 else list(reversed(variants))
        for name in order:
            client, prefix = variants[name]
            for invoice_id in ids[block::BLOCKS]:
                url = f"{prefix}/{invoice_id}"
                elapsed, response = await _timed_get(client, url, headers, None)
                assert response.json()["id"] == str(invoice_id)
                samples[name].append(elapsed)
    return samples


def _honoured(params: dict[str, str], items: list[dict[str, Any]]) -> bool:
    """Whether a page is what its filters and sort ask for (a missing one is ignored)."""
    if "status" in params and any(i["status"] != params["status"] for i in items):
        return False
    if "total_min" in params and any(
        Decimal(i["total"]) < Decimal(params["total_min"]) for i in items
    ):
        return False
    key = params["sort"].lstrip("-")
    values = [i[key] for i in items]
    return values == sorted(values, reverse=params["sort"].startswith("-"))


async def _cursor_chain(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> list[str]:
    """The cursors of pages 2, 3, ... up to DEEP_PAGES + 1 (fewer when the list ends)."""
    cursors: list[str] = []
    cursor: str | None = None
    while len(cursors) < DEEP_PAGES:
        query = params if cursor is None else {**params, "cursor": cursor}
        _, response = await _timed_get(client, "/api/v1/invoices", headers, query)
        page = response.json()
        assert _honoured(params, page["items"]), f"the list ignores a filter or sort: {query}"
        cursor = page["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    return cursors


async def _lists(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """First page of the filtered list, and a deep page (of it, or of UNFILTERED)."""
    cursors = await _cursor_chain(client, headers, FILTERED)
    deep_params = FILTERED
    if len(cursors) < DEEP_PAGES:
        fallback = await _cursor_chain(client, headers, UNFILTERED)
        if len(fallback) > len(cursors):
            deep_params, cursors = UNFILTERED, fallback
    deep = {**deep_params, "cursor": cursors[-1]} if cursors else FILTERED
    figures: dict[str, Any] = {"deep_params": deep_params, "deep_page": len(cursors) + 1}
    for name, params in (("first", FILTERED), ("deep", deep)):
        for _ in range(WARM_UP // 4):
            await _timed_get(client, "/api/v1/invoices", headers, params)
        figures[name] = [
            (await _timed_get(client, "/api/v1/invoices", headers, params))[0]
            for _ in range(LIST_GETS)
        ]
    return figures


async def _export(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    """Median seconds for the tenant's CSV export, every row counted."""
    seconds = []
    for _ in range(EXPORT_ROUNDS):
        started = time.perf_counter()
        exported = await client.get("/api/v1/invoices/export.csv", headers=headers)
        seconds.append(time.perf_counter() - started)
        assert exported.status_code == 200, (exported.status_code, exported.text[:500])
        assert exported.text.count("\n") == BENCH_INVOICES + 1, exported.text.count("\n")
    return statistics.median(seconds)


async def run() -> dict[str, Any]:
    with admin_url() as admin:
        settings = await fresh_database(admin, DATABASE)
        settings = settings.model_copy(
            update={"rate_limit_default": "100000/minute", "rate_limit_auth": "100000/minute"}
        )
        dsn = asyncpg_dsn(admin.set(database=DATABASE))
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://b", timeout=120
            ) as client:
                signed = await sign_up(client, "Invoices", "invoices")
                headers = signed.headers
                tenant = signed.tenant_id
                ids, seeded = await seed(dsn, UUID(tenant))
                sample = random.Random(3).sample(ids, GETS)
                async with asyncpg.create_pool(dsn, min_size=1, max_size=4) as pool:
                    reference = httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=reference_app(pool)),
                        base_url="http://r",
                    )
                    async with reference:
                        by_id = await _by_id(client, reference, headers, sample)
                lists = await _lists(client, headers)
                export_seconds = await _export(client, headers)
    return {**seeded, **by_id, **lists, "export_s": export_seconds}


def _row(label: str, samples: list[float]) -> str:
    p50, p99 = _percentile(samples, 50), _percentile(samples, 99)
    return f"  {label:<47} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"


def main() -> None:
    print(
        f"invoices: {TENANTS:,} tenants, {INVOICES:,} invoices of one line"
        f" ({BENCH_INVOICES:,} the bench tenant's), through HTTP"
    )
    figures = asyncio.run(run())
    print(
        f"  seeded {figures['tenants']:,} tenants, {figures['vendors']:,} vendors,"
        f" {figures['invoices']:,} invoices, {figures['lines']:,} lines"
        f" in {figures['seed_s']:.1f} s (COPY, then ANALYZE)"
    )
    print(
        f"  invoices of the bench tenant {figures['mine']:,}; of each other tenant"
        f" {figures['others_min']:,} to {figures['others_max']:,}"
    )
    print(_row("GET /invoices/{id}, app", figures["app"]))
    print(_row("GET /invoices/{id}, reference (no RLS/ORM/auth)", figures["reference"]))
    app, reference = figures["app"], figures["reference"]
    ratios = [_percentile(app, q) / _percentile(reference, q) for q in (50, 99)]
    print(f"  {'app / reference':<47} p50 {ratios[0]:6.2f}x     p99 {ratios[1]:6.2f}x")
    print(_row("list, first page", figures["first"]))
    print(_row(f"list, page {figures['deep_page']}", figures["deep"]))
    print(f"    first page: ?{urlencode(FILTERED)}")
    print(f"    deep page:  ?{urlencode(figures['deep_params'])}&cursor=...")
    rate = BENCH_INVOICES / figures["export_s"]
    print(
        f"  {f'export.csv, {BENCH_INVOICES:,} rows (streamed)':<47}"
        f" {figures['export_s'] * 1000:6.0f} ms = {rate:,.0f} rows/s"
    )
