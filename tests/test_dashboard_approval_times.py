"""The median submit-to-approve time reads the times each invoice keeps (migration 0024):
its latest submission and its approval, set by the database as its status changes. A
reject -> reopen -> resubmit starts the clock again; the times follow the status history
when that is corrected; nothing writes them directly."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from tests.helpers.database import owner_sql
from tests.helpers.http import API
from tests.helpers.identity import Account
from tests.helpers.invoices import invoice, step, vendor


async def resubmitted_and_approved(
    client: httpx.AsyncClient, who: Account, vendor_id: str, number: str
) -> str:
    """An invoice submitted, rejected, reopened, submitted again and approved."""
    created = await invoice(client, who, vendor_id, number=number, due_date="2026-04-01")
    assert created.status_code == 201, created.text
    invoice_id = str(created.json()["id"])
    for action, body in (
        ("submit", None),
        ("reject", {"reason": "wrong cost centre"}),
        ("reopen", None),
        ("submit", None),
        ("approve", None),
    ):
        answer = await step(client, who, invoice_id, action, body)
        assert answer.status_code == 200, (action, answer.text)
    return invoice_id


async def test_the_approval_clock_starts_at_the_resubmission(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    invoice_id = await resubmitted_and_approved(client, owner, await vendor(client, owner), "R-1")
    history = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT to_status, occurred_at FROM invoice_status_history"
        " WHERE invoice_id = $1 ORDER BY occurred_at",
        invoice_id,
    )
    submissions = [row["occurred_at"] for row in history if row["to_status"] == "submitted"]
    (approval,) = [row["occurred_at"] for row in history if row["to_status"] == "approved"]
    assert len(submissions) == 2
    assert submissions[0] < submissions[1]
    (kept,) = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT submitted_at, approved_at FROM invoices WHERE id = $1",
        invoice_id,
    )
    assert (kept["submitted_at"], kept["approved_at"]) == (submissions[1], approval)


async def test_the_median_after_reject_reopen_resubmit_approve(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    vendor_id = await vendor(client, owner)
    await resubmitted_and_approved(client, owner, vendor_id, "R-1")
    other_total = [{"description": "Toner", "quantity": "1", "unit_price": "7.00"}]
    plain = await invoice(
        client, owner, vendor_id, number="R-2", due_date="2026-04-01", lines=other_total
    )
    for action in ("submit", "approve"):
        assert (await step(client, owner, str(plain.json()["id"]), action)).status_code == 200
    # first submitted at 00:00, rejected at 01:00, reopened at 02:00, submitted again
    # at 10:00 and approved at 13:00: 3 hours, not 13. R-2: submitted at 00:00 and
    # approved at 05:00. The median of 3 and 5 hours is 4.
    await owner_sql(
        settings,
        owner.tenant_id,
        """
        UPDATE invoice_status_history h
        SET occurred_at = timestamptz '2026-06-01 00:00:00+00' + CASE
            WHEN i.number = 'R-2' AND h.to_status = 'approved' THEN interval '5 hours'
            WHEN i.number = 'R-2' THEN interval '0'
            WHEN h.to_status = 'submitted' AND h.from_status = 'draft'
                 AND h.occurred_at > (SELECT min(f.occurred_at) FROM invoice_status_history f
                                      WHERE f.invoice_id = h.invoice_id
                                        AND f.to_status = 'rejected')
                THEN interval '10 hours'
            WHEN h.to_status = 'submitted' THEN interval '0'
            WHEN h.to_status = 'rejected' THEN interval '1 hour'
            WHEN h.to_status = 'draft' AND h.from_status = 'rejected' THEN interval '2 hours'
            WHEN h.to_status = 'approved' THEN interval '13 hours'
            ELSE h.occurred_at - timestamptz '2026-06-01 00:00:00+00' END
        FROM invoices i
        WHERE i.id = h.invoice_id
        """,
    )
    answer = await client.get(
        f"{API}/dashboard/summary", params={"currency": "EUR"}, headers=owner.headers
    )
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["rows"]
    assert row["median_submit_to_approve_hours"] == "4.00"


@pytest.mark.parametrize(
    "assignment", ["approved_at = now() - interval '1 day'", "submitted_at = now()"]
)
async def test_the_runtime_role_cannot_write_the_approval_times(
    client: httpx.AsyncClient, owner: Account, database: Database, assignment: str
) -> None:
    created = await invoice(client, owner, await vendor(client, owner), number="W-1")
    invoice_id = str(created.json()["id"])
    for action in ("submit", "approve"):
        assert (await step(client, owner, invoice_id, action)).status_code == 200
    with pytest.raises(DBAPIError, match="follow its status"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(f"UPDATE invoices SET {assignment} WHERE id = :id"),  # noqa: S608
                {"id": invoice_id},
            )
