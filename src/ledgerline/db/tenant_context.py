"""The tenant a transaction acts in, carried on the BEGIN that opens it.

Row-level security policies read `app.tenant_id`. Instead of a separate round trip per
transaction, the runtime engine's asyncpg connections append
`SET LOCAL app.tenant_id = '<uuid>'` to the `BEGIN` they already send: both go to the
server in one simple-query message. (`SET LOCAL` rather than `SELECT set_config(...)`:
a utility statement skips the planner; it measured about 1.5 points cheaper.)
The value is transaction-local, so a pooled connection never carries one tenant into the
next transaction, behind PgBouncer in transaction mode too. With no tenant set nothing is
appended and the policies see NULL: zero rows.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerline.db.timeouts import BoundedConnection

TENANT_SETTING = "app.tenant_id"


class _Tenant(NamedTuple):
    id: UUID
    begin_suffix: str  # appended to every BEGIN inside the scope


_NO_TENANT_SUFFIX = f" SET LOCAL {TENANT_SETTING} = '';"
_current_tenant: ContextVar[_Tenant | None] = ContextVar("ledgerline_tenant", default=None)


def current_tenant() -> UUID | None:
    tenant = _current_tenant.get()
    return None if tenant is None else tenant.id


class TenantContextError(RuntimeError):
    """Code tried to switch tenant inside another tenant's scope."""


def _plain_uuid(value: object) -> UUID:
    """A genuine `uuid.UUID` (not a subclass that could render itself as anything)."""
    if type(value) is UUID:
        return value
    if not isinstance(value, UUID):
        raise TypeError(f"a tenant id must be a uuid.UUID, not {type(value).__name__}")
    return UUID(int=value.int)


@lru_cache(maxsize=4096)
def _tenant(tenant_id: UUID) -> _Tenant:
    """Only called with a genuine UUID, whose text is hex digits and dashes: safe in SQL."""
    return _Tenant(tenant_id, f" SET LOCAL {TENANT_SETTING} = '{tenant_id}';")


class tenant_scope:  # used like a function: `with tenant_scope(tenant_id):`
    """Make every transaction opened inside the block act in `tenant_id`.

    A transaction takes the tenant current at its BEGIN, which SQLAlchemy sends with the
    first statement, and keeps it to the end. So scopes do not nest across tenants: a
    switch inside another tenant's scope would silently run in the outer transaction.
    (A transaction begun without a tenant stays without one: it fails closed.) A check
    on every statement was measured instead: SQLAlchemy's per-statement event costs
    about 10% on primary-key reads. A plain class, not a generator: this sits on every
    request's path, where `make bench` counts each microsecond.
    """

    __slots__ = ("_tenant", "_token")

    def __init__(self, tenant_id: UUID) -> None:
        self._tenant = _tenant(_plain_uuid(tenant_id))

    def __enter__(self) -> UUID:
        outer = _current_tenant.get()
        if outer is not None and outer.id != self._tenant.id:
            raise TenantContextError(
                f"cannot act in tenant {self._tenant.id} inside tenant {outer.id}"
            )
        self._token = _current_tenant.set(self._tenant)
        return self._tenant.id

    def __exit__(self, *_: object) -> None:
        _current_tenant.reset(self._token)


def begin_statement(begin: str) -> str:
    """The BEGIN statement asyncpg was about to send, with the current tenant appended.

    Without a tenant the setting is emptied explicitly, so a session-level value left on
    a pooled connection can never leak into a transaction that set none.
    """
    tenant = _current_tenant.get()
    return begin + (_NO_TENANT_SUFFIX if tenant is None else tenant.begin_suffix)


class TenantConnection(BoundedConnection):
    """asyncpg connection whose transaction BEGIN carries the current tenant."""

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's own signature
    ) -> str:
        if not args and query.startswith("BEGIN"):
            query = begin_statement(query)
        result: str = await super().execute(query, *args, timeout=timeout)
        return result


def _refuse_connection_left_in_a_transaction(
    dbapi_connection: Any, record: Any, proxy: Any
) -> None:
    """(Pool checkout.) A connection that comes back from the pool still inside a
    transaction is discarded, and the pool hands out another.

    It happens when a task is cancelled while its BEGIN is on the wire (a WebSocket or
    SSE stream closed during its periodic caller check): the server has begun the
    transaction, with the tenant of that task, but the driver adapter never saw it start,
    so the pool's reset had nothing to roll back, and asyncpg keeps the unfinished
    transaction as the connection's top one. The next transaction on that connection
    would become a SAVEPOINT inside it, acting in the other tenant. Attribute checks
    only: no round trip."""
    driver = getattr(dbapi_connection, "_connection", None)
    if driver is None:
        return
    if driver.is_in_transaction() or getattr(driver, "_top_xact", None) is not None:
        raise exc.DisconnectionError("connection returned inside a transaction")


def install(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine.pool, "checkout", _refuse_connection_left_in_a_transaction)
