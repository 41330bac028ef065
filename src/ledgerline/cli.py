"""The `ledgerline` command: serve, migrate, create tenants and admins, demo data."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import shutil
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from ledgerline.config import Environment, Settings
from ledgerline.db import migrate
from ledgerline.db.embedded import (
    EmbeddedServerMissing,
    EmbeddedServerRefused,
    embedded_server,
    owner_url_for,
)
from ledgerline.db.roles import UnsafeDatabaseRole, bootstrap_database
from ledgerline.log import configure_logging
from ledgerline.problems import Problem

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger("ledgerline.cli")

ADMIN_PASSWORD_ENV = "LEDGERLINE_ADMIN_PASSWORD"  # noqa: S105 - a variable name


class CommandError(Exception):
    """A failure the command reports in one line, with exit status 1."""


@contextmanager
def database_ready(settings: Settings) -> Iterator[Settings]:
    """Settings whose DATABASE_URL points at a bootstrapped database.

    With DATABASE_URL unset, starts the embedded server (or joins a running one) for the
    duration of the block. With DATABASE_ADMIN_URL set, creates the roles and database.
    """
    if settings.embedded_database:
        with embedded_server(settings.embedded_data_dir) as admin_url:
            owner_url = owner_url_for(admin_url).render_as_string(hide_password=False)
            ready = settings.model_copy(update={"database_url": owner_url})
            asyncio.run(bootstrap_database(ready, admin_url.render_as_string(hide_password=False)))
            yield ready
        return
    if settings.database_admin_url:
        asyncio.run(bootstrap_database(settings, settings.database_admin_url))
    yield settings


async def check_runtime_role(settings: Settings) -> None:
    """The app's start-up check, run once before uvicorn so a refusal is one clear line."""
    from ledgerline.db.engine import Database
    from ledgerline.db.roles import verify_runtime_role

    database = Database(settings)
    try:
        await verify_runtime_role(database)
    finally:
        await database.dispose()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def check_workers_share_rate_limits(settings: Settings, workers: int) -> None:
    """Several workers with in-memory rate limits count apart, multiplying every limit:
    refused in production, a warning elsewhere."""
    if workers <= 1 or not settings.rate_limit_enabled or settings.rate_limit_storage_shared:
        return
    problem = (
        f"--workers {workers} with in-memory rate limits: each worker counts on its own, "
        f"so every limit is multiplied by {workers}; "
        "set RATE_LIMIT_STORAGE_URL=redis://host:port/db to share one count"
    )
    if settings.environment is Environment.PRODUCTION:
        raise CommandError(f"refusing to start: {problem}")
    logger.warning(problem)


def prepare_multiprocess_metrics(settings: Settings, workers: int) -> None:
    """Several workers keep their metrics in files of one folder, emptied at each start
    (prometheus-client's multiprocess mode): DATA_DIR/metrics, unless
    PROMETHEUS_MULTIPROC_DIR names one already."""
    from ledgerline.metrics import MULTIPROCESS_DIR_ENV

    if workers <= 1 or os.environ.get(MULTIPROCESS_DIR_ENV):
        return
    folder = (settings.data_dir / "metrics").resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROCESS_DIR_ENV] = str(folder)


