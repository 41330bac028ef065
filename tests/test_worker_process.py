"""`ledgerline worker`: background jobs in processes of their own.

Two worker processes (two loops each) never send one message twice; a worker killed
mid-job leaves the job to its lease, and another worker takes it once the lease has run
out; `serve` runs the jobs in-process only while SERVE_RUNS_JOBS is true. The workers
run on a database of their own (cloned from the run's template), so the suite's app,
which works the same queues, never competes for their jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import URL

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.tenants.service import create_tenant
from tests.helpers.database import make_settings, recreate_database
from tests.helpers.service_process import free_port

START_TIMEOUT_SECONDS = 60
MESSAGES = 60


@pytest.fixture
async def jobs_settings(admin_url: URL, template_database: str, worker_id: str) -> Settings:
    name = f"ledgerline_jobs_{worker_id}"
    await recreate_database(admin_url, name, template=template_database)
    return make_settings(admin_url, name, mail_poll_seconds=0.1, document_poll_seconds=0.1)


async def new_tenant(settings: Settings) -> UUID:
    database = Database(settings)
    try:
        async with database.platform_sessions() as session, session.begin():
            tenant = await create_tenant(session, name="Queue GmbH", slug="queue")
        return tenant.id
    finally:
        await database.dispose()


async def owner_connection(settings: Settings) -> asyncpg.Connection:
    """The owner, with row security bypassed for reading every tenant's queue rows."""
    return await asyncpg.connect(asyncpg_dsn(settings.owner_url()))


async def queue_messages(settings: Settings, tenant_id: UUID, count: int) -> None:
    conn = await owner_connection(settings)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
            await conn.executemany(
                "INSERT INTO mail_outbox (id, tenant_id, to_address, subject, body, status,"
                " attempts) VALUES (gen_random_uuid(), $1, $2, 'hello', 'body', 'pending', 0)",
                [(tenant_id, f"person{number}@example.com") for number in range(count)],
            )
    finally:
        await conn.close()


async def outbox(settings: Settings, tenant_id: UUID) -> list[asyncpg.Record]:
    conn = await owner_connection(settings)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
            return list(
                await conn.fetch(
                    "SELECT to_address, status, attempts, next_attempt_at FROM mail_outbox"
                )
            )
    finally:
        await conn.close()


class WorkerProcess:
    """`python -m ledgerline worker` on the test database; output in `log`."""

    def __init__(self, settings: Settings, log: Path, concurrency: int, **extra: str) -> None:
        assert settings.database_url is not None
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "MAIL_"))}
        env.update(
            {
                "ENVIRONMENT": "test",
                "LOG_LEVEL": "INFO",
                "DATA_DIR": str(log.parent / "data"),
                "DATABASE_URL": settings.database_url,
                "MAIL_POLL_SECONDS": "0.1",
                "DOCUMENT_POLL_SECONDS": "0.1",
                "SHUTDOWN_GRACE_SECONDS": "5",
            },
            **extra,
        )
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ledgerline", "worker", "--concurrency", str(concurrency)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while "worker started" not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def lines(self) -> list[dict[str, object]]:
        entries = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


@contextlib.contextmanager
def workers(*started: WorkerProcess) -> Iterator[tuple[WorkerProcess, ...]]:
    try:
        yield started
    finally:
        for worker in started:
            worker.stop()


async def wait_until(condition: object, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert callable(condition)
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_two_worker_processes_send_every_message_once(
    jobs_settings: Settings, tmp_path: Path
) -> None:
    tenant_id = await new_tenant(jobs_settings)
    await queue_messages(jobs_settings, tenant_id, MESSAGES)
    first = WorkerProcess(jobs_settings, tmp_path / "first.log", concurrency=2)
    second = WorkerProcess(jobs_settings, tmp_path / "second.log", concurrency=2)
    with workers(first, second):

        async def all_sent() -> bool:
            rows = await outbox(jobs_settings, tenant_id)
            return all(row["status"] == "sent" for row in rows)

        await wait_until(all_sent)
        assert first.stop() == 0
        assert second.stop() == 0

    rows = await outbox(jobs_settings, tenant_id)
    assert len(rows) == MESSAGES
    assert {row["attempts"] for row in rows} == {1}
    sent = Counter(
        str(entry["to"])
        for worker in (first, second)
        for entry in worker.lines()
        if entry.get("message") == "mail (console backend)"
    )
    assert len(sent) == MESSAGES
    assert set(sent.values()) == {1}
    assert all(
        any(entry.get("message") == "worker stopped" for entry in worker.lines())
        for worker in (first, second)
    )


class SilentSmtpServer:
    """Accepts connections and never answers: a send through it hangs mid-job."""

    def __init__(self) -> None:
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.accepted.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_smtp() -> Iterator[SilentSmtpServer]:
    server = SilentSmtpServer()
    try:
        yield server
    finally:
        server.close()


async def test_a_worker_killed_mid_job_leaves_it_to_be_taken_after_its_lease(
    jobs_settings: Settings, tmp_path: Path, silent_smtp: SilentSmtpServer
) -> None:
    tenant_id = await new_tenant(jobs_settings)
    await queue_messages(jobs_settings, tenant_id, 1)
    stuck = WorkerProcess(
        jobs_settings,
        tmp_path / "stuck.log",
        concurrency=1,
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(silent_smtp.port),
        SMTP_TLS="none",
    )
    with workers(stuck):

        async def claimed() -> bool:
            rows = await outbox(jobs_settings, tenant_id)
            return rows[0]["status"] == "sending" and bool(silent_smtp.accepted)

        await wait_until(claimed)
        stuck.kill()

    other = WorkerProcess(jobs_settings, tmp_path / "other.log", concurrency=1)
    with workers(other):
        # Its lease still runs: the other worker leaves it alone.
        await asyncio.sleep(1.0)
        (row,) = await outbox(jobs_settings, tenant_id)
        assert (row["status"], row["attempts"]) == ("sending", 1)

        # The lease runs out: the other worker takes it and sends it.
        conn = await owner_connection(jobs_settings)
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
                await conn.execute(
                    "UPDATE mail_outbox SET next_attempt_at = now() - interval '1 second'"
                )
        finally:
            await conn.close()

        async def sent() -> bool:
            return (await outbox(jobs_settings, tenant_id))[0]["status"] == "sent"

        await wait_until(sent)
    (row,) = await outbox(jobs_settings, tenant_id)
    assert row["attempts"] == 2


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[None]:
    async with LifespanManager(create_app(settings)):
        yield


@pytest.mark.parametrize("serve_runs_jobs", [True, False])
async def test_serve_runs_the_jobs_in_process_only_while_told_to(
    jobs_settings: Settings, serve_runs_jobs: bool
) -> None:
    tenant_id = await new_tenant(jobs_settings)
    await queue_messages(jobs_settings, tenant_id, 3)
    settings = jobs_settings.model_copy(update={"serve_runs_jobs": serve_runs_jobs})
    async with running_app(settings):
        await asyncio.sleep(1.0)
        statuses = {row["status"] for row in await outbox(settings, tenant_id)}
    assert statuses == ({"sent"} if serve_runs_jobs else {"pending"})
