"""Every table keeps the tenancy invariants; a table that breaks one fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from ledgerline.config import Settings
from ledgerline.db.rls import tenant_rls_statements
from ledgerline.db.roles import asyncpg_dsn
from tests.helpers.catalog import catalog_violations


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """An owner connection inside a transaction that is rolled back: DDL leaves no trace."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield conn
    finally:
        await transaction.rollback()
        await conn.close()


async def violations(conn: asyncpg.Connection, settings: Settings) -> list[str]:
    return await catalog_violations(conn, settings.database_runtime_user)


async def test_the_migrated_schema_keeps_every_invariant(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    assert await violations(owner, settings) == []


async def add_table(conn: asyncpg.Connection, ddl: str, *, rls: bool = True) -> None:
    await conn.execute(ddl)
    if rls:
        for statement in tenant_rls_statements("widgets"):
            await conn.execute(statement)


GOOD_WIDGETS = """
CREATE TABLE widgets (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    code text NOT NULL,
    owner_id uuid,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
)
"""


async def test_a_well_formed_tenant_table_passes(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await add_table(owner, GOOD_WIDGETS)
    assert await violations(owner, settings) == []


async def test_a_table_without_tenant_id_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await add_table(owner, "CREATE TABLE widgets (id uuid PRIMARY KEY)", rls=False)
    assert await violations(owner, settings) == [
        "widgets: no tenant_id column and not a declared global table"
    ]


async def test_a_tenant_table_without_row_security_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await add_table(owner, GOOD_WIDGETS, rls=False)
    assert await violations(owner, settings) == [
        "widgets: row level security is not enabled",
        "widgets: row level security is not forced",
        "widgets: no row level security policy",
    ]


async def test_row_security_that_is_not_forced_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await add_table(owner, GOOD_WIDGETS)
    await owner.execute("ALTER TABLE widgets NO FORCE ROW LEVEL SECURITY")
    assert await violations(owner, settings) == ["widgets: row level security is not forced"]


@pytest.mark.parametrize(
    "policy",
    [
        "CREATE POLICY open ON widgets USING (true)",
        "CREATE POLICY half ON widgets USING (tenant_id = (SELECT NULLIF("
        "current_setting('app.tenant_id', true), '')::uuid)) WITH CHECK (true)",
        "CREATE POLICY unsafe ON widgets USING (tenant_id = current_setting('app.tenant_id')::uuid)"
        " WITH CHECK (tenant_id = current_setting('app.tenant_id')::uuid)",
    ],
    ids=["always-true", "open-with-check", "without-nullif"],
)
async def test_a_policy_that_does_not_confine_both_reads_and_writes_fails(
    owner: asyncpg.Connection, settings: Settings, policy: str
) -> None:
    await add_table(owner, GOOD_WIDGETS)
    await owner.execute(policy)
    problems = await violations(owner, settings)
    assert problems
    assert all(problem.startswith("widgets: policy") for problem in problems)


async def test_a_key_that_does_not_lead_with_tenant_id_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await add_table(
        owner,
        """CREATE TABLE widgets (tenant_id uuid NOT NULL, id uuid NOT NULL, code text,
           PRIMARY KEY (id, tenant_id), UNIQUE (code))""",
    )
    await owner.execute("CREATE UNIQUE INDEX widgets_code_lower ON widgets (lower(code))")
    problems = await violations(owner, settings)
    assert "widgets: primary key widgets_pkey starts with id, not tenant_id" in problems
    assert "widgets: unique key widgets_code_key starts with code, not tenant_id" in problems
    assert any("widgets_code_lower" in problem for problem in problems)


async def test_a_reference_to_another_tenant_table_by_id_alone_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await owner.execute("ALTER TABLE users ADD CONSTRAINT users_id_key UNIQUE (id)")
    await add_table(
        owner,
        """CREATE TABLE widgets (tenant_id uuid NOT NULL, id uuid NOT NULL,
           owner_id uuid REFERENCES users (id), PRIMARY KEY (tenant_id, id))""",
    )
    problems = await violations(owner, settings)
    assert any(
        "widgets_owner_id_fkey to tenant table users is not composite" in p for p in problems
    )


async def test_a_nullable_tenant_id_fails(owner: asyncpg.Connection, settings: Settings) -> None:
    await add_table(
        owner,
        "CREATE TABLE widgets (tenant_id uuid, id uuid NOT NULL, UNIQUE (tenant_id, id))",
    )
    problems = await violations(owner, settings)
    assert "widgets: tenant_id is uuid, not uuid not null" in problems
    assert "widgets: no primary key" in problems


async def test_runtime_access_to_platform_admins_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await owner.execute(f'GRANT SELECT ON platform_admins TO "{settings.database_runtime_user}"')
    assert await violations(owner, settings) == [
        "platform_admins: the runtime role has a privilege on it"
    ]


async def test_a_tenant_table_in_another_schema_is_checked_too(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await owner.execute(
        "CREATE SCHEMA billing;"
        " CREATE TABLE billing.payments (tenant_id uuid NOT NULL, id uuid PRIMARY KEY)"
    )
    problems = await violations(owner, settings)
    assert "billing.payments: row level security is not enabled" in problems
    assert "billing.payments: primary key billing.payments_pkey starts with id, not tenant_id" in (
        problems
    )


async def test_a_materialized_view_fails(owner: asyncpg.Connection, settings: Settings) -> None:
    await owner.execute(
        "CREATE MATERIALIZED VIEW user_counts AS SELECT tenant_id, count(*) FROM users GROUP BY 1"
    )
    assert await violations(owner, settings) == [
        "user_counts: a materialized view cannot carry row security"
    ]


async def test_a_view_must_run_with_the_callers_row_security(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await owner.execute("CREATE VIEW user_emails AS SELECT tenant_id, email FROM users")
    assert await violations(owner, settings) == [
        "user_emails: a view must be security_invoker (else it skips RLS)"
    ]
    await owner.execute("ALTER VIEW user_emails SET (security_invoker = true)")
    assert await violations(owner, settings) == []


async def test_an_exclusion_constraint_across_tenants_fails(
    owner: asyncpg.Connection, settings: Settings
) -> None:
    await add_table(
        owner,
        """CREATE TABLE widgets (tenant_id uuid NOT NULL, id uuid NOT NULL, code text,
           PRIMARY KEY (tenant_id, id), EXCLUDE USING btree (code WITH =))""",
    )
    problems = await violations(owner, settings)
    assert problems == [
        "widgets: exclusion constraint widgets_code_excl starts with code, not tenant_id"
    ]


@pytest.mark.parametrize("privilege", ["TRUNCATE", "TRIGGER", "REFERENCES"])
async def test_a_runtime_grant_beyond_plain_dml_fails(
    owner: asyncpg.Connection, settings: Settings, privilege: str
) -> None:
    await owner.execute(f'GRANT {privilege} ON users TO "{settings.database_runtime_user}"')
    assert await violations(owner, settings) == [
        "users: the runtime role holds TRUNCATE, TRIGGER or REFERENCES"
    ]
