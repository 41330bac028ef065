"""Invoice documents: real PDFs made here, files that only pretend, uploading them, and
the processor that reads them (tests run it themselves instead of waiting for the worker).
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fpdf import FPDF

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.invoices.processing import DocumentProcessor
from ledgerline.invoices.storage import DocumentStorage
from tests.helpers.http import API
from tests.helpers.identity import Account

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)


def invoice_pdf(*lines: str) -> bytes:
    """A one-page PDF with a text layer holding `lines`."""
    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=11)
    for line in lines:
        document.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def supplier_invoice_pdf(number: str = "INV-2026/0042", tax_id: str = "DE 123 456 789") -> bytes:
    return invoice_pdf(
        "Paper Supplies GmbH, Papierweg 1, Berlin",
        f"VAT ID: {tax_id}",
        f"Invoice No: {number}",
        "Invoice date: 2026-03-01",
        "Due date: 31.03.2026",
        "Subtotal: 1,000.00",
        "VAT 19%: 190.00",
        "Total: EUR 1,190.00",
    )


def scanned_pdf() -> bytes:
    """A PDF without a text layer (a scan would be an image on the page)."""
    document = FPDF()
    document.add_page()
    document.rect(10, 10, 50, 50)
    return bytes(document.output())


async def upload(
    client: httpx.AsyncClient,
    who: Account,
    *files: tuple[str, bytes],
    batch_id: str | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        f"{API}/invoices/upload",
        files=[("files", (name, content, content_type)) for name, content in files],
        data={"batch_id": batch_id} if batch_id else None,
        headers=who.headers,
    )


def processor(app: FastAPI, settings: Settings, storage: DocumentStorage) -> DocumentProcessor:
    database: Database = app.state.database
    return DocumentProcessor(settings, database, storage)
