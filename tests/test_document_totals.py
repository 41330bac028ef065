"""Totals read from uploaded PDFs: both thousands conventions, spaces, currency codes and
symbols before or after; and a read total that disagrees with the lines blocks submit
unless the clerk overrides it with a reason, which is audited."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.config import Settings
from ledgerline.invoices.extraction import parse_amount
from tests.helpers.audit import audit_events
from tests.helpers.database import owner_sql
from tests.helpers.documents import invoice_pdf, processor, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account

EURO = "\x80"  # the euro sign in the PDF core fonts' WinAnsi encoding, read back as "€"
NBSP = "\u00a0"


async def read_fields(
    client: httpx.AsyncClient, who: Account, app: FastAPI, settings: Settings, pdf: bytes
) -> tuple[str, dict[str, str]]:
    """Upload `pdf`, let the reader run, and return the draft's id and the fields read."""
    (file,) = (await upload(client, who, ("invoice.pdf", pdf))).json()["files"]
    reader = processor(app, settings, app.state.document_storage)
    while await reader.run_once():
        pass
    document = await client.get(f"{API}/documents/{file['document_id']}", headers=who.headers)
    assert document.status_code == 200, document.text
    return file["invoice_id"], document.json()["extracted_fields"]


@pytest.mark.parametrize(
    ("printed", "total", "currency"),
    [
        ("Total: 1190.00 EUR", "1190.00", "EUR"),
        ("Total: 12345.67 EUR", "12345.67", "EUR"),
        ("Total: EUR 2500", "2500.00", "EUR"),
        ("Total: 1,190.00 USD", "1190.00", "USD"),
        ("Total: 1.190,00 EUR", "1190.00", "EUR"),
        ("Total: 1 190,00 EUR", "1190.00", "EUR"),
        (f"Total: 1{NBSP}190,00 EUR", "1190.00", "EUR"),
        ("Total: CHF 1'190.00", "1190.00", "CHF"),
        ("Amount due: 12.345.678,90 EUR", "12345678.90", "EUR"),
        (f"Total: {EURO} 1.190,00", "1190.00", "EUR"),
        (f"Gesamtbetrag: 1.190,00 {EURO}", "1190.00", "EUR"),
        ("Total: \u00a31,190.00", "1190.00", "GBP"),
        ("Total: $1,190.00", "1190.00", "USD"),
        ("Grand total: CA$ 1,190.00", "1190.00", "CAD"),
        ("Total due: 1,190", "1190.00", None),
    ],
)
async def test_a_printed_total_is_read_whole_with_its_currency(
    client: httpx.AsyncClient,
    owner: Account,
    app: FastAPI,
    settings: Settings,
    printed: str,
    total: str,
    currency: str | None,
) -> None:
    pdf = invoice_pdf("Invoice No: T-1", "Subtotal: 1,000.00", "VAT 19%: 190.00", printed)
    _, fields = await read_fields(client, owner, app, settings, pdf)
    assert fields.get("total") == total
    assert fields.get("currency") == currency


@pytest.mark.parametrize(
    "printed",
    ["Total: 1,190,00 EUR", "Total: 1.19.00 EUR", "Total: 1,1900.00 EUR", "Total: 1.190,0 EUR"],
)
async def test_an_unclear_total_is_not_read_at_all(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings, printed: str
) -> None:
    """Separators that contradict each other could mean two amounts: nothing is guessed,
    not even the leading digits."""
    _, fields = await read_fields(client, owner, app, settings, invoice_pdf(printed))
    assert "total" not in fields


def test_parse_amount_reads_one_clear_amount() -> None:
    assert parse_amount("1.190,00") == parse_amount("1,190.00") == parse_amount("1190")
    assert str(parse_amount("1 234 567,89")) == "1234567.89"
    assert [parse_amount(text) for text in ("1,19,0", "1.190.00,5", "EUR", "")] == [None] * 4


async def supplier_draft(
    client: httpx.AsyncClient,
    owner: Account,
    app: FastAPI,
    settings: Settings,
    printed_total: str,
) -> str:
    """A draft made from a PDF that names a known vendor, its number, dates and total."""
    vendor = await client.post(
        f"{API}/vendors",
        json={"name": "Paper Supplies", "tax_id": "DE123456789", "default_currency": "EUR"},
        headers=owner.headers,
    )
    assert vendor.status_code == 201, vendor.text
    pdf = invoice_pdf(
        "VAT ID: DE 123 456 789",
        "Invoice No: P-77",
        "Invoice date: 2026-03-01",
        "Due date: 31.03.2026",
        printed_total,
    )
    invoice_id, fields = await read_fields(client, owner, app, settings, pdf)
    assert "total" in fields
    return invoice_id


