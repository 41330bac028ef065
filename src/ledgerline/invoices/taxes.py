"""Tax on invoice lines: tax codes, their components, and the two ways of rounding.

A line names a tax code (`tax_code`) or, as before tax codes existed, a bare `tax_rate`.
A code's `kind` says what it is (standard, reduced, zero, exempt, reverse charge), its
`recoverable` share how much input tax may be reclaimed, and its components how a split
tax divides (Indian GST: CGST + SGST within the tenant's state, IGST across states; the
vendor's `state_code` against the code's `home_state_code` decides).

Rounding (`tax_rounding` on the invoice):
- `per_line`: each line's tax (per component) rounded to cents half-up; a rate's tax is
  the sum of its lines'.
- `per_rate` (EN 16931): the lines' net amounts are summed per code and rate and the tax
  computed once on each sum.
Either way the invoice's tax is the sum of its tax summary's rows, and each line shows
its own tax rounded per line (what a per-line invoice would print).

Reverse charge: the vendor charges no tax (the line's tax and the invoice's total leave
it out); the buyer accounts for it, so the summary row carries it and the approval posts
both input tax (Dr) and output tax (Cr).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.invoices.models import TaxCode, TaxKind, TaxRounding
from ledgerline.ledger import chart
from ledgerline.problems import Problem
from ledgerline.values import cents, precise

INTRA_STATE = "intra_state"
INTER_STATE = "inter_state"
ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    rate: Decimal
    input_account_code: str


@dataclass(frozen=True, slots=True)
class LineTax:
    """How one line is taxed: its code (None for a bare rate) and the parts that apply to
    this invoice."""

    code: str | None
    rate: Decimal
    reverse_charge: bool = False
    recoverable: Decimal = Decimal("1")
    components: tuple[Component, ...] = ()
    output_account_code: str | None = None

    @staticmethod
    def bare(rate: Decimal) -> LineTax:
        return LineTax(None, rate, components=(Component("tax", rate, chart.INPUT_TAX),))


@dataclass(slots=True)
class _Group:
    tax: LineTax
    component: Component
    taxable: Decimal = Decimal("0.00")
    line_taxes: list[Decimal] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Computed:
    line_subtotals: list[Decimal]
    line_taxes: list[Decimal]
    subtotal: Decimal
    tax_total: Decimal  # charged by the vendor (reverse charge left out)
    summary: list[dict[str, str | bool | None]]


def compute(
    amounts: Sequence[tuple[Decimal, Decimal]], taxes: Sequence[LineTax], rounding: TaxRounding
) -> Computed:
    """Per line (quantity, unit price) and its tax: the lines' amounts, the invoice's
    subtotal and tax, and the tax summary (one row per code, rate and component)."""
    subtotals = [cents(quantity * price) for quantity, price in amounts]
    groups: dict[tuple[str | None, Decimal, str], _Group] = {}
    line_taxes = []
    for subtotal, tax in zip(subtotals, taxes, strict=True):
        charged = Decimal("0.00")
        for component in tax.components:
            group = groups.setdefault(
                (tax.code, component.rate, component.name), _Group(tax, component)
            )
            group.taxable += subtotal
            part = cents(subtotal * component.rate)
            group.line_taxes.append(part)
            charged += part
        line_taxes.append(Decimal("0.00") if tax.reverse_charge else charged)
    summary: list[dict[str, str | bool | None]] = []
    tax_total = Decimal("0.00")
    for group in groups.values():
        if rounding == TaxRounding.PER_RATE:
            amount = cents(group.taxable * group.component.rate)
        else:
            amount = sum(group.line_taxes, Decimal("0.00"))
        if not group.tax.reverse_charge:
            tax_total += amount
        summary.append(
            {
                "tax_code": group.tax.code,
                "component": group.component.name if group.tax.code is not None else None,
                "rate": str(precise(group.component.rate)),
                "taxable_amount": str(group.taxable),
                "tax_amount": str(amount),
                "recoverable_amount": str(cents(amount * group.tax.recoverable)),
                "reverse_charge": group.tax.reverse_charge,
                "input_account_code": group.component.input_account_code,
                "output_account_code": group.tax.output_account_code,
            }
        )
    return Computed(subtotals, line_taxes, sum(subtotals, Decimal("0.00")), tax_total, summary)


def check_components(
    rate: Decimal, components: Sequence[dict[str, str]], home_state_code: str | None
) -> None:
    """A split tax's parts add up to its rate within each scope they apply in; parts that
    depend on the state need the tenant's state (422 otherwise)."""
    scopes = {part["applies_to"] for part in components}
    if scopes & {INTRA_STATE, INTER_STATE} and home_state_code is None:
        raise Problem(
            422,
            "home_state_code_required",
            "Intra- and inter-state components need the home_state_code they compare with.",
        )
    for scope in scopes - {ALWAYS} or {ALWAYS}:
        applying = [p for p in components if p["applies_to"] in (scope, ALWAYS)]
        total = sum((Decimal(p["rate"]) for p in applying), Decimal("0"))
        if total != rate:
            raise Problem(
                422,
                "components_do_not_add_up",
                f"The {scope.replace('_', '-')} components add up to {total}, not {rate}.",
                extra={"applies_to": scope},
            )


