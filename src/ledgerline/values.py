"""Value types shared by every feature's request and response bodies."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

# An EU-style VAT number (country code and 2-13 letters or digits) or a numeric tax id
# of 8-15 digits (US EIN, ...), after removing spaces, dots and dashes.
_TAX_ID = re.compile(r"^(?:[A-Z]{2}[0-9A-Z]{2,13}|[0-9]{8,15})$")


def normalize_tax_id(raw: str) -> str:
    tax_id = re.sub(r"[\s.\-]", "", raw).upper()
    if not _TAX_ID.match(tax_id):
        raise ValueError("a tax id is a country code and 2-13 letters or digits, or 8-15 digits")
    return tax_id


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
TaxId = Annotated[str, Field(min_length=4, max_length=40), AfterValidator(normalize_tax_id)]


def normalize_email(email: str) -> str:
    """An email as accounts are stored and looked up: trimmed, lower case."""
    return email.strip().lower()
