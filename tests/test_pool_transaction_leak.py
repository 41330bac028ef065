"""A pooled connection left inside a transaction is never handed out again.

A task cancelled while its BEGIN is on the wire leaves the server inside a transaction
that carries that task's tenant; the next transaction on the connection would run inside
it. The pool's checkout guard (db/tenant_context.py) discards such a connection."""

from __future__ import annotations

from uuid import UUID, uuid4

from sqlalchemy import text

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.tenant_context import tenant_scope
from tests.helpers.identity import Account


async def test_a_connection_left_in_another_tenants_transaction_is_not_reused(
    settings: Settings, owner: Account
) -> None:
    other_tenant = uuid4()
    single = settings.model_copy(update={"database_pool_size": 1, "database_max_overflow": 0})
    database = Database(single)
    try:
        async with database.runtime_engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            # What a cancelled BEGIN leaves: the server's transaction, in the owner's
            # tenant, held by asyncpg as the connection's top transaction.
            with tenant_scope(owner.tenant_id):
                await driver.transaction().start()
            leaked_pid = driver.get_server_pid()
        async with database.tenant_transaction(other_tenant) as session:
            tenants = await session.scalar(text("SELECT current_setting('app.tenant_id')"))
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
        assert UUID(str(tenants)) == other_tenant
        assert pid != leaked_pid
    finally:
        await database.dispose()
