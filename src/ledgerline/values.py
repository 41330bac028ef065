"""Value types shared by every feature's request and response bodies.

Money and other decimals travel as JSON strings of plain ASCII digits ("1250.00"):
Python's `Decimal` would also read floats, exponents ("1E+2"), surrounding whitespace
and digits of other scripts ("١٢٣"), none of which a client means as an amount. Dates
stay between 1900 and 2199 (PostgreSQL would turn `date.min` into `-infinity`). Names
may not be blank. Plain pydantic and the standard library: no feature is imported here.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

import email_validator
import idna
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, WithJsonSchema

# An EU-style VAT number (country code and 2-13 letters or digits) or a numeric tax id
# of 8-15 digits (US EIN, ...), after removing spaces, dots and dashes.
_TAX_ID = re.compile(r"^(?:[A-Z]{2}[0-9A-Z]{2,13}|[0-9]{8,15})$")


# An Indian GSTIN: state code, PAN, entity number, "Z", checksum character.
_GSTIN = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")
_GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gstin_check_character(first_14: str) -> str:
    """The GSTIN's 15th character: a base-36 Luhn-style sum of the first 14, the
    characters at odd places weighted 2."""
    total = 0
    for place, character in enumerate(first_14):
        product = _GSTIN_ALPHABET.index(character) * (2 if place % 2 else 1)
        total += product // 36 + product % 36
    return _GSTIN_ALPHABET[(36 - total % 36) % 36]


def is_gstin(tax_id: str) -> bool:
    return _GSTIN.match(tax_id) is not None


def normalize_tax_id(raw: str) -> str:
    tax_id = re.sub(r"[\s.\-]", "", raw).upper()
    if is_gstin(tax_id):
        if gstin_check_character(tax_id[:14]) != tax_id[14]:
            raise ValueError("this GSTIN's check character is wrong")
        return tax_id
    if not _TAX_ID.match(tax_id):
        raise ValueError(
            "a tax id is a country code and 2-13 letters or digits, 8-15 digits, or a GSTIN"
        )
    return tax_id


_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")


def fold_invoice_number(number: str) -> str:
    """An invoice number as duplicates are compared: NFKC, case folded, every character
    but letters and digits (spaces, punctuation, dash variants) dropped; at most 64.
    `R-1`, `r-1`, `R1`, `R-1 ` and `R\u20131` all fold to `r1`."""
    text = _DASHES.sub("-", unicodedata.normalize("NFKC", number)).casefold()
    return "".join(character for character in text if character.isalnum())[:64]


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
# A ledger account's code ("6000"): letters, digits, dots and dashes, 1-16 of them.
AccountCode = Annotated[
    str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.-]{0,15}$", description="ledger account code")
]
TaxId = Annotated[str, Field(min_length=4, max_length=40), AfterValidator(normalize_tax_id)]

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """An amount rounded to cents half-up (commercial rounding, as invoices print it)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


PRECISE = Decimal("0.0001")


def precise(amount: Decimal) -> Decimal:
    """A quantity, unit price or rate to four decimals, half-up, as its NUMERIC(_, 4)
    column stores and answers it."""
    return amount.quantize(PRECISE, rounding=ROUND_HALF_UP)


def _decimal_pattern(places: int, *, signed: bool) -> str:
    sign = "-?" if signed else ""
    return rf"^{sign}[0-9]+(\.[0-9]{{1,{places}}})?$"


def _decimal_text(places: int, example: str, *, signed: bool = False) -> BeforeValidator:
    """A validator that lets through only a string of ASCII digits with at most `places`
    decimals and, if `signed`, a leading minus that is not on zero. A `Decimal` passes as
    it is: it comes from Python (a stored row), never from JSON."""
    shape = re.compile(_decimal_pattern(places, signed=signed))
    wanted = f'a decimal string with at most {places} decimals, e.g. "{example}"'
    refused = "no exponent, no spaces" if signed else "no sign, no exponent, no spaces"

    def check(value: object) -> object:
        if isinstance(value, Decimal):
            return value
        if not isinstance(value, str):
            raise ValueError(f"send {wanted}, never a number")  # a float has lost digits
        if shape.fullmatch(value) is None:
            raise ValueError(f"expected {wanted} ({refused})")
        if value.startswith("-") and Decimal(value) == 0:
            raise ValueError("zero has no sign")
        return value

    return BeforeValidator(check)


def _decimal_schema(places: int, example: str, *, signed: bool = False) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": _decimal_pattern(places, signed=signed),
            "examples": [example],
        }
    )


