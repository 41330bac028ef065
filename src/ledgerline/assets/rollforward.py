"""The fixed-asset roll-forward between two dates, per category and currency.

For cost, accumulated depreciation and accumulated impairment: opening + additions ±
adjustments - disposals = closing. A date stands for its month (`from` its first day,
`to` its last), as in the register. Cost: assets acquired in the period and improvements
(cost adjustments) are additions, revaluations are adjustments, the cost of assets
disposed in the period leaves. Accumulated depreciation: the period's depreciation is
its addition, the depreciation of disposed assets leaves. Impairment: impairments and
revaluation losses add, their reversals subtract (adjustments), disposals take the rest.
One statement: per asset two index probes into the stored schedule (as the register)
and one into its adjustments, summed per category and currency by PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.ledger.posting import month_of, next_month
from ledgerline.problems import Problem

ZERO = Decimal("0.00")

_ROLL_FORWARD = text(
    """
    WITH per_asset AS (
        SELECT a.category_id, a.currency,
               a.acquisition_date < :from_date AS opened,
               a.disposed_on IS NOT NULL AND a.disposed_on <= :to_date AS disposed,
               a.cost - coalesce(adj.cost_all, 0) AS original_cost,
               coalesce(adj.cost_before, 0) AS cost_before,
               coalesce(adj.cost_added, 0) AS cost_added,
               coalesce(adj.cost_revalued, 0) AS cost_revalued,
               coalesce(adj.impaired_before, 0) AS impaired_before,
               coalesce(adj.impaired_in, 0) AS impaired_in,
               coalesce(before.accumulated, 0) AS depreciated_before,
               coalesce(upto.accumulated, 0) AS depreciated_upto
        FROM assets a
        LEFT JOIN LATERAL (
            SELECT sum(j.cost_change) AS cost_all,
                   sum(j.cost_change) FILTER (WHERE j.occurred_on < :from_date) AS cost_before,
                   sum(j.cost_change) FILTER (WHERE j.occurred_on BETWEEN :from_date AND :to_date
                       AND j.kind = 'cost') AS cost_added,
                   sum(j.cost_change) FILTER (WHERE j.occurred_on BETWEEN :from_date AND :to_date
                       AND j.kind <> 'cost') AS cost_revalued,
                   sum(j.impairment_change) FILTER (WHERE j.occurred_on < :from_date)
                       AS impaired_before,
                   sum(j.impairment_change) FILTER (
                       WHERE j.occurred_on BETWEEN :from_date AND :to_date) AS impaired_in
            FROM asset_adjustments j
            WHERE j.tenant_id = a.tenant_id AND j.asset_id = a.id
        ) adj ON true
        LEFT JOIN LATERAL (
            SELECT e.accumulated FROM depreciation_entries e
            WHERE e.tenant_id = a.tenant_id AND e.asset_id = a.id AND e.period < :from_date
            ORDER BY e.period DESC LIMIT 1
        ) before ON true
        LEFT JOIN LATERAL (
            SELECT e.accumulated FROM depreciation_entries e
            WHERE e.tenant_id = a.tenant_id AND e.asset_id = a.id AND e.period <= :to_date
            ORDER BY e.period DESC LIMIT 1
        ) upto ON true
        WHERE a.acquisition_date <= :to_date
          AND (a.disposed_on IS NULL OR a.disposed_on >= :from_date)
    )
    SELECT p.category_id, c.name AS category, p.currency, count(*) AS assets,
        sum(CASE WHEN opened THEN original_cost + cost_before ELSE 0 END) AS cost_opening,
        sum(CASE WHEN opened THEN 0 ELSE original_cost END) + sum(cost_added) AS cost_additions,
        sum(cost_revalued) AS cost_adjustments,
        sum(CASE WHEN disposed
            THEN original_cost + cost_before + cost_added + cost_revalued ELSE 0 END)
            AS cost_disposals,
        sum(CASE WHEN opened THEN depreciated_before ELSE 0 END) AS depreciation_opening,
        sum(depreciated_upto - depreciated_before) AS depreciation_additions,
        sum(CASE WHEN disposed THEN depreciated_upto ELSE 0 END) AS depreciation_disposals,
        sum(CASE WHEN opened THEN impaired_before ELSE 0 END) AS impairment_opening,
        sum(impaired_in) AS impairment_adjustments,
        sum(CASE WHEN disposed THEN impaired_before + impaired_in ELSE 0 END)
            AS impairment_disposals
    FROM per_asset p
    JOIN asset_categories c ON c.id = p.category_id
    GROUP BY p.category_id, c.name, p.currency
    ORDER BY c.name, p.currency
    """
)

_BLOCKS = ("cost", "depreciation", "impairment")
_BLOCK_NAMES = {
    "cost": "cost",
    "depreciation": "accumulated_depreciation",
    "impairment": "accumulated_impairment",
}


def _block(row: Any, name: str) -> dict[str, Decimal]:
    values = {
        part: Decimal(getattr(row, f"{name}_{part}", None) or ZERO)
        for part in ("opening", "additions", "adjustments", "disposals")
    }
    values["closing"] = (
        values["opening"] + values["additions"] + values["adjustments"] - values["disposals"]
    )
    return values


def _group(blocks: dict[str, dict[str, Decimal]]) -> dict[str, Any]:
    def net(moment: str) -> Decimal:
        return (
            blocks["cost"][moment] - blocks["depreciation"][moment] - blocks["impairment"][moment]
        )

    return {_BLOCK_NAMES[name]: block for name, block in blocks.items()} | {
        "opening_net_book_value": net("opening"),
        "closing_net_book_value": net("closing"),
    }


async def roll_forward(session: AsyncSession, from_day: date, to_day: date) -> dict[str, Any]:
    """The roll-forward of the months from `from_day`'s to `to_day`'s (422 when reversed)."""
    first = month_of(from_day)
    last = next_month(month_of(to_day))
    if first >= last:
        raise Problem(422, "period_reversed", "`from` lies after `to`.")
    to_date = date.fromordinal(last.toordinal() - 1)
    rows = (await session.execute(_ROLL_FORWARD, {"from_date": first, "to_date": to_date})).all()
    categories = []
    totals: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(
        lambda: {name: defaultdict(lambda: ZERO) for name in _BLOCKS}
    )
    for row in rows:
        blocks = {name: _block(row, name) for name in _BLOCKS}
        categories.append(
            {
                "category_id": row.category_id,
                "category": row.category,
                "currency": row.currency,
                "assets": row.assets,
            }
            | _group(blocks)
        )
        for name, block in blocks.items():
            for part, value in block.items():
                totals[row.currency][name][part] += value
    return {
        "from_date": first,
        "to_date": to_date,
        "categories": categories,
        "totals": {
            currency: _group({name: dict(block) for name, block in blocks.items()})
            for currency, blocks in totals.items()
        },
    }
