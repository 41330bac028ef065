"""Row-level security as the runtime role, through the app's own engine and sessions."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from ledgerline.db.roles import asyncpg_dsn
from ledgerline.db.tenant_context import TenantContextError, begin_statement, tenant_scope
from ledgerline.tenants.models import Tenant
from ledgerline.tenants.service import create_tenant
from ledgerline.users.models import TenantRole, User


async def make_tenant(database: Database, slug: str) -> UUID:
    async with database.platform_sessions() as session, session.begin():
        tenant = await create_tenant(session, name=slug.title(), slug=slug)
    return tenant.id


async def add_user(database: Database, tenant_id: UUID, email: str) -> UUID:
    async with database.tenant_transaction(tenant_id) as session:
        user = User(tenant_id=tenant_id, email=email, full_name=email, role=TenantRole.ASSISTANT)
        session.add(user)
    return user.id


@pytest.fixture
async def two_tenants(database: Database) -> tuple[UUID, UUID]:
    a = await make_tenant(database, "alpha")
    b = await make_tenant(database, "beta")
    await add_user(database, a, "ann@alpha.test")
    await add_user(database, a, "art@alpha.test")
    await add_user(database, b, "bob@beta.test")
    return a, b


async def test_no_tenant_set_sees_zero_rows_without_error(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    async with database.runtime_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        assert await session.scalar(select(func.count()).select_from(Tenant)) == 0


async def test_a_tenant_sees_only_its_own_rows_without_any_where_clause(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, b = two_tenants
    async with database.tenant_transaction(a) as session:
        emails = set(await session.scalars(select(User.email)))
        tenants = list(await session.scalars(select(Tenant.id)))
    assert emails == {"ann@alpha.test", "art@alpha.test"}
    assert tenants == [a]
    async with database.tenant_transaction(b) as session:
        assert set(await session.scalars(select(User.email))) == {"bob@beta.test"}


async def test_inserting_a_row_for_another_tenant_is_rejected(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.tenant_transaction(a) as session:
            session.add(
                User(tenant_id=b, email="mallory@beta.test", full_name="M", role="ASSISTANT")
            )
    async with database.tenant_transaction(b) as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_moving_a_row_into_another_tenant_is_rejected(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, b = two_tenants
    with pytest.raises(DBAPIError, match="row-level security"):
        async with database.tenant_transaction(a) as session:
            await session.execute(
                update(User).where(User.email == "ann@alpha.test").values(tenant_id=b)
            )


async def test_updating_another_tenants_row_touches_nothing(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, b = two_tenants
    async with database.tenant_transaction(a) as session:
        result = await session.execute(
            text("UPDATE users SET full_name = 'owned' WHERE email = 'bob@beta.test'")
        )
        assert result.rowcount == 0  # type: ignore[attr-defined]
    async with database.tenant_transaction(b) as session:
        assert await session.scalar(select(User.full_name)) == "bob@beta.test"


async def test_the_runtime_role_cannot_delete_or_switch_off_row_security(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, _ = two_tenants
    for statement in (
        "DELETE FROM users",
        "ALTER TABLE users NO FORCE ROW LEVEL SECURITY",
        "SET LOCAL row_security = off",
        "SELECT * FROM platform_admins",
    ):
        with pytest.raises(DBAPIError):  # noqa: PT012 - the transaction is the unit under test
            async with database.tenant_transaction(a) as session:
                await session.execute(text(statement))
                # SET row_security = off only errors once a policy would filter a query
                await session.execute(text("SELECT * FROM users"))


async def test_a_pooled_connection_never_carries_a_tenant_into_the_next_transaction(
    settings: Settings, two_tenants: tuple[UUID, UUID]
) -> None:
    a, b = two_tenants
    single = Database(
        settings.model_copy(update={"database_pool_size": 1, "database_max_overflow": 0})
    )
    read = text("SELECT pg_backend_pid(), current_setting('app.tenant_id', true)")
    try:
        async with single.tenant_transaction(a) as session:
            pid_a, setting_a = (await session.execute(read)).one()
            emails_a = set(await session.scalars(select(User.email)))
        async with single.tenant_transaction(b) as session:
            pid_b, setting_b = (await session.execute(read)).one()
            emails_b = set(await session.scalars(select(User.email)))
        async with single.runtime_sessions() as session:
            pid_none, setting_none = (await session.execute(read)).one()
            count_none = await session.scalar(select(func.count()).select_from(User))
    finally:
        await single.dispose()
    assert pid_a == pid_b == pid_none
    assert (setting_a, setting_b) == (str(a), str(b))
    assert emails_a == {"ann@alpha.test", "art@alpha.test"}
    assert emails_b == {"bob@beta.test"}
    assert setting_none in (None, "")
    assert count_none == 0


async def test_concurrent_transactions_each_see_their_own_tenant(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, b = two_tenants

    async def emails(tenant: UUID) -> set[str]:
        async with database.tenant_transaction(tenant) as session:
            await session.execute(text("SELECT pg_sleep(0.01)"))
            return set(await session.scalars(select(User.email)))

    results = await asyncio.gather(*(emails(t) for t in [a, b] * 10))
    assert results == [{"ann@alpha.test", "art@alpha.test"}, {"bob@beta.test"}] * 10


class RenderedUUID(UUID):
    """A UUID subclass that renders itself as SQL."""

    def __str__(self) -> str:
        return "'; RESET ROLE; SELECT '"


def test_only_a_genuine_uuid_reaches_the_sql_text() -> None:
    with pytest.raises(TypeError), tenant_scope("' OR true --"):  # type: ignore[arg-type]
        pass
    hostile = RenderedUUID(int=new_id().int)
    with tenant_scope(hostile) as tenant:
        assert type(tenant) is UUID
        statement = begin_statement("BEGIN;")
    assert statement == f"BEGIN; SET LOCAL app.tenant_id = '{UUID(int=hostile.int)}';"
    assert begin_statement("BEGIN;") == "BEGIN; SET LOCAL app.tenant_id = '';"


def test_scopes_do_not_nest_across_tenants() -> None:
    a, b = new_id(), new_id()
    with tenant_scope(a), tenant_scope(a):
        pass
    with tenant_scope(a), pytest.raises(TenantContextError), tenant_scope(b):
        pass


async def test_a_transaction_begun_without_a_tenant_stays_without_one(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, _ = two_tenants
    async with database.runtime_sessions() as session, session.begin():
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        with tenant_scope(a):
            assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_a_session_level_setting_never_leaks_into_a_transaction_without_tenant(
    settings: Settings, two_tenants: tuple[UUID, UUID]
) -> None:
    a, _ = two_tenants
    single = Database(
        settings.model_copy(update={"database_pool_size": 1, "database_max_overflow": 0})
    )
    try:
        async with single.runtime_sessions() as session, session.begin():
            await session.execute(text(f"SELECT set_config('app.tenant_id', '{a}', false)"))
        async with single.runtime_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(User)) == 0
    finally:
        await single.dispose()


async def test_even_the_owner_is_confined_because_row_security_is_forced(
    settings: Settings, two_tenants: tuple[UUID, UUID]
) -> None:
    a, _ = two_tenants
    owner = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    try:
        assert await owner.fetchval("SELECT count(*) FROM users") == 0
        async with owner.transaction():
            await owner.execute(f"SET LOCAL app.tenant_id = '{a}'")
            assert await owner.fetchval("SELECT count(*) FROM users") == 2
    finally:
        await owner.close()


async def test_a_tenant_transaction_rolls_back_when_its_block_raises(
    database: Database, two_tenants: tuple[UUID, UUID]
) -> None:
    a, _ = two_tenants
    with pytest.raises(LookupError):  # noqa: PT012 - the transaction block is the subject
        async with database.tenant_transaction(a) as session:
            session.add(User(tenant_id=a, email="gone@alpha.test", full_name="G", role="ASSISTANT"))
            await session.flush()
            raise LookupError
    async with database.tenant_transaction(a) as session:
        assert "gone@alpha.test" not in set(await session.scalars(select(User.email)))
