"""What the asset register posts to the ledger, always through `ledger.posting`.

- Depreciation: Dr 6800 / Cr 1590, one entry per asset and month (source `asset`, the
  asset's id, kind `depreciation YYYY-MM`), dated the month's last day, and a row in
  `depreciation_postings` keyed (tenant, asset, month): a month posts once. A run posts
  every month of every asset in service up to its period that is not posted yet, so a
  missed month is caught up; a disposal posts the months up to it first.
- Capitalization: Dr 1500 / Cr the account named (default 9999), once per asset; never
  for an asset bought on an invoice line (the database refuses it too).
- Acquisition from an invoice line: the invoice's approval debits the line's net amount
  to 1500 instead of its expense account (`invoices/postings.py`) when the asset exists
  first; when the invoice was approved before, a reclassification Dr 1500 / Cr the line's
  expense account, dated the invoice's issue date (source `asset`, kind `acquisition`).

The asset's category may name its own accounts for 1500, 1590 and 6800: every posting
above then uses them (`category_accounts`).
- Disposal: Dr the proceeds account (default 1000) with the proceeds, Dr 1590 with the
  depreciation posted, Dr 1595 with the impairment, Dr 7900 with a loss or Cr 7900 with a
  gain, Cr 1500 with the cost; a revaluation surplus moves from 3100 to 3000. Reversed
  (while its period is open) by the mirror entry; the asset returns to service.
- Adjustments: see `adjust`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets import service
from ledgerline.assets.models import (
    AdjustmentKind,
    Asset,
    AssetAdjustment,
    AssetCategory,
    AssetStatus,
    DepreciationPosting,
    DepreciationRun,
)
from ledgerline.audit.service import AuditContext
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.db.timeouts import allow_long_statements
from ledgerline.events.catalog import asset_changed, depreciation_run_posted
from ledgerline.invoices import postings
from ledgerline.invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from ledgerline.invoices.postings import account_ids_by_code, accounts_by_code
from ledgerline.ledger import chart
from ledgerline.ledger.models import JournalEntry, Period, PeriodStatus
from ledgerline.ledger.posting import (
    EntryDraft,
    PostingLine,
    month_of,
    next_month,
    post,
    post_many,
    reverse,
)
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem
from ledgerline.values import cents

SOURCE = "asset"
CAPITALIZATION = "capitalization"
ACQUISITION = "acquisition"
DISPOSAL = "disposal"
DISPOSAL_REVERSAL = "disposal_reversal"
ADJUSTMENT = "adjustment"
ZERO = Decimal("0.00")


def depreciation_kind(month: date) -> str:
    return f"depreciation {month:%Y-%m}"


def month_end(month: date) -> date:
    return next_month(month) - timedelta(days=1)


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class CategoryAccounts:
    """The accounts an asset of a category posts to: its category's, else the chart's
    1500, 1590 and 6800."""

    cost: UUID
    accumulated: UUID
    expense: UUID


async def category_accounts(
    session: AsyncSession, category_ids: Iterable[UUID]
) -> dict[UUID, CategoryAccounts]:
    rows = (
        await session.execute(
            select(
                AssetCategory.id,
                func.coalesce(AssetCategory.asset_account_code, chart.FIXED_ASSETS),
                func.coalesce(
                    AssetCategory.accumulated_depreciation_account_code,
                    chart.ACCUMULATED_DEPRECIATION,
                ),
                func.coalesce(
                    AssetCategory.depreciation_expense_account_code, chart.DEPRECIATION_EXPENSE
                ),
            ).where(AssetCategory.id.in_(set(category_ids)))
        )
    ).all()
    accounts = await accounts_by_code(session, {code for row in rows for code in row[1:]})
    return {
        row[0]: CategoryAccounts(accounts[row[1]].id, accounts[row[2]].id, accounts[row[3]].id)
        for row in rows
    }


async def accounts_of(session: AsyncSession, asset: Asset) -> CategoryAccounts:
    return (await category_accounts(session, [asset.category_id]))[asset.category_id]


# Each stored month up to `through` with a charge and no posting yet, of the assets in
# service (or of one asset).
_DUE = """
    SELECT e.asset_id, e.period, e.amount, a.currency, a.tag, a.category_id
    FROM depreciation_entries e
    JOIN assets a ON a.tenant_id = e.tenant_id AND a.id = e.asset_id
    WHERE e.period <= :through AND e.amount > 0
      AND NOT EXISTS (
        SELECT 1 FROM depreciation_postings p
        WHERE p.tenant_id = e.tenant_id AND p.asset_id = e.asset_id AND p.period = e.period)
