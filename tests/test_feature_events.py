"""The events of assets, transfers and financing: each step through HTTP writes its one
event, on the channels and with the permission its catalogue entry names."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from tests.helpers import assets, documents, financing, ledger
from tests.helpers.http import API
from tests.helpers.identity import Account


async def events(database: Database, who: Account) -> list[dict[str, Any]]:
    async with database.tenant_transaction(who.tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT type, channels, permission, subject_type, subject_id::text, data"
                " FROM domain_events ORDER BY id"
            )
        )
    return [dict(row._mapping) for row in rows]


async def test_asset_steps_have_events(
    client: httpx.AsyncClient, database: Database, owner: Account
) -> None:
    category_id = await assets.category(client, owner)
    asset = await assets.asset(client, owner, category_id)
    ran = await client.post(
        f"{API}/depreciation-runs", json={"period": "2026-02"}, headers=owner.headers
    )
    assert ran.status_code == 201, ran.text
    sold = await assets.dispose(client, owner, asset["id"], {"on": "2026-03-01", "method": "scrap"})
    assert sold.status_code == 200, sold.text

    found = await events(database, owner)
    assert [event["type"] for event in found] == [
        "asset.created",
        "asset.depreciation_run_posted",
        "asset.disposed",
    ]
    created, run, disposed = found
    assert created["channels"] == ["assets", f"asset:{asset['id']}", "dashboard"]
    assert created["permission"] == "assets:read"
    assert created["data"]["cost"] == "10000.00"
    assert run["channels"] == ["assets", "dashboard"]
    assert run["data"]["period"] == "2026-02"
    assert run["data"]["months"] >= 1
    assert disposed["subject_id"] == asset["id"]
    assert disposed["data"]["status"] == "disposed"


async def test_a_transfer_has_its_event(
    client: httpx.AsyncClient, database: Database, owner: Account
) -> None:
    accounts = await ledger.http_accounts(client, owner)
    funded = await client.post(
        f"{API}/ledger/entries",
        json={
            "on": "2026-03-01",
            "lines": [
                {"account_id": accounts["1000"]["id"], "debit": "50.00", "currency": "EUR"},
                {"account_id": accounts["3000"]["id"], "credit": "50.00", "currency": "EUR"},
            ],
        },
        headers=owner.headers,
    )
    assert funded.status_code == 201, funded.text
    moved = await client.post(
        f"{API}/transfers",
        json={
            "from_account_id": accounts["1000"]["id"],
            "to_account_id": accounts["1500"]["id"],
            "amount": "12.50",
            "currency": "EUR",
            "on": "2026-03-02",
        },
        headers=owner.headers,
    )
    assert moved.status_code == 201, moved.text
    (event,) = [e for e in await events(database, owner) if e["type"].startswith("ledger.")]
    assert event["type"] == "ledger.transfer_posted"
    assert event["channels"] == ["ledger", "dashboard"]
    assert event["permission"] == "ledger:read"
    assert event["subject_id"] == moved.json()["id"]
    assert (event["data"]["amount"], event["data"]["currency"]) == ("12.50", "EUR")


async def test_an_accepted_financing_offer_has_its_event(
    client: httpx.AsyncClient, app: FastAPI, database: Database, owner: Account
) -> None:
    settings: Settings = app.state.settings
    vendor_id = await financing.vendor(client, owner, name="Financed AG")
    invoice = await financing.approved_invoice(client, owner, vendor_id, number="FIN-1")
    program = await financing.program(client, owner)
    offer = await financing.offer(client, owner, invoice["id"], program["id"], 10)
    accepted = await financing.accept(client, await financing.last_token(settings, owner.tenant_id))
    assert accepted.status_code == 200, accepted.text
    (event,) = [e for e in await events(database, owner) if e["type"].startswith("financing.")]
    assert event["type"] == "financing.offer_accepted"
    assert event["channels"] == ["financing", f"invoice:{invoice['id']}", "dashboard"]
    assert event["permission"] == "financing:read"
    assert event["subject_id"] == offer["id"]
    assert event["data"]["net_amount"] == offer["net_amount"]


async def test_documents_have_events_and_their_batch_its_progress(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, database: Database, owner: Account
) -> None:
    batch_id = (
        await client.post(f"{API}/batches", json={"name": "April"}, headers=owner.headers)
    ).json()["id"]
    uploaded = await documents.upload(
        client,
        owner,
        ("march.pdf", documents.supplier_invoice_pdf()),
        ("scan.png", documents.PNG),
        batch_id=batch_id,
    )
    assert uploaded.status_code == 201, uploaded.text
    processing = documents.processor(app, settings, app.state.document_storage)
    assert await processing.run_once() == 2

    found = [
        e for e in await events(database, owner) if e["type"].startswith(("document.", "batch."))
    ]
    queued = [e for e in found if e["type"] == "document.queued"]
    assert len(queued) == 2
    assert f"batch:{batch_id}" in queued[0]["channels"]
    assert queued[0]["permission"] == "invoices:read"
    read = {
        e["data"]["filename"]: e
        for e in found
        if e["type"] in ("document.extracted", "document.failed")
    }
    assert set(read) == {"march.pdf", "scan.png"}
    assert read["march.pdf"]["data"]["processing_status"] in ("extracted", "needs_review")
    progress = [e for e in found if e["type"] == "batch.progress"]
    assert len(progress) == 3  # after the upload, then after each document was read
    assert progress[0]["channels"] == [f"batch:{batch_id}"]
    assert progress[0]["data"]["processing"]["queued"] == 2
    last = progress[-1]["data"]["processing"]
    assert (last["queued"], last["processing"], sum(last.values())) == (0, 0, 2)
