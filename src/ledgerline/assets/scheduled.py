"""Scheduled depreciation: a tenant that turns `auto` on has the worker post each month's
depreciation once the month is over.

The worker claims due schedules across tenants under a lease (platform role, `FOR UPDATE
SKIP LOCKED`, committed before the work, like the other queues), then, as the tenant, runs
`accounting.run_depreciation` for the previous month, notes the month and sets the next
attempt to the first day of the next month. A month is never posted twice: the run
posts only what is not posted yet (the unique key of `depreciation_postings`), and a
schedule that already noted the month skips it. A worker that dies leaves its claim to
expire, and the run is tried again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets import accounting
from ledgerline.assets.models import DepreciationSchedule
from ledgerline.audit.models import ActorType
from ledgerline.audit.service import Actor, AuditContext, RequestMeta
from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from ledgerline.db.leases import claim_due
from ledgerline.db.rows import locked_at_version
from ledgerline.ledger.posting import month_of, next_month

logger = logging.getLogger("ledgerline.worker")

LEASE = timedelta(minutes=15)
BATCH_SIZE = 10
# What the scheduled run records as its actor: no user, the worker itself.
WORKER_ACTOR = Actor(ActorType.ANONYMOUS, None)
WORKER_META = RequestMeta(request_id="scheduled-depreciation", ip=None, user_agent="worker")


@dataclass(frozen=True, slots=True)
class Setting:
    auto: bool
    last_period: date | None
    version: int


async def read_setting(session: AsyncSession) -> Setting:
    row = await session.scalar(select(DepreciationSchedule))
    if row is None:
        return Setting(False, None, 1)
    return Setting(row.auto, row.last_period, row.version)


def _first_of_next_month(today: date) -> datetime:
    return datetime.combine(next_month(month_of(today)), time(), tzinfo=UTC)


async def replace_setting(
    session: AsyncSession, audit: AuditContext, *, if_match: str | None, auto: bool
) -> Setting:
    """Turn the scheduled run on or off (If-Match: the version read; the default, off,
    is version 1). Turned on, the worker posts last month at its next look."""
    await session.execute(
        pg_insert(DepreciationSchedule)
        .values(tenant_id=audit.tenant_id, id=new_id(), auto=False, version=1)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    row_id = await session.scalar(select(DepreciationSchedule.id))
    assert row_id is not None
    row = await locked_at_version(
        session, DepreciationSchedule, row_id, if_match, what="depreciation_schedule"
    )
    before = row.auto
    row.auto = auto
    if auto and not before:
        row.next_attempt_at = datetime.now(UTC)
        row.attempts = 0
    await session.flush()
    audit.record(
        session,
        "depreciation_schedule.updated",
        target_type="depreciation_schedule",
        target_id=row.id,
        changes={"auto": {"before": before, "after": auto}},
    )
    return Setting(row.auto, row.last_period, row.version)


class ScheduledDepreciation:
    """The worker's job: `run_once` posts last month for each due tenant, returning how
    many tenants it took."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def run_once(self, today: date | None = None) -> int:
        today = today or datetime.now(UTC).date()
        claimed = await self._claim()
        for tenant_id in claimed:
            try:
                await self._run(tenant_id, today)
            except Exception:
                logger.exception(
                    "scheduled depreciation failed; tried again after its lease",
                    extra={"tenant_id": str(tenant_id)},
                )
        return len(claimed)

    async def _claim(self) -> list[UUID]:
        async with self.database.platform_sessions() as session, session.begin():
            due = await claim_due(
                session,
                DepreciationSchedule,
                ready=DepreciationSchedule.auto.is_(True),
                status=("auto", True),  # a claim is its lease alone: the row stays on
                now=datetime.now(UTC),
                lease=LEASE,
                limit=BATCH_SIZE,
            )
            return [row.tenant_id for row in due]

    async def _run(self, tenant_id: UUID, today: date) -> None:
        month = month_of(month_of(today) - timedelta(days=1))
        async with self.database.tenant_transaction(tenant_id) as session:
            row = await session.scalar(select(DepreciationSchedule).with_for_update())
            if row is None or not row.auto:
                return
            if row.last_period is None or row.last_period < month:
                audit = AuditContext(tenant_id, WORKER_ACTOR, WORKER_META)
                await accounting.run_depreciation(session, audit, month)
                row.last_period = month
            row.next_attempt_at = _first_of_next_month(today)
            row.attempts = 0