"""
_DUE_IN_SERVICE = text(_DUE + " AND a.status IN ('in_service', 'under_maintenance')")
_DUE_FOR_ASSET = text(_DUE + " AND a.id = :asset_id")


@dataclass(frozen=True, slots=True)
class Posted:
    assets: int
    months: int
    totals: dict[str, Decimal]


async def _post_due(
    session: AsyncSession,
    audit: AuditContext,
    *,
    through: date,
    run_id: UUID | None,
    asset_id: UUID | None = None,
    before_postings: Callable[[int, int], Awaitable[None]] | None = None,
) -> Posted:
    """Post what is due; `before_postings(assets, months)` runs after the entries and
    before the posting rows (a run writes its own row there: they name it)."""
    if asset_id is None:
        due = (await session.execute(_DUE_IN_SERVICE, {"through": through})).all()
    else:
        due = (
            await session.execute(_DUE_FOR_ASSET, {"through": through, "asset_id": asset_id})
        ).all()
    if not due:
        if before_postings is not None:
            await before_postings(0, 0)
        return Posted(0, 0, {})
    accounts = await category_accounts(session, {row.category_id for row in due})
    drafts = []
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in due:
        expense, accumulated = (
            accounts[row.category_id].expense,
            accounts[row.category_id].accumulated,
        )
        drafts.append(
            EntryDraft(
                source_type=SOURCE,
                source_id=row.asset_id,
                kind=depreciation_kind(row.period),
                occurred_on=month_end(row.period),
                lines=[
                    PostingLine.dr(expense, row.amount, row.currency),
                    PostingLine.cr(accumulated, row.amount, row.currency),
                ],
                memo=f"Depreciation of {row.tag}, {row.period:%Y-%m}",
            )
        )
        totals[row.currency] += row.amount
    entry_ids = await post_many(session, audit, drafts)
    if before_postings is not None:
        await before_postings(len({row.asset_id for row in due}), len(due))
    await session.execute(
        _INSERT_POSTINGS,
        {
            "tenant_id": audit.tenant_id,
            "run_id": run_id,
            "asset_id": [row.asset_id for row in due],
            "period": [row.period for row in due],
            "amount": [row.amount for row in due],
            "currency": [row.currency for row in due],
            "entry_id": entry_ids,
        },
    )
    return Posted(len({row.asset_id for row in due}), len(due), dict(totals))


_INSERT_POSTINGS = text(
    """
    INSERT INTO depreciation_postings (tenant_id, asset_id, period, amount, currency,
        entry_id, run_id)
    SELECT CAST(:tenant_id AS uuid), p.*, CAST(:run_id AS uuid)
    FROM unnest(CAST(:asset_id AS uuid[]), CAST(:period AS date[]),
        CAST(:amount AS numeric[]), CAST(:currency AS varchar[]), CAST(:entry_id AS uuid[]))
        AS p(asset_id, period, amount, currency, entry_id)
    """
)


@dataclass(frozen=True, slots=True)
class RunSummary:
    run: DepreciationRun
    totals: dict[str, Decimal]


async def run_depreciation(session: AsyncSession, audit: AuditContext, period: date) -> RunSummary:
    """Post every month up to and including `period` not posted yet, of every asset in
    service, in this transaction. Runs of one tenant queue one after another."""
    month = month_of(period)
    if month > month_of(_today()):
        raise Problem(422, "period_in_future", "Depreciation is posted for past months only.")
    lock_key = func.hashtextextended(f"depreciation-run:{audit.tenant_id}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(lock_key)))
    await allow_long_statements(session)
    run_id = new_id()
    runs: list[DepreciationRun] = []

    async def write_run(assets: int, months: int) -> None:
        run = DepreciationRun(
            tenant_id=audit.tenant_id,
            id=run_id,
            period=month,
            asset_count=assets,
            month_count=months,
            created_by_type=audit.actor.type,
            created_by=audit.actor.id,
        )
        session.add(run)
        await session.flush()
        runs.append(run)

    posted = await _post_due(
        session, audit, through=month, run_id=run_id, before_postings=write_run
    )
    (run,) = runs
    audit.record(
        session,
        "depreciation_run.posted",
        target_type="depreciation_run",
        target_id=run.id,
        changes={
            "period": f"{month:%Y-%m}",
            "assets": posted.assets,
            "months": posted.months,
            "totals": {currency: str(total) for currency, total in posted.totals.items()},
        },
    )
    await depreciation_run_posted(
        session,
        audit.tenant_id,
        run.id,
        period=f"{month:%Y-%m}",
        assets=posted.assets,
        months=posted.months,
        totals={currency: str(total) for currency, total in posted.totals.items()},
    )
    return RunSummary(run, posted.totals)


async def list_runs(
    session: AsyncSession, page: PageRequest
) -> tuple[list[RunSummary], str | None]:
    """A page of runs, newest first, each with its totals per currency."""
    runs, cursor = await keyset_page(session, select(DepreciationRun), DepreciationRun.id, page)
    totals: dict[UUID, dict[str, Decimal]] = defaultdict(dict)
    if runs:
        rows = await session.execute(
            select(
                DepreciationPosting.run_id,
                DepreciationPosting.currency,
                func.sum(DepreciationPosting.amount),
            )
            .where(DepreciationPosting.run_id.in_([run.id for run in runs]))
            .group_by(DepreciationPosting.run_id, DepreciationPosting.currency)
        )
        for run_id, currency, total in rows:
            if run_id is not None:
                totals[run_id][currency] = total
    return [RunSummary(run, totals.get(run.id, {})) for run in runs], cursor


async def _credit_account(session: AsyncSession, code: str | None, default: str) -> UUID:
    wanted = code or default
    return (await account_ids_by_code(session, {wanted}))[wanted]


async def create_asset(session: AsyncSession, audit: AuditContext, **fields: Any) -> Asset:
    """An asset (`service.create_asset`); one bought on an invoice line is checked against
    the line (its net amount is the cost, in the invoice's currency) and, when the invoice
    is approved already, its line is reclassified to the asset account."""
    invoice_id: UUID | None = fields.get("purchase_invoice_id")
    if invoice_id is None:
        return await service.create_asset(session, audit, **fields)
    number: int = fields["purchase_invoice_line"]
    # Locked: an approval of the invoice waits for this asset, or this for it.
    invoice = await row_by_id(session, Invoice, invoice_id, what="invoice", for_update=True)
    if invoice.kind != InvoiceKind.INVOICE:
        raise Problem(422, "not_a_purchase_invoice", "A credit note buys no asset.")
    if invoice.status not in (InvoiceStatus.SUBMITTED, InvoiceStatus.APPROVED, InvoiceStatus.PAID):
        raise Problem(
            409,
            "invoice_not_submitted",
            "An asset is bought on a line of a submitted, approved or paid invoice.",
            extra={"current_status": invoice.status},
        )
    line = await session.scalar(
        select(InvoiceLine).where(
            InvoiceLine.invoice_id == invoice.id, InvoiceLine.position == number - 1
        )
    )
    if line is None:
        raise Problem(
            422,
            "invoice_line_not_found",
            f"The invoice has no line {number} (lines are numbered from 1).",
        )
    taken = await session.scalar(
        select(Asset.id).where(
            Asset.purchase_invoice_id == invoice.id, Asset.purchase_invoice_line == number
        )
    )
    if taken is not None:
        raise Problem(
            409,
            "invoice_line_has_asset",
            "An asset was bought on this invoice line already.",
            extra={"asset_id": str(taken)},
        )
    if fields["currency"] != invoice.currency or fields["cost"] != line.line_subtotal:
        raise Problem(
            422,
            "cost_differs_from_invoice_line",
            "An asset bought on an invoice line costs the line's net amount, in the"
            " invoice's currency.",
            extra={"line_subtotal": str(line.line_subtotal), "currency": invoice.currency},
        )
    asset = await service.create_asset(session, audit, **fields)
    if invoice.status != InvoiceStatus.SUBMITTED:
        await _reclassify(session, audit, asset, invoice, line)
    return asset


async def _reclassify(
    session: AsyncSession, audit: AuditContext, asset: Asset, invoice: Invoice, line: InvoiceLine
) -> None:
    """Dr the asset account / Cr the account the approval debited, with the line's net
    amount, dated the invoice's issue date (the first open month if that one is closed)."""
    approved = await session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.source_type == postings.INVOICE,
            JournalEntry.source_id == invoice.id,
            JournalEntry.kind == postings.APPROVAL,
        )
    )
    if approved is None:
        raise Problem(
            409,
            "invoice_approval_not_posted",
            "This invoice's approval has no entry (approved before the ledger existed).",
        )
    assert invoice.issue_date is not None
    expense = await postings.expense_account_of_line(session, invoice, line)
    cost = (await accounts_of(session, asset)).cost
    entry = await post(
        session,
        audit,
        source_type=SOURCE,
        source_id=asset.id,
        kind=ACQUISITION,
        occurred_on=invoice.issue_date,
        lines=[
            PostingLine.dr(cost, line.line_subtotal, asset.currency, invoice.vendor_id),
            PostingLine.cr(expense.id, line.line_subtotal, asset.currency, invoice.vendor_id),
        ],
        memo=f"Invoice {invoice.number} line {line.position + 1} to asset {asset.tag}",
    )
    asset.acquisition_entry_id = entry.id
    await session.flush()
    audit.record(
        session,
        "asset.acquisition_posted",
        target_type="asset",
        target_id=asset.id,
        changes={"entry_id": str(entry.id), "invoice_id": str(invoice.id)},
    )