def serve_http(config: uvicorn.Config, metrics_listener: tuple[str, int] | None = None) -> None:
    """`uvicorn.run`, except that several workers stop taking connections at once, and
    that a METRICS_ADDRESS listener is served beside the main one.

    uvicorn's supervisor keeps its listening socket open while the workers finish their
    requests: new clients would wait in a backlog nobody accepts from. Here it closes
    that socket when told to stop, so they are refused; the workers close theirs too.
    Every worker serves both sockets; the app tells them apart by the local port.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        def terminate_all(self) -> None:
            for listening in self.sockets:
                listening.close()
            super().terminate_all()

    extra_sockets = []
    if metrics_listener is not None:
        host, port = metrics_listener
        # log_config=None: a Config with uvicorn's default would replace the JSON logging.
        listener = uvicorn.Config(config.app, host=host, port=port, log_config=None)
        extra_sockets.append(listener.bind_socket())
    try:
        if config.workers > 1:
            Supervisor(config, sockets=[config.bind_socket(), *extra_sockets]).run()
            return
        server = uvicorn.Server(config)
        server.run(sockets=[config.bind_socket(), *extra_sockets] if extra_sockets else None)
    except KeyboardInterrupt:
        return
    if not server.started:
        raise CommandError("the server did not start")


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    check_workers_share_rate_limits(settings, args.workers)
    prepare_multiprocess_metrics(settings, args.workers)
    with database_ready(settings) as ready:
        migrate.upgrade(ready)
        asyncio.run(check_runtime_role(ready))
        assert ready.database_url is not None
        # Worker processes build their settings from the environment.
        os.environ["DATABASE_URL"] = ready.database_url
        serve_http(
            uvicorn.Config(
                "ledgerline.app:app_from_environment",
                factory=True,
                host=args.host or settings.host,
                port=args.port or settings.port,
                workers=args.workers,
                log_config=None,
                access_log=False,
                proxy_headers=False,
                server_header=False,
                timeout_keep_alive=settings.keep_alive_timeout_seconds,
                timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            ),
            settings.metrics_listener,
        )


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Background jobs in this process until SIGTERM; it waits for `serve` (or
    `ledgerline db upgrade`) to bring the schema to head rather than migrating itself."""
    from ledgerline.worker import run_worker

    if args.concurrency < 1:
        raise CommandError("--concurrency must be at least 1")
    with database_ready(settings) as ready:
        asyncio.run(run_worker(ready, args.concurrency))


def cmd_db(settings: Settings, args: argparse.Namespace) -> None:
    with database_ready(settings) as ready:
        if args.db_command == "upgrade":
            migrate.upgrade(ready, args.revision)
        elif args.db_command == "downgrade":
            migrate.downgrade(ready, args.revision)
        elif args.db_command == "current":
            migrate.current(ready)
        elif args.db_command == "revision":
            # Autogenerate compares the models with a database at head.
            migrate.upgrade(ready)
            path = migrate.revision(ready, args.message, autogenerate=args.autogenerate)
            print(f"wrote {path}")  # noqa: T201
        # "bootstrap" is done by database_ready itself.


def cmd_create_tenant(settings: Settings, args: argparse.Namespace) -> None:
    from ledgerline.db.engine import Database
    from ledgerline.tenants.service import create_tenant

    async def run(ready: Settings) -> None:
        database = Database(ready)
        try:
            async with database.platform_sessions() as session, session.begin():
                tenant = await create_tenant(
                    session, name=args.name, slug=args.slug, plan=args.plan
                )
            print(f"created tenant {tenant.slug} with id {tenant.id}")  # noqa: T201
        except Problem as error:
            raise CommandError(error.detail) from error
        finally:
            await database.dispose()

    with database_ready(settings) as ready:
        migrate.upgrade(ready)
        asyncio.run(run(ready))


def read_admin_password() -> str:
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if password:
        return password
    if not sys.stdin.isatty():
        raise CommandError(f"no terminal to prompt on: set {ADMIN_PASSWORD_ENV}")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != password:
        raise CommandError("the passwords differ")
    return password


