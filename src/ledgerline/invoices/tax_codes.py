"""A tenant's tax codes: created whole, then only renamed or deactivated (what a code
computes never changes, so the invoices that used it stay explained; PostgreSQL grants
the runtime role no other update). Each step audited."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.invoices import postings, taxes
from ledgerline.invoices.models import TaxCode, TaxKind
from ledgerline.ledger import chart
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem


def _snapshot(code: TaxCode) -> dict[str, Any]:
    return {
        "code": code.code,
        "name": code.name,
        "kind": str(code.kind),
        "rate": str(code.rate),
        "recoverable": str(code.recoverable),
        "components": code.components,
        "input_account_code": code.input_account_code,
        "output_account_code": code.output_account_code,
        "home_state_code": code.home_state_code,
        "active": code.active,
    }


async def create_tax_code(
    session: AsyncSession,
    audit: AuditContext,
    *,
    code: str,
    name: str,
    kind: TaxKind,
    rate: Decimal,
    recoverable: Decimal,
    components: Sequence[dict[str, str]],
    input_account_code: str | None,
    output_account_code: str | None,
    home_state_code: str | None,
) -> TaxCode:
    """A new code; its rate agrees with its kind and components, its accounts exist."""
    if kind in (TaxKind.ZERO, TaxKind.EXEMPT) and rate != 0:
        raise Problem(422, "rate_must_be_zero", f"A {kind} tax code has rate 0.")
    if kind == TaxKind.REVERSE_CHARGE and output_account_code is None:
        raise Problem(
            422,
            "output_account_required",
            "A reverse-charge code names the account its output tax is owed in.",
        )
    if components:
        taxes.check_components(rate, components, home_state_code)
    accounts = {input_account_code or chart.INPUT_TAX}
    accounts |= {p["input_account_code"] for p in components if p.get("input_account_code")}
    if output_account_code:
        accounts.add(output_account_code)
    await postings.accounts_by_code(session, accounts)
    if await session.scalar(select(TaxCode.id).where(TaxCode.code == code)) is not None:
        raise Problem(409, "tax_code_taken", f"Tax code {code} exists.")
    row = TaxCode(
        tenant_id=audit.tenant_id,
        code=code,
        name=name,
        kind=kind,
        rate=rate,
        recoverable=recoverable,
        components=list(components),
        input_account_code=input_account_code or chart.INPUT_TAX,
        output_account_code=output_account_code,
        home_state_code=home_state_code,
        active=True,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:  # a concurrent request took the code
        raise Problem(409, "tax_code_taken", f"Tax code {code} exists.") from error
    audit.record(
        session, "tax_code.created", target_type="tax_code", target_id=row.id,
        changes=_snapshot(row),
    )  # fmt: skip
    return row


async def get_tax_code(session: AsyncSession, tax_code_id: UUID) -> TaxCode:
    return await row_by_id(session, TaxCode, tax_code_id, what="tax_code")


async def list_tax_codes(
    session: AsyncSession, page: PageRequest, *, active: bool | None
) -> tuple[Sequence[TaxCode], str | None]:
    statement = select(TaxCode)
    if active is not None:
        statement = statement.where(TaxCode.active == active)
    return await keyset_page(session, statement, TaxCode.id, page)


async def update_tax_code(
    session: AsyncSession,
    audit: AuditContext,
    tax_code_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> TaxCode:
    """Its name and whether it is active; nothing it computes."""
    row = await locked_at_version(session, TaxCode, tax_code_id, if_match, what="tax_code")
    before = _snapshot(row)
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    audit.record(
        session,
        "tax_code.updated",
        target_type="tax_code",
        target_id=row.id,
        changes={k: {"before": before[k], "after": v} for k, v in changes.items()},
    )
    return row
