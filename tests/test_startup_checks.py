"""The service refuses to start on a runtime role that could escape row-level security.

The check is an allowlist; each case below is a real role that must be refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import URL

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db.engine import Database, create_engine_for
from ledgerline.db.roles import UnsafeDatabaseRole, verify_runtime_role
from tests.helpers.database import admin_execute

PROBE_ROLE = "ledgerline_test_probe"


async def start(settings: Settings) -> None:
    async with LifespanManager(create_app(settings)):
        pass


async def test_the_configured_runtime_role_starts(settings: Settings) -> None:
    await start(settings)


@pytest.mark.parametrize(
    ("runtime_user", "reason"),
    [
        ("postgres", "has SUPERUSER, BYPASSRLS, CREATEROLE, CREATEDB, REPLICATION"),
        ("ledgerline_owner", "owns public.admin_refresh_tokens, public.admin_sessions"),
        ("ledgerline_platform", "has BYPASSRLS"),
    ],
    ids=["superuser", "table-owner", "bypassrls"],
)
async def test_an_unsafe_configured_role_is_refused(
    settings: Settings, runtime_user: str, reason: str
) -> None:
    unsafe = settings.model_copy(update={"database_runtime_user": runtime_user})
    with pytest.raises(UnsafeDatabaseRole, match="refusing to start") as refused:
        await start(unsafe)
    assert reason in str(refused.value)


@pytest.fixture
async def probe_role(admin_url: URL, settings: Settings) -> AsyncIterator[str]:
    """A fresh plain LOGIN role with the runtime role's grants; each test adds one flaw."""
    database = settings.owner_url().database
    await admin_execute(
        admin_url,
        f"DROP ROLE IF EXISTS {PROBE_ROLE}",
        f"CREATE ROLE {PROBE_ROLE} LOGIN",
    )
    await admin_execute(
        admin_url.set(database=database),
        f"GRANT SELECT, INSERT, UPDATE ON users TO {PROBE_ROLE}",
        f"GRANT SELECT ON tenants, alembic_version TO {PROBE_ROLE}",
    )
    yield PROBE_ROLE
    await admin_execute(admin_url.set(database=database), f"DROP OWNED BY {PROBE_ROLE} CASCADE")
    await admin_execute(admin_url, f"DROP ROLE {PROBE_ROLE}")


async def test_a_plain_role_with_dml_grants_starts(settings: Settings, probe_role: str) -> None:
    await start(settings.model_copy(update={"database_runtime_user": probe_role}))


FLAWS = {
    "member-of-owner": ("GRANT ledgerline_owner TO {role}", "is a member of ledgerline_owner"),
    "server-files": ("GRANT pg_read_server_files TO {role}", "is a member of pg_read_server_files"),
    "createrole": ("ALTER ROLE {role} CREATEROLE", "has CREATEROLE"),
    "createdb": ("ALTER ROLE {role} CREATEDB", "has CREATEDB"),
    "replication": ("ALTER ROLE {role} REPLICATION", "has REPLICATION"),
    "truncate": ("GRANT TRUNCATE ON users TO {role}", "holds TRUNCATE, TRIGGER or REFERENCES"),
    "trigger": ("GRANT TRIGGER ON users TO {role}", "holds TRUNCATE, TRIGGER or REFERENCES"),
    "create-in-public": ("GRANT CREATE ON SCHEMA public TO {role}", "may create objects in"),
    "create-schemas": ("GRANT CREATE ON DATABASE {database} TO {role}", "may create schemas"),
    "owns-database": ("ALTER DATABASE {database} OWNER TO {role}", "owns the database"),
    "owns-a-table": ("CREATE TABLE side (id int); ALTER TABLE side OWNER TO {role}", "public.side"),
}


@pytest.mark.parametrize("flaw", FLAWS.keys())
async def test_a_role_with_one_flaw_is_refused(
    admin_url: URL, settings: Settings, probe_role: str, flaw: str
) -> None:
    statement, reason = FLAWS[flaw]
    database = settings.owner_url().database
    assert database is not None
    await admin_execute(
        admin_url.set(database=database), statement.format(role=probe_role, database=database)
    )
    try:
        with pytest.raises(UnsafeDatabaseRole) as refused:
            await start(settings.model_copy(update={"database_runtime_user": probe_role}))
        assert reason in str(refused.value)
    finally:
        await admin_execute(
            admin_url.set(database=database), f"ALTER DATABASE {database} OWNER TO ledgerline_owner"
        )


async def test_a_privileged_login_hiding_behind_a_default_role_is_refused(
    admin_url: URL, settings: Settings, probe_role: str
) -> None:
    """A superuser login whose default role is the runtime role could RESET ROLE."""
    sneaky = "ledgerline_test_sneaky"
    await admin_execute(
        admin_url,
        f"DROP ROLE IF EXISTS {sneaky}",
        f"CREATE ROLE {sneaky} LOGIN SUPERUSER",
        f"GRANT {probe_role} TO {sneaky}",
        f"ALTER ROLE {sneaky} SET role = '{probe_role}'",
    )
    try:
        with pytest.raises(UnsafeDatabaseRole) as refused:
            await start(settings.model_copy(update={"database_runtime_user": sneaky}))
        assert f"logs in as '{sneaky}' but acts as '{probe_role}'" in str(refused.value)
    finally:
        await admin_execute(admin_url, f"DROP ROLE {sneaky}")


async def test_an_engine_that_does_not_carry_the_tenant_is_refused(settings: Settings) -> None:
    database = Database(settings)
    await database.runtime_engine.dispose()
    database.runtime_sessions.configure(
        bind=create_engine_for(settings.runtime_url(), settings, tenant_aware=False)
    )
    try:
        with pytest.raises(UnsafeDatabaseRole, match="does not ride on the transaction"):
            await verify_runtime_role(database)
    finally:
        await database.dispose()