async def add_platform_admin(settings: Settings, email: str, full_name: str, password: str) -> bool:
    """A platform ADMIN with this email; False when one exists (nothing changes)."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from ledgerline.security.passwords import Passwords
    from ledgerline.users.models import PlatformAdmin

    password_hash = await Passwords(settings).hash(password)
    engine = create_async_engine(settings.direct_owner_url())
    try:
        async with AsyncSession(engine) as session, session.begin():
            taken = await session.scalar(
                select(PlatformAdmin.id).where(PlatformAdmin.email == email)
            )
            if taken is not None:
                return False
            session.add(
                PlatformAdmin(email=email, full_name=full_name, password_hash=password_hash)
            )
    finally:
        await engine.dispose()
    return True


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> None:
    from ledgerline.security.passwords import check_password_policy

    email = args.email.strip().lower()
    password = read_admin_password()
    try:
        check_password_policy(password)
    except Problem as error:
        raise CommandError(error.detail) from error

    with database_ready(settings) as ready:
        migrate.upgrade(ready)
        if not asyncio.run(add_platform_admin(ready, email, args.full_name, password)):
            raise CommandError(f"an admin with email {email} exists")
        print(f"created platform admin {email}")  # noqa: T201


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """The demo tenant, its users and data, and a platform ADMIN; then how to sign in."""
    from ledgerline import demo

    if settings.environment is Environment.PRODUCTION:
        raise CommandError("refusing to make demo data in production: its passwords are public")
    # One log line per demo request would bury the printout.
    root = logging.getLogger()
    root.setLevel(max(root.level, logging.WARNING))
    with database_ready(settings) as ready:
        migrate.upgrade(ready)
        report = asyncio.run(demo.seed(ready))
        asyncio.run(
            add_platform_admin(
                ready, demo.ADMIN_EMAIL, "Demo platform administrator", demo.PASSWORD
            )
        )
        print(demo.describe(report, settings))  # noqa: T201


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledgerline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate to head, then serve HTTP")
    serve.add_argument("--host", help="default: HOST")
    serve.add_argument("--port", type=int, help="default: PORT")
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser(
        "worker",
        help="run the background jobs (mail outbox, document reading, event retention)"
        " until SIGTERM",
    )
    worker.add_argument(
        "--concurrency", type=int, default=2, help="loops per job queue (default: 2)"
    )
    worker.set_defaults(handler=cmd_worker)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("bootstrap", help="create the roles and database (needs an admin URL)")
    upgrade = db_commands.add_parser("upgrade", help="migrate up")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser("downgrade", help="migrate down")
    downgrade.add_argument("revision", help="e.g. -1 or base")
    db_commands.add_parser("current", help="print the current revision")
    revision = db_commands.add_parser(
        "revision", help="write a new migration, autogenerated from the models' changes"
    )
    revision.add_argument("-m", "--message", required=True, help="what the migration does")
    revision.add_argument(
        "--empty",
        dest="autogenerate",
        action="store_false",
        help="an empty migration to fill by hand (data changes, grants, policies)",
    )
    db.set_defaults(handler=cmd_db)

    tenant = commands.add_parser("create-tenant", help="create a tenant")
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--slug", required=True)
    tenant.add_argument("--plan", default="standard")
    tenant.set_defaults(handler=cmd_create_tenant)

    admin = commands.add_parser(
        "create-admin",
        help=f"create a platform ADMIN (password prompted or from ${ADMIN_PASSWORD_ENV})",
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--full-name", default="Platform administrator")
    admin.set_defaults(handler=cmd_create_admin)

    demo = commands.add_parser(
        "demo",
        help="make a demo tenant with users, vendors, invoices and assets (not in production)",
    )
    demo.set_defaults(handler=cmd_demo)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as error:
        print(f"ledgerline: invalid settings: {error}", file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(settings.log_level)
    # SIGTERM unwinds like Ctrl-C, so an embedded server this command started is stopped.
    # (uvicorn also re-raises a SIGTERM it caught once it has shut down.)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        args.handler(settings, args)
    except (
        CommandError,
        UnsafeDatabaseRole,
        EmbeddedServerRefused,
        EmbeddedServerMissing,
    ) as error:
        print(f"ledgerline: {error}", file=sys.stderr)  # noqa: T201
        return 1
    except (OSError, SQLAlchemyError, asyncpg.PostgresError) as error:
        print(f"ledgerline: database error: {error}", file=sys.stderr)  # noqa: T201
        return 1
    return 0
