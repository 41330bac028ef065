"""Events: every invoice step has one, and once written they stay as written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from ledgerline.events.catalog import INVOICE_EVENTS
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
