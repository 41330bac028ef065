"""Background jobs: the mail outbox, document reading and scheduled depreciation runs,
each queue worked by a number of loops, and the scheduled jobs (event retention), each
run by one loop per process.

`ledgerline worker` runs them in a process of its own (production), and `serve` runs them
inside each API process too while SERVE_RUNS_JOBS is true (development). Either way the
queues are tables claimed under leases (db/leases.py): any number of loops in any number
of processes never take one job twice, and a job whose worker died is taken again once
its lease has run out. A scheduled job is safe to run in several processes at once (its
statement is idempotent), so it needs no lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from sqlalchemy import text

# Every model mapped, so that the ORM resolves the queues' foreign keys (to tenants).
import ledgerline.models  # noqa: F401
from ledgerline.assets.scheduled import ScheduledDepreciation
from ledgerline.config import Settings
from ledgerline.db import outage
from ledgerline.db.engine import Database
from ledgerline.db.migrate import head_revision
from ledgerline.db.outage import DatabaseUnavailable, log_failure
from ledgerline.db.roles import verify_runtime_role
from ledgerline.events.hub import prune_old_events
from ledgerline.invoices.processing import DocumentProcessor
from ledgerline.invoices.storage import DocumentStorage, LocalDocumentStorage
from ledgerline.mail.service import MailSender

logger = logging.getLogger("ledgerline.worker")

SCHEMA_WAIT_SECONDS = 1.0
_VERSION_TABLE_READABLE = text(
    "SELECT coalesce(has_table_privilege(to_regclass('public.alembic_version'), 'SELECT'), false)"
)
_CURRENT_REVISION = text("SELECT version_num FROM alembic_version")


class BackgroundJobs:
    """`concurrency` loops per queue; each claims a batch, works it, and claims again
    while there is work, else waits for the queue's poll interval. One loop per scheduled
    job, which runs it at start and then every interval (again at once while a run found
    work). `stop()` lets each loop finish the batch it holds, within `grace` seconds,
    then cancels what is left (whose claims then wait out their leases)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        storage: DocumentStorage,
        *,
        concurrency: int = 1,
    ) -> None:
        self.mail_sender = MailSender(settings, database)
        self.document_processor = DocumentProcessor(settings, database, storage)
        self.scheduled_depreciation = ScheduledDepreciation(database)
        self._queues: list[tuple[str, Callable[[], Awaitable[int]], float]] = [
            ("mail sender", self.mail_sender.run_once, settings.mail_poll_seconds),
            (
                "document processor",
                self.document_processor.run_once,
                settings.document_poll_seconds,
            ),
            (
                "scheduled depreciation",
                self.scheduled_depreciation.run_once,
                settings.depreciation_poll_seconds,
            ),
        ]
        self._scheduled: list[tuple[str, Callable[[], Awaitable[int]], float]] = [
            (
                "event retention",
                lambda: prune_old_events(settings, database),
                settings.events_prune_interval_seconds,
            ),
        ]
        self.concurrency = concurrency
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(name, run_once, poll_seconds))
            for name, run_once, poll_seconds in self._queues
            for _ in range(self.concurrency)
        ] + [
            asyncio.create_task(self._work(name, run_once, interval))
            for name, run_once, interval in self._scheduled
        ]

    async def _work(
        self, name: str, run_once: Callable[[], Awaitable[int]], poll_seconds: float
    ) -> None:
        while not self._stopping.is_set():
            try:
                while await run_once() and not self._stopping.is_set():
                    pass
            except Exception as error:
                log_failure(logger, f"{name} failed; retrying", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), poll_seconds)

    async def stop(self, grace: float = 0.0) -> None:
        self._stopping.set()
        unfinished: set[asyncio.Task[None]] = set(self._tasks)
        if unfinished and grace > 0:
            _, unfinished = await asyncio.wait(unfinished, timeout=grace)
        for task in unfinished:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_for_schema(database: Database) -> None:
    """Until the runtime role is safe and the schema is at this code's head migration:
    a worker started beside `serve` waits while `serve` migrates (and through an outage)."""
    head = head_revision()
    announced = False
    while True:
        try:
            await verify_runtime_role(database)
            current = None
            async with database.runtime_sessions() as session:
                if await session.scalar(_VERSION_TABLE_READABLE):
                    current = await session.scalar(_CURRENT_REVISION)
            if current == head:
                return
            if not announced:
                logger.info(
                    "waiting for the schema to reach the head migration",
                    extra={"current": current, "head": head},
                )
                announced = True
        except DatabaseUnavailable as error:
            outage.report(error.kind, error)
        await asyncio.sleep(SCHEMA_WAIT_SECONDS)


async def run_worker(settings: Settings, concurrency: int) -> None:
    """`ledgerline worker`: work the queues until SIGTERM or SIGINT, then stop taking
    jobs and give the ones in hand SHUTDOWN_GRACE_SECONDS to finish."""
    database = Database(settings)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    try:
        schema_ready = asyncio.create_task(wait_for_schema(database))
        stopped = asyncio.create_task(stop_requested.wait())
        await asyncio.wait({schema_ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not schema_ready.done():
            schema_ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schema_ready
            return
        stopped.cancel()
        schema_ready.result()
        jobs = BackgroundJobs(
            settings,
            database,
            LocalDocumentStorage(settings.documents_dir),
            concurrency=concurrency,
        )
        jobs.start()
        logger.info("worker started", extra={"concurrency": concurrency})
        await stop_requested.wait()
        logger.info("worker stopping")
        await jobs.stop(grace=float(settings.shutdown_grace_seconds))
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await database.dispose()
    logger.info("worker stopped")
