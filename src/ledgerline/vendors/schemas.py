"""Vendor bodies: tax ids normalised, bank accounts compacted, no nulls on update."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator

from ledgerline.values import Currency, NonBlankStr, TaxId, refuse_null

StateCode = Annotated[
    str,
    Field(pattern=r"^[0-9]{2}$", description="Indian GST state code: intra- or inter-state tax"),
]
BankAccount = Annotated[str, Field(pattern=r"^[A-Z0-9 ]{8,40}$", description="IBAN or number")]


def _compact(value: str) -> str:
    """Spaces dropped; what remains must still be 8 letters or digits at least."""
    compact = value.replace(" ", "")
    if len(compact) < 8:
        raise ValueError("an IBAN or account number has at least 8 letters or digits")
    return compact


class VendorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr = Field(max_length=200)
    tax_id: TaxId | None = None
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=2000)
    default_currency: Currency
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    bank_account: Annotated[BankAccount, AfterValidator(_compact)] | None = None
    default_expense_account_id: UUID | None = Field(
        default=None, description="ledger account of its invoice lines (else 6000)"
    )
    state_code: StateCode | None = None


class VendorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonBlankStr | None = Field(default=None, max_length=200)
    tax_id: TaxId | None = None
    email: EmailStr | None = None
    address: str | None = Field(default=None, max_length=2000)
    default_currency: Currency | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    bank_account: Annotated[BankAccount, AfterValidator(_compact)] | None = None
    is_active: bool | None = None
    default_expense_account_id: UUID | None = None
    state_code: StateCode | None = None

    _no_nulls = field_validator(
        "name", "default_currency", "payment_terms_days", "is_active", mode="before"
    )(refuse_null)


class VendorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    tax_id: str | None
    email: str | None
    address: str | None
    default_currency: str
    payment_terms_days: int
    bank_account: str | None = Field(description="masked unless you may see bank details")
    is_active: bool
    default_expense_account_id: UUID | None
    state_code: str | None = Field(description="GST state (from the GSTIN unless given)")
    created_at: datetime
    updated_at: datetime
