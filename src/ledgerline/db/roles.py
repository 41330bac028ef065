"""The three database roles: creating them, and refusing to run on an unsafe one.

- owner: runs migrations and owns every table (the user of DATABASE_URL);
- runtime: serves tenant requests; NOSUPERUSER, NOBYPASSRLS, owns nothing, DML grants only;
- platform: BYPASSRLS, serves only the platform-admin endpoints.
"""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.tenant_context import TENANT_SETTING, tenant_scope

APP_SCHEMA = "public"


class UnsafeDatabaseRole(RuntimeError):
    """The runtime role could read or change other tenants' rows; the service must not run."""


def asyncpg_dsn(url: URL) -> str:
    """A libpq-style DSN for asyncpg from a SQLAlchemy URL of any driver."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute_formatted(conn: asyncpg.Connection, template: str, *values: str) -> None:
    """Run a utility statement whose identifiers and literals PostgreSQL quotes itself."""
    statement = await conn.fetchval(
        f"SELECT format('{template}', {_placeholders(values)})", *values
    )
    await conn.execute(statement)


def _placeholders(values: tuple[str, ...]) -> str:
    return ", ".join(f"${i}::text" for i in range(1, len(values) + 1))


async def _ensure_role(
    conn: asyncpg.Connection, name: str, attributes: str, password: str | None
) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    verb = "ALTER" if exists else "CREATE"
    await _execute_formatted(conn, f"{verb} ROLE %I WITH {attributes}", name)
    if password:
        await _execute_formatted(conn, "ALTER ROLE %I WITH PASSWORD %L", name, password)


async def bootstrap_database(settings: Settings, admin_url: str) -> None:
    """Create (or bring in line) the three roles and the database. Idempotent.

    `admin_url` is a superuser connection: only a superuser may create a BYPASSRLS role.
    """
    owner = settings.owner_url()
    if not owner.username or not owner.database:
        raise ValueError("DATABASE_URL must name a user and a database")
    conn = await asyncpg.connect(asyncpg_dsn(make_url(admin_url)))
    try:
        await _ensure_role(
            conn,
            owner.username,
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB",
            owner.password if isinstance(owner.password, str) else None,
        )
        await _ensure_role(
            conn,
            settings.database_runtime_user,
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION",
            settings.database_runtime_password.get_secret_value() or None,
        )
        await _ensure_role(
            conn,
            settings.database_platform_user,
            "LOGIN NOSUPERUSER BYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION",
            settings.database_platform_password.get_secret_value() or None,
        )
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", owner.database):
            await _execute_formatted(
                conn, "CREATE DATABASE %I OWNER %I", owner.database, owner.username
            )
    finally:
        await conn.close()


_RUNTIME_ROLE_REPORT = text(
    """
    SELECT r.rolsuper AS is_superuser,
           r.rolbypassrls AS bypasses_rls,
           ARRAY(
               SELECT c.relname::text FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = :schema
                 AND c.relkind IN ('r', 'p', 'v', 'm')
                 AND pg_has_role(r.oid, c.relowner, 'MEMBER')
               ORDER BY c.relname
           ) AS owned_tables,
           ARRAY(
               SELECT m.rolname::text FROM pg_roles m
               WHERE m.oid <> r.oid
                 AND (m.rolsuper OR m.rolbypassrls)
                 AND pg_has_role(r.oid, m.oid, 'MEMBER')
               ORDER BY m.rolname
           ) AS privileged_memberships
    FROM pg_roles r
    WHERE r.rolname = current_user
    """
)


async def verify_runtime_role(database: Database) -> None:
    """Refuse to serve if the runtime role escapes row-level security.

    Then prove that a transaction opened by the runtime engine really carries the
    tenant, and that one opened without a tenant carries none.
    """
    async with database.runtime_sessions() as session:
        row = (await session.execute(_RUNTIME_ROLE_REPORT, {"schema": APP_SCHEMA})).one()
        user = await session.scalar(text("SELECT current_user"))
    problems = []
    if row.is_superuser:
        problems.append("is a superuser")
    if row.bypasses_rls:
        problems.append("has BYPASSRLS")
    if row.owned_tables:
        problems.append(f"owns (or is a member of the owner of) {', '.join(row.owned_tables)}")
    if row.privileged_memberships:
        problems.append(
            f"is a member of privileged role(s) {', '.join(row.privileged_memberships)}"
        )
    if problems:
        raise UnsafeDatabaseRole(
            f"refusing to start: the runtime database role {user!r} "
            + "; ".join(problems)
            + ". Row-level security would not isolate tenants. Use a role that is"
            " NOSUPERUSER, NOBYPASSRLS and owns no table (see README, 'Tenant isolation')."
        )

    probe = uuid.uuid4()
    read_tenant = text(f"SELECT current_setting('{TENANT_SETTING}', true)")
    with tenant_scope(probe):
        async with database.runtime_sessions() as session, session.begin():
            carried = await session.scalar(read_tenant)
    async with database.runtime_sessions() as session, session.begin():
        leftover = await session.scalar(read_tenant)
    if carried != str(probe) or leftover not in (None, ""):
        raise UnsafeDatabaseRole(
            "refusing to start: the tenant context does not ride on the transaction"
            f" (set {probe}, read {carried!r}; next transaction read {leftover!r})"
        )