# Money in cents, never negative in a request (NUMERIC(18, 2)).
Money = Annotated[
    Decimal,
    _decimal_text(2, "1250.00"),
    Field(ge=0, max_digits=18, decimal_places=2),
    AfterValidator(cents),
    _decimal_schema(2, "1250.00"),
]
# Money that may be negative: a bound of a filter, a total claimed for comparison.
SignedMoney = Annotated[
    Decimal,
    _decimal_text(2, "-12.50", signed=True),
    Field(max_digits=18, decimal_places=2),
    AfterValidator(cents),
    _decimal_schema(2, "-12.50", signed=True),
]
# A percentage from 0 to 100 with at most 2 decimals.
Percent = Annotated[
    Decimal,
    _decimal_text(2, "12.50"),
    Field(ge=0, le=100, decimal_places=2),
    _decimal_schema(2, "12.50"),
]
# A rate from 0 to 1 with at most 4 decimals (a tax rate, a declining-balance rate).
Rate = Annotated[
    Decimal,
    _decimal_text(4, "0.1900"),
    Field(ge=0, le=1, decimal_places=4),
    _decimal_schema(4, "0.1900"),
]
# A count of items or units with at most 4 decimals (NUMERIC(18, 4)).
Quantity = Annotated[
    Decimal,
    _decimal_text(4, "2.5"),
    Field(ge=0, max_digits=18, decimal_places=4),
    _decimal_schema(4, "2.5"),
]
# A price per unit: money to a hundredth of a cent (NUMERIC(18, 4)), never negative.
UnitPrice = Annotated[
    Decimal,
    _decimal_text(4, "80.1234"),
    Field(ge=0, max_digits=18, decimal_places=4),
    _decimal_schema(4, "80.1234"),
]

# Decimals in responses, as stored: strings of ASCII digits, a minus for a negative
# amount, the column's decimals. Money (2 places; percentages too) ...
MoneyOut = Annotated[Decimal, _decimal_schema(2, "1250.00", signed=True)]
# ... and quantities, unit prices and rates (4 places).
PreciseOut = Annotated[Decimal, _decimal_schema(4, "2.5000", signed=True)]

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


_NUMERIC_TEXT = re.compile(r"^\s*[-+]?[0-9]+(?:\.[0-9]*)?\s*$")


def _refuse_numbers(value: object) -> object:
    """A day or a moment is sent as ISO 8601 text: a number, in JSON or as text (seconds
    since 1970?), is refused rather than read as a date."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric or (isinstance(value, str) and _NUMERIC_TEXT.match(value)):
        raise ValueError("send an ISO 8601 string, e.g. 2026-03-31")
    return value


# A calendar day a finance record can mean, in bodies and query parameters alike.
Day = Annotated[
    date,
    BeforeValidator(_refuse_numbers),
    Field(ge=FIRST_DAY, le=LAST_DAY),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "description": f"A day from {FIRST_DAY} to {LAST_DAY}.",
            "examples": ["2026-03-31"],
        }
    ),
]


def _within_days(value: datetime) -> datetime:
    utc_day = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    if not FIRST_DAY <= utc_day <= LAST_DAY:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


# A moment (a filter bound, an expiry) within the same years as `Day`; without an
# offset it is read as UTC.
Moment = Annotated[datetime, BeforeValidator(_refuse_numbers), AfterValidator(_within_days)]
# The same with its offset required (an API key's expiry).
AwareMoment = Annotated[
    AwareDatetime, BeforeValidator(_refuse_numbers), AfterValidator(_within_days)
]


def _refuse_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _strip_and_refuse_blank(value: str) -> str:
    return _refuse_blank(value).strip()


# Text that must say something: empty and whitespace-only strings are refused; kept as sent.
NonBlankStr = Annotated[str, Field(min_length=1), AfterValidator(_refuse_blank)]
# The same, stored without surrounding whitespace (names of tenants, people and keys).
TrimmedStr = Annotated[str, Field(min_length=1), AfterValidator(_strip_and_refuse_blank)]


def refuse_null(value: object) -> object:
    """Omit a field to leave it alone; null is no value for it."""
    if value is None:
        raise ValueError("may be omitted, not null")
    return value


def normalize_email(email: str) -> str:
    """An email as accounts are stored and looked up: trimmed, NFKC-normalised (a
    fullwidth `o` is a plain `o`), lower case, its domain in IDNA's ASCII form. Total: a
    domain IDNA refuses stays in lower case (it then names no account)."""
    text = unicodedata.normalize("NFKC", email.strip())
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower()
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        ascii_domain = domain.lower()
    return f"{local.lower()}@{ascii_domain}"


# Scripts that may share one name (UTS #39, "highly restrictive"): Latin with the
# scripts Chinese, Japanese and Korean are written in. Any other mix is refused.
_MIXABLE_SCRIPTS = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


def _script(letter: str) -> str:
    """The script of a letter, as the first word of its Unicode name (LATIN, CYRILLIC...)."""
    return unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]


def mixes_scripts(text: str) -> bool:
    """Whether the letters of `text` come from scripts that should not share a name (a
    Cyrillic `o` among Latin letters looks the same and is another identity)."""
    scripts = {_script(ch) for ch in text if ch.isalpha()}
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _MIXABLE_SCRIPTS)


def _identity_email(value: str) -> str:
    try:
        checked = email_validator.validate_email(value.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from error
    local, _, domain = unicodedata.normalize("NFKC", checked.normalized).rpartition("@")
    if mixes_scripts(local) or any(mixes_scripts(label) for label in domain.split(".")):
        raise ValueError("the address mixes scripts (e.g. Latin and Cyrillic letters)")
    return normalize_email(checked.normalized)


# The email of an account (a user, an owner at sign-up): a valid address, stored
# normalised (see `normalize_email`); a local part or domain label mixing scripts is 422.
IdentityEmail = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_identity_email)]
