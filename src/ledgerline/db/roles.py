"""The three database roles: creating them, and refusing to run on an unsafe one.

- owner: runs migrations and owns every table (the user of DATABASE_URL);
- runtime: serves tenant requests; NOSUPERUSER, NOBYPASSRLS, owns nothing, DML grants only;
- platform: BYPASSRLS, serves only the platform-admin endpoints.
"""

from __future__ import annotations

import uuid
from typing import Any

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


async def _create_role_if_missing(
    conn: asyncpg.Connection, name: str, attributes: str, password: str | None
) -> None:
    """An existing role is left exactly as it is: bootstrap never alters or demotes one
    (the start-up check then judges the runtime role as it finds it)."""
    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
        return
    if password:
        await _execute_formatted(
            conn, f"CREATE ROLE %I WITH {attributes} PASSWORD %L", name, password
        )
    else:
        await _execute_formatted(conn, f"CREATE ROLE %I WITH {attributes}", name)


async def bootstrap_database(settings: Settings, admin_url: str) -> None:
    """Create whatever is missing of the three roles and the database. Idempotent.

    `admin_url` is a superuser connection: only a superuser may create a BYPASSRLS role.
    Statement logging is off for this session, so no password reaches the server log.
    """
    owner = settings.direct_owner_url()
    if not owner.username or not owner.database:
        raise ValueError("DATABASE_URL must name a user and a database")
    conn = await asyncpg.connect(asyncpg_dsn(make_url(admin_url)))
    try:
        await conn.execute("SET log_statement = 'none'; SET log_min_duration_statement = -1")
        await _create_role_if_missing(
            conn,
            owner.username,
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB",
            owner.password if isinstance(owner.password, str) else None,
        )
        await _create_role_if_missing(
            conn,
            settings.database_runtime_user,
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION",
            settings.database_runtime_password.get_secret_value() or None,
        )
        await _create_role_if_missing(
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


# What the role logged in as (session_user, so a role default or SET ROLE cannot hide a
# privileged login) may do beyond plain DML under row-level security.
_RUNTIME_ROLE_REPORT = text(
    """
    WITH me AS (SELECT * FROM pg_roles WHERE rolname = session_user)
    SELECT session_user::text AS login, current_user::text AS acting,
           me.rolsuper, me.rolbypassrls, me.rolcreaterole, me.rolcreatedb, me.rolreplication,
           ARRAY(SELECT r.rolname::text FROM pg_auth_members m
                 JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = me.oid
                 ORDER BY 1) AS memberships,
           ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relowner = me.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                   AND n.nspname !~ '^(pg_|information_schema$)'
                 ORDER BY 1) AS owned_relations,
           ARRAY(SELECT n.nspname::text FROM pg_namespace n
                 WHERE n.nspowner = me.oid ORDER BY 1) AS owned_schemas,
           (SELECT d.datdba = me.oid FROM pg_database d
            WHERE d.datname = current_database()) AS owns_database,
           has_database_privilege(me.oid, current_database(), 'CREATE') AS creates_schemas,
           ARRAY(SELECT n.nspname::text FROM pg_namespace n
                 WHERE n.nspname !~ '^(pg_|information_schema$)'
                   AND has_schema_privilege(me.oid, n.oid, 'CREATE')
                 ORDER BY 1) AS creatable_schemas,
           ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname !~ '^(pg_|information_schema$)'
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND has_table_privilege(me.oid, c.oid, 'TRUNCATE, TRIGGER, REFERENCES')
                 ORDER BY 1) AS beyond_dml
    FROM me
    """
)


def runtime_role_problems(report: Any) -> list[str]:
    """Everything that lets the runtime role escape row-level security; empty when safe.

    An allowlist: a plain LOGIN role, member of no role, owning nothing, creating
    nothing, with no table privilege beyond SELECT, INSERT, UPDATE and DELETE (TRUNCATE
    ignores row security).
    """
    problems = []
    if report.login != report.acting:
        problems.append(f"logs in as {report.login!r} but acts as {report.acting!r}")
    attributes = {
        "SUPERUSER": report.rolsuper,
        "BYPASSRLS": report.rolbypassrls,
        "CREATEROLE": report.rolcreaterole,
        "CREATEDB": report.rolcreatedb,
        "REPLICATION": report.rolreplication,
    }
    if held := [name for name, present in attributes.items() if present]:
        problems.append(f"has {', '.join(held)}")
    if report.memberships:
        problems.append(f"is a member of {', '.join(report.memberships)}")
    owned = [*report.owned_relations, *(f"schema {n}" for n in report.owned_schemas)]
    if report.owns_database:
        owned.append("the database")
    if owned:
        problems.append(f"owns {', '.join(owned)}")
    if report.creates_schemas:
        problems.append("may create schemas in the database")
    if report.creatable_schemas:
        problems.append(f"may create objects in schema {', '.join(report.creatable_schemas)}")
    if report.beyond_dml:
        problems.append(f"holds TRUNCATE, TRIGGER or REFERENCES on {', '.join(report.beyond_dml)}")
    return problems


async def verify_runtime_role(database: Database) -> None:
    """Refuse to serve if the runtime role escapes row-level security.

    Then prove that a transaction opened by the runtime engine really carries the
    tenant, and that one opened without a tenant carries none.
    """
    async with database.runtime_sessions() as session:
        report = (await session.execute(_RUNTIME_ROLE_REPORT)).one()
    if problems := runtime_role_problems(report):
        raise UnsafeDatabaseRole(
            f"refusing to start: the runtime database role {report.login!r} "
            + "; ".join(problems)
            + ". Row-level security would not isolate tenants. Use a plain LOGIN role that"
            " owns nothing and holds only SELECT, INSERT, UPDATE, DELETE grants"
            " (see README, 'Tenant isolation')."
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
