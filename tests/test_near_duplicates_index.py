"""An invoice's likely twins are found through an index on the vendor and the issue date
(migration 0025), not by reading every invoice of the vendor: the near-duplicate check
runs on every create, save, submit and approval, and a vendor's history only grows."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx

from ledgerline.config import Settings
from ledgerline.invoices import duplicates
from tests.helpers.database import owner_sql
from tests.helpers.identity import Account
from tests.helpers.payables import draft, new_vendor

LINE = {"description": "Hosting", "quantity": "1", "unit_price": "120.00", "tax_rate": "0.19"}
# A vendor's long history: copies of one draft, each with its own number, one a day back.
HISTORY = """
INSERT INTO invoices
SELECT (jsonb_populate_record(i, jsonb_build_object(
    'id', gen_random_uuid(), 'number', 'OLD-' || g, 'number_key', 'old' || g,
    'issue_date', i.issue_date - g, 'due_date', i.due_date - g))).*
FROM invoices i, generate_series(1, 3000) g
WHERE i.id = $1
"""


def _index_conditions(plan: Any) -> list[str]:
    """Every node's `Index Cond` in a JSON plan."""
    found = [plan["Index Cond"]] if "Index Cond" in plan else []
    for child in plan.get("Plans", []):
        found += _index_conditions(child)
    return found


async def test_the_twins_are_found_by_vendor_and_issue_date(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    vendor_id = await new_vendor(client, owner)
    created = await draft(client, owner, vendor_id, [LINE], "HOST-1")
    assert created.status_code == 201, created.text
    invoice = created.json()
    await owner_sql(settings, owner.tenant_id, HISTORY, UUID(invoice["id"]))
    await owner_sql(settings, owner.tenant_id, "ANALYZE invoices")
    (explained,) = await owner_sql(
        settings,
        owner.tenant_id,
        "EXPLAIN (FORMAT JSON) " + duplicates._NEAR,
        UUID(vendor_id),
        "invoice",
        "EUR",
        Decimal(invoice["total"]),
        date.fromisoformat(invoice["issue_date"]),
        date.fromisoformat(invoice["issue_date"]),
        "host2",
        "void",
        UUID(invoice["id"]),
        duplicates.NEAR_LIMIT,
    )
    plan = json.loads(explained[0])[0]["Plan"]
    conditions = " ".join(_index_conditions(plan))
    assert "vendor_id" in conditions, json.dumps(plan)[:3000]
    assert "issue_date" in conditions, json.dumps(plan)[:3000]
