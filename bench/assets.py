"""The asset register and the roll-forward of a tenant with 50,000 assets, a depreciation
run over 50,000 assets for one month, and a 40-year schedule.

Assets and their stored schedules are seeded with COPY (schedules from the engine, cached
per distinct parameter set); the register and the roll-forward are then read through the
app (HTTP, RLS, tenant context), the register as JSON and as streamed CSV. The run is
posted through the app in a second tenant whose 50,000 assets went into service in the
month it posts (one entry per asset).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import date
from decimal import Decimal

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import URL

from bench.database import admin_url, fresh_database
from bench.server import sign_up
from ledgerline.app import create_app
from ledgerline.assets.depreciation import (
    Convention,
    DepreciableAsset,
    DepreciationMethod,
    depreciation_schedule,
)
from ledgerline.db.base import new_id
from ledgerline.db.roles import asyncpg_dsn

ASSETS = 50_000
ROUNDS = 5


def _months(start: date, count: int) -> date:
    total = start.year * 12 + start.month - 1 + count
    return date(total // 12, total % 12 + 1, 1)


async def seed(
    dsn: str, tenant_id: str, category_id: str, *, first: date = date(2023, 1, 1), months: int = 36
) -> None:
    """50,000 assets in service from `first`'s month, spread over `months` months."""
    rng = random.Random(7)
    schedules: dict[tuple[int, int, int], list[tuple[date, Decimal, Decimal]]] = {}
    assets, entries = [], []
    for n in range(ASSETS):
        cost_units, life, month = (
            rng.randrange(10, 200),
            rng.choice((36, 48, 60, 72)),
            rng.randrange(months),
        )
        key = (cost_units, life, month)
        if key not in schedules:
            engine = DepreciableAsset(
                cost=Decimal(cost_units * 100),
                salvage_value=Decimal(cost_units * 10),
                useful_life_months=life,
                in_service_date=_months(first, month),
                method=DepreciationMethod.STRAIGHT_LINE,
                convention=Convention.FULL_MONTH,
            )
            schedules[key] = [
                (row.period_start, row.depreciation, row.accumulated_depreciation)
                for row in depreciation_schedule(engine)
            ]
        asset_id = new_id()
        in_service = _months(first, month)
        assets.append(
            (
                tenant_id,
                asset_id,
                f"A-{n + 1:06d}",
                f"Asset {n}",
                category_id,
                in_service,
                in_service,
                Decimal(cost_units * 100),
                "EUR",
                Decimal(cost_units * 10),
                life,
                "straight_line",
                "full_month",
                "in_service",
                1,
            )
        )
        entries.extend((tenant_id, asset_id, *row) for row in schedules[key])
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "assets",
            records=assets,
            columns=[
                "tenant_id",
                "id",
                "tag",
                "name",
                "category_id",
                "acquisition_date",
                "in_service_date",
                "cost",
                "currency",
                "salvage_value",
                "useful_life_months",
                "depreciation_method",
                "convention",
                "status",
                "version",
            ],
        )
        await conn.copy_records_to_table(
            "depreciation_entries",
            records=entries,
            columns=["tenant_id", "asset_id", "period", "amount", "accumulated"],
        )
        await conn.execute("ANALYZE assets; ANALYZE depreciation_entries")
    finally:
        await conn.close()
    print(f"  seeded {len(assets)} assets, {len(entries)} schedule rows")


async def run() -> dict[str, float]:
    with admin_url() as admin:
        settings = await fresh_database(admin, "ledgerline_bench_assets")
        settings = settings.model_copy(
            update={"rate_limit_default": "100000/minute", "rate_limit_auth": "100000/minute"}
        )
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://b", timeout=120
            ) as client:
                signed = await sign_up(client, "Assets", "assets")
                headers = signed.headers
                category = (
                    await client.post(
                        "/api/v1/asset-categories",
                        headers=headers,
                        json={
                            "name": "Equipment",
                            "depreciation_method": "straight_line",
                            "useful_life_months": 60,
                        },
                    )
                ).json()
                await seed(
                    asyncpg_dsn(admin.set(database="ledgerline_bench_assets")),
                    signed.tenant_id,
                    category["id"],
                )
                json_times, csv_times = [], []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    report = await client.get(
                        "/api/v1/assets/register", params={"as_of": "2025-12-31"}, headers=headers
                    )
                    json_times.append(time.perf_counter() - started)
                    assert report.status_code == 200, report.text
                    assert len(report.json()["assets"]) == ASSETS
                    started = time.perf_counter()
                    exported = await client.get(
                        "/api/v1/assets/register.csv",
                        params={"as_of": "2025-12-31"},
                        headers=headers,
                    )
                    csv_times.append(time.perf_counter() - started)
                    assert exported.text.count("\n") == ASSETS + 1
                rolled_times = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    rolled = await client.get(
                        "/api/v1/assets/roll-forward",
                        params={"from": "2025-01-01", "to": "2025-12-31"},
                        headers=headers,
                    )
                    rolled_times.append(time.perf_counter() - started)
                    assert rolled.status_code == 200, rolled.text
                run_s = await _one_month_run(client, admin)
    forty_years = DepreciableAsset(
        cost=Decimal("1000000.00"),
        salvage_value=Decimal("0"),
        useful_life_months=480,
        in_service_date=date(2026, 1, 1),
        method=DepreciationMethod.DOUBLE_DECLINING_BALANCE,
    )
    started = time.perf_counter()
    for _ in range(100):
        depreciation_schedule(forty_years)
    schedule_ms = (time.perf_counter() - started) * 10
    return {
        "json_s": statistics.median(json_times),
        "csv_s": statistics.median(csv_times),
        "roll_forward_s": statistics.median(rolled_times),
        "run_s": run_s,
        "schedule_ms": schedule_ms,
    }


async def _one_month_run(client: httpx.AsyncClient, admin: URL) -> float:
    """Seconds to post 2025-12 for 50,000 assets in service since that month."""
    signed = await sign_up(client, "Run", "run")
    category = (
        await client.post(
            "/api/v1/asset-categories",
            headers=signed.headers,
            json={
                "name": "Equipment",
                "depreciation_method": "straight_line",
                "useful_life_months": 60,
            },
        )
    ).json()
    await seed(
        asyncpg_dsn(admin.set(database="ledgerline_bench_assets")),
        signed.tenant_id,
        category["id"],
        first=date(2025, 12, 1),
        months=1,
    )
    started = time.perf_counter()
    posted = await client.post(
        "/api/v1/depreciation-runs", json={"period": "2025-12"}, headers=signed.headers
    )
    elapsed = time.perf_counter() - started
    assert posted.status_code == 201, posted.text
    assert posted.json()["month_count"] == ASSETS, posted.text
    return elapsed


def main() -> None:
    print(f"assets: register of {ASSETS} assets as of a date, through HTTP ({ROUNDS} rounds)")
    figures = asyncio.run(run())
    print(
        f"  register (JSON, per asset and category)  {figures['json_s'] * 1000:7.0f} ms"
        "  (target well under 1 s)"
    )
    print(
        f"  register (CSV, streamed)                 {figures['csv_s'] * 1000:7.0f} ms"
        f"  = {ASSETS / figures['csv_s']:,.0f} rows/s"
    )
    print(
        f"  roll-forward of a year                   {figures['roll_forward_s'] * 1000:7.0f} ms"
        "  (target < 1 s)"
    )
    print(
        f"  depreciation run, one month, {ASSETS} assets {figures['run_s']:6.1f} s  (target < 10 s)"
    )
    print(f"  schedule of a 40-year asset (engine)     {figures['schedule_ms']:7.2f} ms")
