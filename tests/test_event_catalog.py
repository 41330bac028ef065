"""Events: every invoice step has one, and once written they stay as written."""

from __future__ import annotations

from uuid import UUID

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from ledgerline.events.catalog import INVOICE_EVENTS
from ledgerline.events.outbox import emit
from ledgerline.invoices.service import TRANSITIONS
from tests.helpers import invoices
from tests.helpers.identity import Account


def test_every_invoice_step_has_an_event() -> None:
    assert set(TRANSITIONS) | {"create", "pay"} <= set(INVOICE_EVENTS)


@pytest.mark.parametrize(
    "statement", ["UPDATE domain_events SET data = '{}'::jsonb", "DELETE FROM domain_events"]
)
async def test_the_runtime_role_cannot_change_or_remove_an_event(
    client: httpx.AsyncClient, database: Database, owner: Account, statement: str
) -> None:
    """Sent directly as the runtime role, past every rule in Python."""
    await invoices.invoice(client, owner, await invoices.vendor(client, owner))
    async with database.tenant_transaction(owner.tenant_id) as session:
        count = await session.scalar(text("SELECT count(*) FROM domain_events"))
    assert count == 1
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(text(statement))


async def test_an_event_after_one_whose_id_is_ahead_of_this_clock_still_sorts_last(
    database: Database, owner: Account
) -> None:
    """Ids are in commit order per tenant even when another process's clock ran ahead:
    the next event's id is moved past the last one."""
    tenant = owner.tenant_id
    ahead = UUID("ffffffff-ffff-7fff-bfff-fffffffffff0")
    event = {
        "subject_type": "invoice",
        "subject_id": ahead,
        "channels": ["invoices"],
        "permission": "invoices:read",
        "data": {},
    }
    async with database.tenant_transaction(tenant) as session:
        await session.execute(
            text(
                "INSERT INTO domain_events (tenant_id, id, type, channels, permission,"
                " subject_type, subject_id, data) VALUES (:tenant, :id, 'invoice.created',"
                " ARRAY['invoices'], 'invoices:read', 'invoice', :id, '{}')"
            ),
            {"tenant": tenant, "id": ahead},
        )
    async with database.tenant_transaction(tenant) as session:
        moved = await emit(session, tenant, "invoice.created", **event)
        fresh = await emit(session, tenant, "invoice.created", **event)
    assert moved == UUID(int=ahead.int + 1)
    assert fresh == UUID(int=ahead.int + 2)
