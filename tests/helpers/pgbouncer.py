"""PgBouncer in transaction mode in front of the test PostgreSQL, on a free port.

The Debian package (`apt-get install pgbouncer`, 1.18 on Debian 12) is what `.ci/run`
installs. Without the binary the tests that need it skip, except in CI (CI=true), where
that is a failure. When running as root PgBouncer refuses to start unless told which
user to become: the embedded server's own system user, which can reach its socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from ledgerline.config import Settings
from tests.helpers.database import make_settings
from tests.helpers.service_process import EMBEDDED_SYSTEM_USER, free_port

START_TIMEOUT_SECONDS = 10
# Server connections per (database, user): the runtime pool of several API processes
# queues on these; PostgreSQL's max_connections bounds their sum.
DEFAULT_POOL_SIZE = 20
ROLES = ("ledgerline_owner", "ledgerline_app", "ledgerline_platform", "postgres")


def pgbouncer_binary() -> str:
    binary = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if binary is not None:
        return binary
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("pgbouncer is not installed; .ci/run installs it (apt-get)")
    pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")


def server_address(admin_url: URL) -> tuple[str, int]:
    """Where PostgreSQL listens: the unix socket folder (embedded) or host, and port."""
    socket_dir = admin_url.query.get("host")
    host = str(socket_dir) if socket_dir else (admin_url.host or "127.0.0.1")
    return host, admin_url.port or 5432


class PgBouncer:
    """A running pgbouncer process; `url(settings)` routes settings through it."""

    def __init__(self, admin_url: URL, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        binary = pgbouncer_binary()
        self.directory = Path(tempfile.mkdtemp(prefix="ledgerline-pgbouncer-"))
        self.port = free_port()
        host, port = server_address(admin_url)
        password = admin_url.password or ""
        users = "".join(f'"{role}" "{password if role == "postgres" else ""}"\n' for role in ROLES)
        (self.directory / "users.txt").write_text(users)
        as_root = os.geteuid() == 0
        config = [
            "[databases]",
            f"* = host={host} port={port}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.directory / 'users.txt'}",
            "pool_mode = transaction",
            "max_client_conn = 2000",
            f"default_pool_size = {pool_size}",
            "max_db_connections = 0",
            "server_reset_query =",
            "ignore_startup_parameters = extra_float_digits",
            f"logfile = {self.directory / 'pgbouncer.log'}",
            f"pidfile = {self.directory / 'pgbouncer.pid'}",
            *([f"user = {EMBEDDED_SYSTEM_USER}"] if as_root else []),
        ]
        (self.directory / "pgbouncer.ini").write_text("\n".join(config) + "\n")
        if as_root:
            shutil.chown(self.directory, EMBEDDED_SYSTEM_USER)
            for child in self.directory.iterdir():
                shutil.chown(child, EMBEDDED_SYSTEM_USER)
        self.process = subprocess.Popen(
            [binary, str(self.directory / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"pgbouncer exited:\n{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"pgbouncer did not listen:\n{self.log()}")

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def owner_url(self, database: str) -> str:
        return f"postgresql://ledgerline_owner@127.0.0.1:{self.port}/{database}"

    def settings(self, direct: Settings, **overrides: object) -> Settings:
        """`direct`'s settings with DATABASE_URL through PgBouncer and the direct URL kept
        for migrations (and LISTEN)."""
        database = direct.owner_url().database
        assert database is not None
        values: dict[str, object] = {
            "database_url": self.owner_url(database),
            "database_direct_url": direct.owner_url().render_as_string(hide_password=False),
            "database_transaction_pooler": True,
        }
        values.update(overrides)
        return direct.model_copy(update=values)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


@contextlib.contextmanager
def pgbouncer(admin_url: URL, pool_size: int = DEFAULT_POOL_SIZE) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(admin_url, pool_size)
    try:
        yield bouncer
    finally:
        bouncer.stop()


def settings_through(bouncer: PgBouncer, admin_url: URL, database: str) -> Settings:
    """Test settings for `database`, through `bouncer`."""
    return bouncer.settings(make_settings(admin_url, database))
