"""Reading an invoice document: what can be found reliably, and nothing guessed.

PDFs with a text layer are read with pypdf; each field is taken only from a labelled
value in an unambiguous form (ISO or day.month.year dates, month names; amounts grouped
by thousands in either convention or not at all, with a currency code or symbol before
or after them). Images and PDFs without text have nothing to read here: they are left
for manual entry.
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
# An amount as invoices print it: digits grouped by thousands with one separator used
# throughout (1,190.00 / 1.190,00 / 1 190,00 / 1'190.00), or ungrouped (1190.00, 2500),
# with two decimals after the other mark or none. Anything else (1,190,00; 1.19.00) is
# unclear and not read at all: a number that stops in the middle of another is refused.
_AMOUNT = (
    r"(?<![0-9.,'\u2019])"
    r"(?P<whole>[0-9]{1,3}(?P<group>[,.'\u2019\u00a0\u202f ])[0-9]{3}(?:(?P=group)[0-9]{3})*"
    r"|[0-9]+)"
    r"(?:(?!(?P=group))[.,](?P<cents>[0-9]{2}))?"
    r"(?![0-9]|[.,'\u2019][0-9])"
)
_AMOUNT_ALONE = re.compile(_AMOUNT)
# A currency beside an amount: an ISO code in capitals, or a symbol; a dollar sign with
# a country's prefix names that country's dollar, a bare one the US dollar.
_CURRENCY_MARK = r"(?-i:[A-Z]{3})(?![A-Za-z])|(?-i:US|CA|C|AU|A|NZ|HK|S)\$|[\u20ac$\u00a3]"
_TOTAL = re.compile(
    r"(?<![a-z])(?:total(?: due| amount)?|amount due|grand total|gesamtbetrag)\s*:?\s*"
    rf"(?P<before>{_CURRENCY_MARK})?\s*{_AMOUNT}\s*(?P<after>{_CURRENCY_MARK})?",
    re.IGNORECASE,
)
_CURRENCY_LABEL = re.compile(r"currency\s*:?\s*([A-Z]{3})\b")
_TAX_ID = re.compile(
    r"(?:VAT\s*(?:ID|No\.?|number|Reg(?:istration)?\.?\s*No\.?)|Tax\s*ID|USt-?IdNr\.?|TIN)"
    r"\s*[:#]?\s*([A-Z]{2}[A-Z0-9 ]{2,16}[A-Z0-9]|[0-9][0-9\- ]{6,18}[0-9])",
    re.IGNORECASE,
)
_SYMBOLS = {
    "\u20ac": "EUR",
    "\u00a3": "GBP",
    "$": "USD",
    "US$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "AU$": "AUD",
    "A$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
}
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
    """ "1,190.00", "1.190,00", "1 190,00", "1190.00", "2500" -> Decimal; None when the
    text is not one amount in a clear form."""
    match = _AMOUNT_ALONE.fullmatch(text.strip())
    return _amount(match) if match else None


def _amount(match: re.Match[str]) -> Decimal | None:
    whole = match["whole"]
    if match["group"]:
        whole = whole.replace(match["group"], "")
    try:
        return Decimal(f"{whole}.{match['cents'] or '00'}")
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
        total = totals[-1]
        amount = _amount(total)
        if amount is not None:
            found["total"] = f"{amount:.2f}"
        marker = total["before"] or total["after"] or ""
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
