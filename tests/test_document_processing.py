"""Reading uploaded documents in the background: fields, retries, workers, leases."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.config import Settings
from ledgerline.invoices.storage import DocumentStorage, LocalDocumentStorage
from tests.helpers.database import owner_sql
from tests.helpers.documents import (
    JPEG,
    invoice_pdf,
    processor,
    scanned_pdf,
    supplier_invoice_pdf,
    upload,
)
from tests.helpers.http import API
from tests.helpers.identity import Account, signup


class RecordingStorage:
    """The app's storage, counting reads; it can fail the first reads, or dawdle."""

    def __init__(self, inner: DocumentStorage, *, failures: int = 0, delay: float = 0) -> None:
        self.inner = inner
        self.failures = failures
        self.delay = delay
        self.reads: Counter[str] = Counter()

    async def put(self, tenant_id: UUID, sha256: str, content: bytes) -> str:
        return await self.inner.put(tenant_id, sha256, content)

    async def get(self, key: str) -> bytes:
        self.reads[key] += 1
        await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise OSError("storage unavailable")
        return await self.inner.get(key)


async def document(client: httpx.AsyncClient, who: Account, document_id: str) -> dict[str, object]:
    answer = await client.get(f"{API}/documents/{document_id}", headers=who.headers)
    assert answer.status_code == 200
    body: dict[str, object] = answer.json()
    return body


