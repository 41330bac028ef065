"""Writes the README's sample files into this folder; run from the repository root:

    uv run --frozen python examples/make_examples.py

march-invoice.pdf is a supplier's invoice with a text layer (what the document reader
reads), receipt.jpg a photographed receipt (an image: left for manual entry), and
assets.csv an asset import in the README's columns.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from ledgerline.invoices.textpdf import text_pdf

HERE = Path(__file__).resolve().parent

MARCH_INVOICE = [
    "Paper GmbH",
    "Papierweg 1, 10115 Berlin",
    "VAT ID: DE 123 456 789",
    "",
    "Invoice No: PG-2026-0311",
    "Invoice date: 2026-03-01",
    "Due date: 2026-03-15",
    "",
    "Paper, 1000 sheets at 1.00 EUR, VAT 19%",
    "Subtotal: 1,000.00 EUR",
    "VAT 19%: 190.00 EUR",
    "Total: 1,190.00 EUR",
]

ASSETS_CSV = """\
tag,name,category,acquisition_date,in_service_date,cost,currency,serial_number
IT-0100,Laptop 14 inch,IT equipment,2026-02-02,2026-02-03,1450.00,EUR,SN-LT-0100
IT-0101,Laptop 14 inch,IT equipment,2026-02-02,2026-02-03,1450.00,EUR,SN-LT-0101
IT-0200,Monitor 27 inch,IT equipment,2026-02-10,,389.90,EUR,SN-MO-0200
"""


def receipt_jpeg() -> bytes:
    image = Image.new("RGB", (240, 320), "white")
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(
        ["CAFE CENTRAL", "2026-03-04", "Coffee  2 x 3.20", "TOTAL 6.40 EUR"]
    ):
        draw.text((16, 24 + 28 * row), text, fill="black")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


def main() -> None:
    (HERE / "march-invoice.pdf").write_bytes(text_pdf(MARCH_INVOICE))
    (HERE / "receipt.jpg").write_bytes(receipt_jpeg())
    (HERE / "assets.csv").write_text(ASSETS_CSV)


if __name__ == "__main__":
    main()