async def capitalize(
    session: AsyncSession, audit: AuditContext, asset_id: UUID, *, credit_account_code: str | None
) -> JournalEntry:
    """Dr 1500 / Cr the account named (default 9999) with the asset's cost, dated its
    acquisition; once per asset (409 `already_posted`)."""
    asset = await service.row_for_posting(session, asset_id)
    if asset.purchase_invoice_id is not None:
        raise Problem(
            409,
            "asset_bought_on_invoice",
            "This asset was bought on an invoice line: the invoice's approval (or a"
            " reclassification of it) puts its cost on the asset account.",
            extra={"purchase_invoice_id": str(asset.purchase_invoice_id)},
        )
    if asset.cost <= 0:
        raise Problem(422, "nothing_to_capitalize", "The asset has no cost to capitalize.")
    already = await session.scalar(
        select(JournalEntry.id).where(
            JournalEntry.source_type == SOURCE,
            JournalEntry.source_id == asset.id,
            JournalEntry.kind == CAPITALIZATION,
        )
    )
    if already is not None:
        raise Problem(
            409,
            "already_posted",
            "This asset has been capitalized already.",
            extra={"entry_id": str(already)},
        )
    fixed = (await accounts_of(session, asset)).cost
    credit = await _credit_account(session, credit_account_code, chart.SUSPENSE)
    entry = await post(
        session,
        audit,
        source_type=SOURCE,
        source_id=asset.id,
        kind=CAPITALIZATION,
        occurred_on=asset.acquisition_date,
        lines=[
            PostingLine.dr(fixed, asset.cost, asset.currency),
            PostingLine.cr(credit, asset.cost, asset.currency),
        ],
        memo=f"Capitalization of {asset.tag}",
    )
    audit.record(
        session,
        "asset.capitalized",
        target_type="asset",
        target_id=asset.id,
        changes={"entry_id": str(entry.id), "cost": str(asset.cost)},
    )
    return entry


