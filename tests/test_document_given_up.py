"""A document whose last attempt ran past its lease is given up with its `document.failed`
event, written in the document's own tenant: the claim that finds it crosses tenants, the
event never does."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.events.hub import replay
from ledgerline.invoices.processing import GAVE_UP
from tests.helpers.database import owner_sql
from tests.helpers.documents import processor, supplier_invoice_pdf, upload
from tests.helpers.http import API
from tests.helpers.identity import Account, signup


async def stalled_on_its_last_attempt(
    client: httpx.AsyncClient, who: Account, settings: Settings
) -> dict[str, Any]:
    """An uploaded PDF claimed for its last attempt by a worker that never came back."""
    files = (await upload(client, who, ("a.pdf", supplier_invoice_pdf()))).json()["files"]
    await owner_sql(
        settings,
        who.tenant_id,
        "UPDATE invoice_documents SET processing_status = 'processing', attempts = $1,"
        " started_at = now() - interval '1 hour', next_attempt_at = now() - interval '1 second'",
        settings.document_max_attempts,
    )
    return dict(files[0])


async def failed_events(database: Database, who: Account) -> list[dict[str, Any]]:
    async with database.tenant_transaction(who.tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT id, tenant_id, subject_id::text, channels, permission, data"
                " FROM domain_events WHERE type = 'document.failed' ORDER BY id"
            )
        )
    return [dict(row._mapping) for row in rows]


async def test_a_given_up_document_has_its_failed_event_in_its_own_tenant_only(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings, database: Database
) -> None:
    other = await signup(client, "given-up-too")
    mine = await stalled_on_its_last_attempt(client, owner, settings)
    theirs = await stalled_on_its_last_attempt(client, other, settings)

    # One claim finds both tenants' documents; neither is read again.
    assert await processor(app, settings, app.state.document_storage).run_once() == 0

    for who, file in ((owner, mine), (other, theirs)):
        answer = await client.get(f"{API}/documents/{file['document_id']}", headers=who.headers)
        assert (answer.json()["processing_status"], answer.json()["failure_reason"]) == (
            "failed",
            GAVE_UP,
        )
        (event,) = await failed_events(database, who)
        assert event["tenant_id"] == who.tenant_id
        assert event["subject_id"] == file["document_id"]
        assert f"invoice:{file['invoice_id']}" in event["channels"]
        assert event["permission"] == "invoices:read"
        assert event["data"]["failure_reason"] == GAVE_UP
        replayed = [e async for e in replay(database, who.tenant_id, None)]
        assert [(e.type, str(e.subject_id)) for e in replayed if e.type == "document.failed"] == [
            ("document.failed", file["document_id"])
        ]

    # Given up once: a later claim writes no second event.
    assert await processor(app, settings, app.state.document_storage).run_once() == 0
    assert len(await failed_events(database, owner)) == 1


async def test_a_document_still_within_its_lease_is_not_given_up(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings, database: Database
) -> None:
    file = await stalled_on_its_last_attempt(client, owner, settings)
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE invoice_documents SET next_attempt_at = now() + interval '10 minutes'",
    )
    assert await processor(app, settings, app.state.document_storage).run_once() == 0
    answer = await client.get(f"{API}/documents/{file['document_id']}", headers=owner.headers)
    assert answer.json()["processing_status"] == "processing"
    assert await failed_events(database, owner) == []