def line_tax(code: TaxCode, vendor_state_code: str | None) -> LineTax:
    """What `code` applies to a line of a vendor in `vendor_state_code`."""
    parts = code.components
    if not parts:
        components: tuple[Component, ...] = (
            Component(code.code, code.rate, code.input_account_code),
        )
    else:
        scope = ALWAYS
        if any(p["applies_to"] != ALWAYS for p in parts):
            if vendor_state_code is None:
                raise Problem(
                    422,
                    "vendor_state_unknown",
                    f"Tax code {code.code} splits by state; give the vendor a state_code "
                    "(or a GSTIN).",
                    extra={"tax_code": code.code},
                )
            same = vendor_state_code == code.home_state_code
            scope = INTRA_STATE if same else INTER_STATE
        components = tuple(
            Component(
                p["name"],
                Decimal(p["rate"]),
                p.get("input_account_code") or code.input_account_code,
            )
            for p in parts
            if p["applies_to"] in (scope, ALWAYS)
        )
    return LineTax(
        code.code,
        code.rate,
        reverse_charge=code.kind == TaxKind.REVERSE_CHARGE,
        recoverable=code.recoverable,
        components=components,
        output_account_code=code.output_account_code,
    )


async def line_taxes(
    session: AsyncSession,
    lines: Sequence[tuple[str | None, Decimal | None]],
    vendor_state_code: str | None,
) -> list[LineTax]:
    """Each line's (tax_code, tax_rate) resolved: a code of the tenant's that is active
    (422 `unknown_tax_code`), or the bare rate; never both (422 `tax_code_and_rate`)."""
    wanted = {code for code, _ in lines if code is not None}
    found: dict[str, TaxCode] = {}
    if wanted:
        found = {
            row.code: row
            for row in await session.scalars(select(TaxCode).where(TaxCode.code.in_(wanted)))
        }
    missing = sorted(code for code in wanted if code not in found or not found[code].active)
    if missing:
        raise Problem(
            422,
            "unknown_tax_code",
            f"This tenant has no active tax code {', '.join(missing)}.",
            extra={"tax_codes": missing},
        )
    resolved = []
    for code, rate in lines:
        if code is not None and rate is not None:
            raise Problem(
                422, "tax_code_and_rate", "A line takes a tax_code or a tax_rate, not both."
            )
        if code is not None:
            resolved.append(line_tax(found[code], vendor_state_code))
        else:
            resolved.append(LineTax.bare(rate if rate is not None else Decimal("0")))
    return resolved