async def dispose(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    *,
    if_match: str | None,
    on: date,
    method: str,
    proceeds: Decimal,
    proceeds_account_code: str | None,
) -> Asset:
    """The disposal (`service.dispose`), the depreciation up to it, and its entry."""
    asset = await service.dispose(
        session, audit, asset_id, if_match=if_match, on=on, method=method, proceeds=proceeds
    )
    await _post_due(session, audit, through=month_of(on), run_id=None, asset_id=asset.id)
    depreciated = await session.scalar(
        select(func.sum(DepreciationPosting.amount)).where(DepreciationPosting.asset_id == asset.id)
    )
    accounts = await accounts_by_code(
        session,
        {
            chart.ACCUMULATED_IMPAIRMENT,
            chart.DISPOSAL_GAIN_OR_LOSS,
            chart.REVALUATION_SURPLUS,
            chart.RETAINED_EARNINGS,
        },
    )
    own = await accounts_of(session, asset)
    proceeds_account = await _credit_account(session, proceeds_account_code, chart.BANK)
    currency = asset.currency
    assert asset.disposal_gain is not None
    gain = asset.disposal_gain
    amounts = [
        (proceeds_account, cents(proceeds)),
        (own.accumulated, depreciated or ZERO),
        (accounts[chart.ACCUMULATED_IMPAIRMENT].id, asset.accumulated_impairment),
        (accounts[chart.DISPOSAL_GAIN_OR_LOSS].id, -gain),
        (own.cost, -asset.cost),
        (accounts[chart.REVALUATION_SURPLUS].id, asset.revaluation_surplus),
        (accounts[chart.RETAINED_EARNINGS].id, -asset.revaluation_surplus),
    ]
    lines = _lines(amounts, currency)
    if lines:
        event = new_id()
        entry = await post(
            session,
            audit,
            source_type=SOURCE,
            source_id=event,
            kind=DISPOSAL,
            occurred_on=on,
            lines=lines,
            memo=f"Disposal of {asset.tag} ({method})",
        )
        asset.disposal_entry_id = entry.id
        await session.flush()
    await asset_changed(session, asset, "dispose")
    return asset


