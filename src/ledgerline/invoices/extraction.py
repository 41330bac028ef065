"""Reading an invoice document: what can be found reliably, and nothing guessed.

PDFs with a text layer are read with pypdf; each field is taken only from a labelled
value in an unambiguous form (ISO or day.month.year dates, month names; amounts whose
decimal separator is clear). Images and PDFs without text have nothing to read here:
they are left for manual entry.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ledgerline.values import FIRST_DAY, LAST_DAY, normalize_tax_id

MAX_PAGES = 5
MAX_TEXT = 100_000
# The fields that make a draft worth only a check rather than a typing session.
KEY_FIELDS = ("number", "issue_date", "total")

_DATE = (
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}"
    r"|[0-9]{1,2}\.? [A-Za-z]{3,9}\.? [0-9]{4}|[A-Za-z]{3,9}\.? [0-9]{1,2},? [0-9]{4})"
)
_NUMBER = re.compile(
    r"(?:invoice\s*(?:no\.?|number|num\.?|#)|rechnungs-?(?:nr\.?|nummer))\s*[:#]?\s*"
    r"([A-Za-z0-9][A-Za-z0-9\-/.]{0,63}[A-Za-z0-9]|[A-Za-z0-9])",
    re.IGNORECASE,
)
_ISSUE_DATE = re.compile(
    r"(?:invoice date|date of issue|issue date|issued(?: on)?|rechnungsdatum)\s*:?\s*" + _DATE,
    re.IGNORECASE,
)
_DUE_DATE = re.compile(
    r"(?:due date|payment due|due by|due on|f\u00e4llig(?: am)?)\s*:?\s*" + _DATE, re.IGNORECASE
)
_TOTAL = re.compile(
    r"(?<![a-z])(?:total(?: due| amount)?|amount due|grand total|gesamtbetrag)\s*:?\s*"
    r"((?-i:[A-Z]{3})|[\u20ac$\u00a3])?\s*"
    r"([0-9]{1,3}(?:[ ,.'\u00a0][0-9]{3})*(?:[.,][0-9]{2})?|[0-9]+(?:[.,][0-9]{2})?)"
    r"\s*((?-i:[A-Z]{3})\b|[\u20ac$\u00a3])?",
    re.IGNORECASE,
)
_CURRENCY_LABEL = re.compile(r"currency\s*:?\s*([A-Z]{3})\b")
_TAX_ID = re.compile(
    r"(?:VAT\s*(?:ID|No\.?|number|Reg(?:istration)?\.?\s*No\.?)|Tax\s*ID|USt-?IdNr\.?|TIN)"
    r"\s*[:#]?\s*([A-Z]{2}[A-Z0-9 ]{2,16}[A-Z0-9]|[0-9][0-9\- ]{6,18}[0-9])",
    re.IGNORECASE,
)
_SYMBOLS = {"\u20ac": "EUR", "$": "USD", "\u00a3": "GBP"}
# Codes taken as a currency when read beside a total: those in wide use on invoices.
CURRENCIES = frozenset(
    (
        "AED",
        "ARS",
        "AUD",
        "BGN",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JPY",
        "KES",
        "KRW",
        "MAD",
        "MXN",
        "MYR",
        "NGN",
        "NOK",
        "NZD",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RSD",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "VND",
        "ZAR",
    )
)
_MONTH_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y")

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Extraction:
    """What a document gave: its fields as text, and whether a person must look."""

    fields: dict[str, str] = field(default_factory=dict)
    complete: bool = False
    note: str | None = None


def _date(text: str) -> date | None:
    """The day `text` names, if it is one a request could send too (1900-2199)."""
    day = _parse_date(text.strip())
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


def _parse_date(text: str) -> date | None:
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return date.fromisoformat(text)
        if re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}", text):
            day, month, year = (int(part) for part in text.split("."))
            return date(year, month, day)
        cleaned = re.sub(r"[.,]", "", text)
        for pattern in _MONTH_FORMATS:
            try:
                return datetime.strptime(cleaned, pattern).date()  # noqa: DTZ007 - a calendar date
            except ValueError:
                continue
    except ValueError:
        return None
    return None


def parse_amount(text: str) -> Decimal | None:
    """ "1,234.56", "1.234,56", "1 234,56", "1234" -> Decimal; None when unclear."""
    digits = re.sub(r"[ '\u00a0]", "", text)
    last_dot, last_comma = digits.rfind("."), digits.rfind(",")
    decimal_mark = max(last_dot, last_comma)
    if decimal_mark != -1 and len(digits) - decimal_mark - 1 == 2:
        whole, cents = digits[:decimal_mark], digits[decimal_mark + 1 :]
    elif decimal_mark != -1 and len(digits) - decimal_mark - 1 == 3:
        whole, cents = digits, "00"  # 1,234 or 1.234: thousands
    elif decimal_mark == -1:
        whole, cents = digits, "00"
    else:
        return None
    whole = re.sub(r"[.,]", "", whole)
    if not (whole.isascii() and whole.isdigit()):
        return None
    try:
        return Decimal(f"{whole}.{cents}")
    except InvalidOperation:
        return None


def text_of_pdf(content: bytes) -> str:
    """The text layer of the first pages; empty for scans and unreadable files."""
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            return ""
        parts: list[str] = []
        for page in reader.pages[:MAX_PAGES]:
            parts.append(page.extract_text() or "")
            if sum(map(len, parts)) > MAX_TEXT:
                break
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        logger.info("unreadable PDF", extra={"error": f"{type(error).__name__}: {error}"})
        return ""
    return "\n".join(parts)[:MAX_TEXT]


def fields_from_text(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if match := _NUMBER.search(text):
        found["number"] = match.group(1)
    for name, pattern in (("issue_date", _ISSUE_DATE), ("due_date", _DUE_DATE)):
        if (match := pattern.search(text)) and (day := _date(match.group(1))):
            found[name] = day.isoformat()
    totals = list(_TOTAL.finditer(text))
    if totals:  # the last total on an invoice is the one to pay
        before, amount_text, after = totals[-1].groups()
        amount = parse_amount(amount_text)
        if amount is not None:
            found["total"] = f"{amount:.2f}"
        marker = before or after or ""
        currency = _SYMBOLS.get(marker, marker)
        if currency in CURRENCIES:
            found["currency"] = currency
    if "currency" not in found:
        for match in _CURRENCY_LABEL.finditer(text):
            if match.group(1) in CURRENCIES:
                found["currency"] = match.group(1)
                break
    if match := _TAX_ID.search(text):
        with contextlib.suppress(ValueError):  # not a tax id after all
            found["vendor_tax_id"] = normalize_tax_id(match.group(1))
    return found


def read_document(content: bytes, content_type: str) -> Extraction:
    """Fields from a document. CPU-bound: run it in a thread."""
    if content_type != "application/pdf":
        return Extraction(note="An image: enter the invoice's fields by hand.")
    text = text_of_pdf(content)
    if not text.strip():
        return Extraction(note="No text could be read (a scan?): enter the fields by hand.")
    fields = fields_from_text(text)
    missing = [name for name in KEY_FIELDS if name not in fields]
    return Extraction(
        fields=fields,
        complete=not missing,
        note=f"Not found: {', '.join(missing)}." if missing else None,
    )