async def enter_lines(
    client: httpx.AsyncClient, owner: Account, invoice_id: str, unit_price: str
) -> str:
    """Type the draft's one line (quantity 1000, 19% tax) and return the new ETag."""
    url = f"{API}/invoices/{invoice_id}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    line = {"description": "Paper", "quantity": "1000", "unit_price": unit_price}
    typed = await client.patch(
        url,
        json={"lines": [line | {"tax_rate": "0.19"}]},
        headers=owner.headers | {"If-Match": etag},
    )
    assert typed.status_code == 200, typed.text
    return typed.headers["etag"]


async def submit(
    client: httpx.AsyncClient, owner: Account, invoice_id: str, etag: str, body: object = None
) -> httpx.Response:
    return await client.post(
        f"{API}/invoices/{invoice_id}/submit",
        json=body,
        headers=owner.headers | {"If-Match": etag},
    )


async def test_lines_that_agree_with_the_document_submit(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    invoice_id = await supplier_draft(client, owner, app, settings, "Total: 1.190,00 EUR")
    etag = await enter_lines(client, owner, invoice_id, "1.00")
    submitted = await submit(client, owner, invoice_id, etag)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"


async def test_a_disagreeing_total_blocks_submit_until_a_reason_overrides_it(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    invoice_id = await supplier_draft(client, owner, app, settings, "Total: EUR 1,190.00")
    etag = await enter_lines(client, owner, invoice_id, "0.99")  # 990.00 + 188.10 tax

    refused = await submit(client, owner, invoice_id, etag)
    assert refused.status_code == 422
    assert problem_code(refused) == "document_total_mismatch"
    assert {key: refused.json()[key] for key in ("document_total", "computed_total")} == {
        "document_total": "1190.00",
        "computed_total": "1178.10",
    }
    blank = await submit(client, owner, invoice_id, etag, {"total_override_reason": "  "})
    assert blank.status_code == 422
    still = await client.get(f"{API}/invoices/{invoice_id}", headers=owner.headers)
    assert still.json()["status"] == "draft"

    reason = "Supplier's discount of 11.90 agreed by phone"
    overridden = await submit(client, owner, invoice_id, etag, {"total_override_reason": reason})
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["status"] == "submitted"

    (event,) = await audit_events(client, owner, action="invoice.document_total_overridden")
    assert event["target_id"] == invoice_id
    assert event["actor_id"] == str(owner.user_id)
    assert event["changes"] == {
        "document_total": "1190.00",
        "document_currency": "EUR",
        "computed_total": "1178.10",
        "currency": "EUR",
        "reason": reason,
    }
    history = await client.get(f"{API}/invoices/{invoice_id}/history", headers=owner.headers)
    assert history.json()[-1]["to_status"] == "submitted"
    assert history.json()[-1]["reason"] == reason


async def test_a_document_in_another_currency_disagrees_too(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    invoice_id = await supplier_draft(client, owner, app, settings, "Total: $1,190.00")
    draft = await client.get(f"{API}/invoices/{invoice_id}", headers=owner.headers)
    assert draft.json()["currency"] == "EUR"  # the vendor's, taken before the document's
    etag = await enter_lines(client, owner, invoice_id, "1.00")
    refused = await submit(client, owner, invoice_id, etag)
    assert refused.status_code == 422
    assert problem_code(refused) == "document_total_mismatch"
    assert refused.json()["document_currency"] == "USD"


async def test_a_pdf_not_read_yet_holds_the_submit_back(
    client: httpx.AsyncClient, owner: Account, app: FastAPI, settings: Settings
) -> None:
    """Submitting before the reader got to the PDF would skip the comparison."""
    vendor = await client.post(
        f"{API}/vendors",
        json={"name": "Paper Supplies", "default_currency": "EUR"},
        headers=owner.headers,
    )
    pdf = invoice_pdf("Invoice No: W-1", "Total: EUR 1,190.00")
    (file,) = (await upload(client, owner, ("waiting.pdf", pdf))).json()["files"]
    # Not due before tomorrow: no worker reads it meanwhile.
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE invoice_documents SET next_attempt_at = now() + interval '1 day'",
    )
    url = f"{API}/invoices/{file['invoice_id']}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    typed = await client.patch(
        url,
        json={"vendor_id": vendor.json()["id"], "number": "W-1", "issue_date": "2026-03-01"},
        headers=owner.headers | {"If-Match": etag},
    )
    assert typed.status_code == 200, typed.text
    etag = await enter_lines(client, owner, file["invoice_id"], "0.50")
    early = await submit(client, owner, file["invoice_id"], etag, {"total_override_reason": "x"})
    assert (early.status_code, problem_code(early)) == (409, "document_being_read")
    assert early.json()["processing_status"] == "queued"

    await owner_sql(
        settings, owner.tenant_id, "UPDATE invoice_documents SET next_attempt_at = now()"
    )
    reader = processor(app, settings, app.state.document_storage)
    while await reader.run_once():
        pass
    read = await submit(client, owner, file["invoice_id"], etag)
    assert problem_code(read) == "document_total_mismatch"  # 595.00 against 1190.00