def _lines(amounts: Sequence[tuple[UUID, Decimal]], currency: str) -> list[PostingLine]:
    """A debit for each positive amount, a credit for each negative one, none for zero."""
    return [
        PostingLine.dr(account, amount, currency)
        if amount > 0
        else PostingLine.cr(account, -amount, currency)
        for account, amount in amounts
        if amount != 0
    ]


async def reverse_disposal(
    session: AsyncSession, audit: AuditContext, asset_id: UUID, *, if_match: str | None
) -> Asset:
    """The mirror of the disposal's entry, in its period (which must be open), and the
    asset back in service with its schedule running on."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    if asset.status != AssetStatus.DISPOSED:
        raise Problem(409, "asset_not_disposed", "This asset is not disposed.")
    if asset.disposal_entry_id is None:
        raise Problem(
            409, "disposal_not_posted", "This disposal has no entry to reverse (recorded unposted)."
        )
    original = await session.scalar(
        select(JournalEntry).where(JournalEntry.id == asset.disposal_entry_id)
    )
    assert original is not None
    closed = await session.scalar(
        select(Period.period).where(
            Period.period == original.period, Period.status == PeriodStatus.CLOSED
        )
    )
    if closed is not None:
        raise Problem(
            409,
            "period_closed",
            "The disposal's period is closed; it is no longer reversed.",
            extra={"period": f"{original.period:%Y-%m}"},
        )
    reversal = await reverse(
        session,
        audit,
        original,
        source_type=SOURCE,
        source_id=original.source_id,
        kind=DISPOSAL_REVERSAL,
        occurred_on=original.posted_on,
        memo=f"Disposal of {asset.tag} reversed",
    )
    await service.return_to_service(session, audit, asset, reversal_entry_id=reversal.id)
    await asset_changed(session, asset, "reverse_disposal")
    return asset


async def adjust(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    *,
    if_match: str | None,
    kind: AdjustmentKind,
    on: date,
    useful_life_months: int | None = None,
    salvage_value: Decimal | None = None,
    recoverable_amount: Decimal | None = None,
    fair_value: Decimal | None = None,
    amount: Decimal | None = None,
    credit_account_code: str | None = None,
) -> AssetAdjustment:
    """A mid-life change, effective from the month of `on` (or the month after the last
    posted one, when `on` falls in it): the months before stay as posted, the schedule
    from there is recomputed prospectively, and the change posts.

    - useful_life: `useful_life_months` is the new total life; no entry.
    - salvage: the new salvage value; no entry.
    - impairment: down to `recoverable_amount`: Dr 6850 / Cr 1595 with the loss.
    - revaluation (IAS 16) to `fair_value`: an increase first reverses earlier losses
      through profit (Dr 1595 / Cr 6850), the rest goes to equity (Dr 1500 / Cr 3100); a
      decrease first uses the asset's surplus (Dr 3100 / Cr 1500), the rest is a loss
      (Dr 6850 / Cr 1595).
    - cost: an improvement of `amount`: Dr 1500 / Cr the account named (default 9999).
    """
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    if asset.status == AssetStatus.DISPOSED:
        raise Problem(409, "asset_disposed", "A disposed asset is read-only.")
    if asset.in_service_date is None:
        raise Problem(409, "asset_not_in_service", "A draft is changed with PATCH.")
    if asset.depreciation_method == "units_of_production":
        raise Problem(
            409,
            "adjustment_not_supported",
            "A units-of-production asset depreciates by its recorded usage; it is not adjusted.",
        )
    if not asset.in_service_date <= on <= _today():
        raise Problem(
            422,
            "adjustment_date_out_of_range",
            "An adjustment is dated between the in-service date and today.",
        )
    posted = await service.last_posted_month(session, asset.id)
    if posted is not None and month_of(on) < posted:
        raise Problem(
            409,
            "adjustment_before_posted_month",
            "An adjustment is dated in or after the last posted month.",
            extra={"last_posted_period": f"{posted:%Y-%m}"},
        )
    effective = month_of(on) if posted is None or month_of(on) > posted else next_month(posted)
    last = await session.scalar(
        select(func.max(AssetAdjustment.effective_from)).where(AssetAdjustment.asset_id == asset.id)
    )
    if last is not None and effective < last:
        raise Problem(
            409,
            "adjustment_out_of_order",
            "A later adjustment of this asset exists; adjustments follow each other in time.",
        )
    depreciated = await service.depreciation_before(session, asset, effective)
    carrying = asset.cost - depreciated - asset.accumulated_impairment
    elapsed = service.months_between(asset.in_service_date, effective)
    cost_change = ZERO
    impairment_change = ZERO
    moves: list[tuple[str, Decimal]] = []  # (account code, signed amount: + debit)
    if kind is AdjustmentKind.USEFUL_LIFE:
        assert useful_life_months is not None
        if useful_life_months <= elapsed:
            raise Problem(
                422,
                "useful_life_too_short",
                f"The asset has been in service {elapsed} months before this adjustment.",
            )
        asset.useful_life_months = useful_life_months
    elif kind is AdjustmentKind.SALVAGE:
        assert salvage_value is not None
        if salvage_value > carrying:
            raise Problem(
                422, "salvage_above_carrying_amount", "Salvage exceeds the carrying amount."
            )
        asset.salvage_value = salvage_value
    elif kind is AdjustmentKind.IMPAIRMENT:
        assert recoverable_amount is not None
        if recoverable_amount >= carrying:
            raise Problem(
                422,
                "no_impairment",
                "The recoverable amount is not below the carrying amount.",
                extra={"carrying_amount": str(carrying)},
            )
        impairment_change = carrying - recoverable_amount
        moves = [(chart.IMPAIRMENT_LOSS, impairment_change)]
        moves.append((chart.ACCUMULATED_IMPAIRMENT, -impairment_change))
    elif kind is AdjustmentKind.REVALUATION:
        assert fair_value is not None
        cost_change, impairment_change, moves = _revaluation(asset, carrying, fair_value)
    else:
        assert amount is not None
        cost_change = amount
        moves = [(chart.FIXED_ASSETS, amount), (credit_account_code or chart.SUSPENSE, -amount)]
    asset.cost += cost_change
    asset.accumulated_impairment += impairment_change
    asset.revaluation_surplus += _surplus_change(moves)
    carrying_after = asset.cost - depreciated - asset.accumulated_impairment
    asset.salvage_value = min(asset.salvage_value, carrying_after)
    if kind is not AdjustmentKind.USEFUL_LIFE and asset.useful_life_months <= elapsed:
        raise Problem(
            422,
            "useful_life_ended",
            "The asset's useful life has ended; extend it first (kind 'useful_life').",
        )
    adjustment_id = new_id()
    entry_id = None
    if moves:
        codes = {code for code, _ in moves}
        accounts = await account_ids_by_code(session, codes)
        accounts[chart.FIXED_ASSETS] = (await accounts_of(session, asset)).cost
        entry = await post(
            session,
            audit,
            source_type=SOURCE,
            source_id=adjustment_id,
            kind=ADJUSTMENT,
            occurred_on=on,
            lines=_lines(
                [(accounts[code], value) for code, value in _merged(moves)], asset.currency
            ),
            memo=f"{kind.replace('_', ' ').capitalize()} of {asset.tag}",
        )
        entry_id = entry.id
    adjustment = AssetAdjustment(
        tenant_id=asset.tenant_id,
        id=adjustment_id,
        asset_id=asset.id,
        kind=kind,
        occurred_on=on,
        effective_from=effective,
        useful_life_months=useful_life_months,
        salvage_value=salvage_value,
        recoverable_amount=recoverable_amount,
        fair_value=fair_value,
        amount=amount,
        carrying_before=carrying,
        carrying_after=carrying_after,
        cost_change=cost_change,
        impairment_change=impairment_change,
        entry_id=entry_id,
        created_by=audit.actor.id,
    )
    session.add(adjustment)
    await session.flush()
    await service.store_schedule_from(session, asset, effective)
    await service.adjusted(session, audit, asset, adjustment)
    return adjustment


def _merged(moves: Sequence[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for code, value in moves:
        sums[code] += value
    return list(sums.items())


def _surplus_change(moves: Sequence[tuple[str, Decimal]]) -> Decimal:
    """Credits to 3100 raise the asset's surplus, debits use it."""
    return -sum((value for code, value in moves if code == chart.REVALUATION_SURPLUS), ZERO)