async def test_a_pdf_fills_its_draft_and_finds_the_vendor(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    vendor = await client.post(
        f"{API}/vendors",
        json={"name": "Paper Supplies", "tax_id": "DE123456789", "default_currency": "EUR"},
        headers=owner.headers,
    )
    uploaded = (await upload(client, owner, ("march.pdf", supplier_invoice_pdf()))).json()
    file = uploaded["files"][0]
    assert await processor(app, settings, app.state.document_storage).run_once() == 1
    read = await document(client, owner, file["document_id"])
    assert read["processing_status"] == "extracted"
    assert read["extracted_fields"] == {
        "number": "INV-2026/0042",
        "issue_date": "2026-03-01",
        "due_date": "2026-03-31",
        "total": "1190.00",
        "currency": "EUR",
        "vendor_tax_id": "DE123456789",
    }
    assert read["started_at"] is not None
    assert read["finished_at"] is not None
    assert read["attempts"] == 1
    draft = (await client.get(f"{API}/invoices/{file['invoice_id']}", headers=owner.headers)).json()
    assert (draft["number"], draft["issue_date"], draft["due_date"], draft["currency"]) == (
        "INV-2026/0042",
        "2026-03-01",
        "2026-03-31",
        "EUR",
    )
    assert draft["vendor_id"] == vendor.json()["id"]
    # Nothing left to do: a second run finds no due document.
    assert await processor(app, settings, app.state.document_storage).run_once() == 0


async def test_images_scans_and_partial_text_need_review(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    files = (
        await upload(
            client,
            owner,
            ("photo.jpg", JPEG),
            ("scan.pdf", scanned_pdf()),
            ("short.pdf", invoice_pdf("Invoice No: 55", "Thank you")),
            ("broken.pdf", b"%PDF-1.7\n garbage"),
        )
    ).json()["files"]
    assert await processor(app, settings, app.state.document_storage).run_once() == 4
    results = [await document(client, owner, f["document_id"]) for f in files]
    assert [r["processing_status"] for r in results] == ["needs_review"] * 4
    assert "by hand" in str(results[0]["failure_reason"])
    assert results[2]["extracted_fields"] == {"number": "55"}
    assert results[2]["failure_reason"] == "Not found: issue_date, total."


async def test_a_person_s_entries_are_not_overwritten(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    file = (await upload(client, owner, ("a.pdf", supplier_invoice_pdf()))).json()["files"][0]
    url = f"{API}/invoices/{file['invoice_id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    typed = await client.patch(
        url, json={"number": "TYPED-1"}, headers=owner.headers | {"If-Match": etag}
    )
    assert typed.status_code == 200
    await processor(app, settings, app.state.document_storage).run_once()
    draft = (await client.get(url, headers=owner.headers)).json()
    assert (draft["number"], draft["issue_date"]) == ("TYPED-1", "2026-03-01")
    # The version moved on: a client holding the old ETag must read again.
    assert (await client.get(url, headers=owner.headers)).headers["etag"] != typed.headers["etag"]


async def test_a_failed_attempt_is_retried_after_a_backoff_and_keeps_the_upload(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    pdf = supplier_invoice_pdf()
    file = (await upload(client, owner, ("a.pdf", pdf))).json()["files"][0]
    flaky = RecordingStorage(app.state.document_storage, failures=1)
    assert await processor(app, settings, flaky).run_once() == 1
    failed = await document(client, owner, file["document_id"])
    assert failed["processing_status"] == "failed"
    # The tenant sees a plain reason; the error itself goes to the log only.
    assert failed["failure_reason"] == "Attempt 1 failed (OSError); it is retried."
    # Not due again before its backoff ends.
    assert await processor(app, settings, flaky).run_once() == 0
    (row,) = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT next_attempt_at - now() > interval '5 seconds' AS later FROM invoice_documents",
    )
    assert row["later"]
    download = await client.get(
        f"{API}/invoices/{file['invoice_id']}/document", headers=owner.headers
    )
    assert download.content == pdf
    await owner_sql(
        settings, owner.tenant_id, "UPDATE invoice_documents SET next_attempt_at = now()"
    )
    assert await processor(app, settings, flaky).run_once() == 1
    retried = await document(client, owner, file["document_id"])
    assert (retried["processing_status"], retried["attempts"]) == ("extracted", 2)
    assert retried["failure_reason"] is None


async def test_after_the_last_attempt_a_document_stays_failed(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    file = (await upload(client, owner, ("a.pdf", supplier_invoice_pdf()))).json()["files"][0]
    broken = RecordingStorage(app.state.document_storage, failures=1000)
    for _ in range(settings.document_max_attempts):
        await owner_sql(
            settings, owner.tenant_id, "UPDATE invoice_documents SET next_attempt_at = now()"
        )
        assert await processor(app, settings, broken).run_once() == 1
    await owner_sql(
        settings, owner.tenant_id, "UPDATE invoice_documents SET next_attempt_at = now()"
    )
    assert await processor(app, settings, broken).run_once() == 0
    final = await document(client, owner, file["document_id"])
    assert (final["processing_status"], final["attempts"]) == (
        "failed",
        settings.document_max_attempts,
    )
    draft = await client.get(f"{API}/invoices/{file['invoice_id']}", headers=owner.headers)
    assert draft.json()["status"] == "draft"


async def test_two_workers_never_read_one_document_twice(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    other = await signup(client, "reading-too")
    for who in (owner, other):
        files = [(f"{n}.pdf", invoice_pdf(f"Invoice No: {who.email}-{n}")) for n in range(6)]
        assert (await upload(client, who, *files)).status_code == 201
    slow = RecordingStorage(app.state.document_storage, delay=0.05)
    workers = [processor(app, settings, slow) for _ in range(3)]
    while sum(await asyncio.gather(*(worker.run_once() for worker in workers))):
        pass
    assert len(slow.reads) == 12
    assert set(slow.reads.values()) == {1}
    for who in (owner, other):
        listed = await client.get(f"{API}/documents", headers=who.headers)
        assert {(d["processing_status"], d["attempts"]) for d in listed.json()["items"]} == {
            ("needs_review", 1)
        }


async def test_a_claim_whose_lease_ran_out_passes_to_another_worker(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    """A worker that stalls past its lease loses the document; its late result is
    dropped instead of overwriting the next worker's."""
    file = (await upload(client, owner, ("a.pdf", supplier_invoice_pdf()))).json()["files"][0]
    stalled = processor(app, settings, app.state.document_storage)
    (job,) = await stalled._claim()
    await owner_sql(
        settings, owner.tenant_id, "UPDATE invoice_documents SET next_attempt_at = now()"
    )
    successor = processor(app, settings, app.state.document_storage)
    (taken,) = await successor._claim()
    assert taken.attempt == 2
    await stalled._record_failure(job, "too late")
    meanwhile = await document(client, owner, file["document_id"])
    assert (meanwhile["processing_status"], meanwhile["failure_reason"]) == ("processing", None)
    await successor._record_failure(taken, "OSError: on time")
    final = await document(client, owner, file["document_id"])
    assert (final["processing_status"], final["failure_reason"]) == (
        "failed",
        "Attempt 2 failed (OSError); it is retried.",
    )


async def test_storage_keys_cannot_leave_the_storage_folder(tmp_path: Path) -> None:
    storage = LocalDocumentStorage(tmp_path / "documents")
    (tmp_path / "secret").write_bytes(b"not a document")
    key = await storage.put(UUID(int=1), "a" * 64, b"%PDF-1.7")
    assert await storage.get(key) == b"%PDF-1.7"
    for forged in ("../secret", f"{UUID(int=1)}/../../secret", "/etc/passwd", f"{key}/x"):
        with pytest.raises(ValueError, match="not a document key"):
            await storage.get(forged)
