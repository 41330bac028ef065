"""Event retention is a background job: `ledgerline worker` prunes events past
EVENTS_RETENTION_DAYS, and `serve` does so only while SERVE_RUNS_JOBS is true."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from asgi_lifespan import LifespanManager

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.events.hub import first_id_at
from tests.test_worker_process import (
    WorkerProcess,
    jobs_settings,
    new_tenant,
    owner_connection,
    wait_until,
    workers,
)

__all__ = ["jobs_settings"]

RETENTION_DAYS = 7


def days_ago(days: int) -> UUID:
    """An event id from `days` days ago (UUIDv7 ids order by time)."""
    return UUID(int=first_id_at(datetime.now(UTC) - timedelta(days=days)).int + 1)


async def add_events(settings: Settings, tenant_id: UUID, ids: list[UUID]) -> None:
    conn = await owner_connection(settings)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
            await conn.executemany(
                "INSERT INTO domain_events (tenant_id, id, type, channels, permission,"
                " subject_type, subject_id, data) VALUES ($1, $2, 'invoice.created',"
                " '{invoices}', 'invoices:read', 'invoice', $2, '{}')",
                [(tenant_id, event_id) for event_id in ids],
            )
    finally:
        await conn.close()


async def kept_events(settings: Settings, tenant_id: UUID) -> set[UUID]:
    conn: asyncpg.Connection = await owner_connection(settings)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
            return {row["id"] for row in await conn.fetch("SELECT id FROM domain_events")}
    finally:
        await conn.close()


async def old_and_recent_events(settings: Settings) -> tuple[UUID, list[UUID], list[UUID]]:
    tenant_id = await new_tenant(settings)
    old = [days_ago(RETENTION_DAYS + 30), days_ago(RETENTION_DAYS + 1)]
    recent = [days_ago(RETENTION_DAYS - 1), new_id()]
    await add_events(settings, tenant_id, old + recent)
    return tenant_id, old, recent


async def test_the_worker_process_prunes_events_past_the_retention(
    jobs_settings: Settings, tmp_path: Path
) -> None:
    tenant_id, _old, recent = await old_and_recent_events(jobs_settings)
    with workers(
        WorkerProcess(
            jobs_settings,
            tmp_path / "worker.log",
            concurrency=1,
            EVENTS_RETENTION_DAYS=str(RETENTION_DAYS),
        )
    ):

        async def pruned() -> bool:
            return await kept_events(jobs_settings, tenant_id) == set(recent)

        await wait_until(pruned)


@pytest.mark.parametrize("serve_runs_jobs", [True, False])
async def test_serve_prunes_only_while_it_runs_the_jobs(
    jobs_settings: Settings, serve_runs_jobs: bool
) -> None:
    tenant_id, old, recent = await old_and_recent_events(jobs_settings)
    settings = jobs_settings.model_copy(
        update={"serve_runs_jobs": serve_runs_jobs, "events_retention_days": RETENTION_DAYS}
    )

    async def pruned() -> bool:
        return await kept_events(settings, tenant_id) == set(recent)

    async with LifespanManager(create_app(settings)):
        if serve_runs_jobs:
            await wait_until(pruned, within=10.0)
        else:
            # The retention job runs as soon as it starts: give it that moment.
            await asyncio.sleep(1.5)
        kept = await kept_events(settings, tenant_id)
    assert kept == (set(recent) if serve_runs_jobs else set(old + recent))