def _revaluation(
    asset: Asset, carrying: Decimal, fair_value: Decimal
) -> tuple[Decimal, Decimal, list[tuple[str, Decimal]]]:
    """(cost change, impairment change, moves) of a revaluation to `fair_value`."""
    difference = fair_value - carrying
    if difference == 0:
        raise Problem(422, "no_revaluation", "The fair value equals the carrying amount.")
    moves: list[tuple[str, Decimal]] = []
    if difference > 0:
        reversal = min(difference, asset.accumulated_impairment)
        surplus = difference - reversal
        if reversal:
            moves += [(chart.ACCUMULATED_IMPAIRMENT, reversal), (chart.IMPAIRMENT_LOSS, -reversal)]
        if surplus:
            moves += [(chart.FIXED_ASSETS, surplus), (chart.REVALUATION_SURPLUS, -surplus)]
        return surplus, -reversal, moves
    decrease = -difference
    from_surplus = min(decrease, asset.revaluation_surplus)
    loss = decrease - from_surplus
    if from_surplus:
        moves += [(chart.REVALUATION_SURPLUS, from_surplus), (chart.FIXED_ASSETS, -from_surplus)]
    if loss:
        moves += [(chart.IMPAIRMENT_LOSS, loss), (chart.ACCUMULATED_IMPAIRMENT, -loss)]
    return -from_surplus, loss, moves
