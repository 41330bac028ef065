"""The invoice CSV carries each line's tax code and account and each invoice's kind,
rounding and tax summary; exported and imported into another tenant with the same tax
codes, the invoices come back with the same taxes."""

from __future__ import annotations

import json

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account, signup
from tests.helpers.invoices import export, import_csv
from tests.helpers.payables import GSTIN_29, draft, gst_18, new_vendor
from tests.test_tax_codes import THREE_LINES

WORKFLOW = ("invoice_id", "status", "amount_paid")


async def seed(client: httpx.AsyncClient, owner: Account) -> dict[str, dict[str, object]]:
    """A GST invoice across states (IGST), one rounded per rate, a credit note; as the
    API answers them, by number."""
    await gst_18(client, owner)
    mysore = await new_vendor(
        client, owner, "Mysore Paper", tax_id=GSTIN_29, default_currency="INR"
    )
    paper = await new_vendor(client, owner)
    made = [
        await draft(
            client,
            owner,
            mysore,
            [
                {"description": "Paper", "quantity": "2", "unit_price": "50", "tax_code": "GST18"},
                {
                    "description": "Freight",
                    "quantity": "1",
                    "unit_price": "12.50",
                    "tax_rate": "0.05",
                    "account_code": "6000",
                },
            ],
            "MP-1",
        ),
        await draft(
            client, owner, paper, THREE_LINES, "PR-1", total="36.13", tax_rounding="per_rate"
        ),
        await draft(
            client,
            owner,
            paper,
            [{"description": "Refund", "quantity": "1", "unit_price": "10", "tax_rate": "0.19"}],
            "CN-1",
            kind="credit_note",
        ),
    ]
    for answer in made:
        assert answer.status_code == 201, answer.text
    return {str(answer.json()["number"]): answer.json() for answer in made}


def without_workflow(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in WORKFLOW} for row in rows]


async def test_the_export_carries_tax_codes_accounts_rounding_kind_and_the_tax_summary(
    client: httpx.AsyncClient, owner: Account
) -> None:
    invoices = await seed(client, owner)
    rows = {(row["number"], row["line"]): row for row in await export(client, owner)}
    paper, freight = rows["MP-1", "0"], rows["MP-1", "1"]
    assert (paper["tax_code"], paper["tax_rate"], paper["line_tax"]) == ("GST18", "0.1800", "18.00")
    assert (paper["account_code"], freight["account_code"]) == ("", "6000")
    assert (freight["tax_code"], freight["tax_rate"]) == ("", "0.0500")
    for (number, _line), row in rows.items():
        assert json.loads(row["tax_summary"]) == invoices[number]["tax_summary"]
        assert (row["kind"], row["tax_rounding"]) == (
            invoices[number]["kind"],
            invoices[number]["tax_rounding"],
        )
    igst = json.loads(paper["tax_summary"])[0]
    assert (igst["tax_code"], igst["component"], igst["tax_amount"]) == ("GST18", "IGST", "18.00")
    assert rows["PR-1", "0"]["tax_rounding"] == "per_rate"
    assert rows["CN-1", "0"]["kind"] == "credit_note"


async def test_an_export_imports_into_a_tenant_with_the_same_codes_as_the_same_taxes(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await seed(client, owner)
    exported = await client.get(f"{API}/invoices/export.csv", headers=owner.headers)
    other = await signup(client, "taxes-imported")
    await gst_18(client, other)
    imported = await import_csv(client, other, exported.text)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["imported"], imported.json()["failed"]) == (6, 0)
    ours, theirs = await export(client, owner), await export(client, other)
    assert without_workflow(theirs) == without_workflow(ours)
    assert {row["status"] for row in theirs} == {"draft"}


async def test_a_tenant_without_the_code_gets_that_invoice_refused_and_the_rest(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await seed(client, owner)
    exported = await client.get(f"{API}/invoices/export.csv", headers=owner.headers)
    other = await signup(client, "taxes-missing")
    imported = await import_csv(client, other, exported.text, partial=True)
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["imported"], body["failed"]) == (4, 2)
    failed = [row for row in body["rows"] if row["status"] == "failed"]
    assert all("GST18" in row["errors"][0] for row in failed), failed
    assert {row["number"] for row in await export(client, other)} == {"PR-1", "CN-1"}


async def test_a_claimed_total_is_checked_with_the_invoices_rounding(
    client: httpx.AsyncClient, owner: Account
) -> None:
    """36.13 is right rounded per rate (the row says so), wrong per line."""
    header = "vendor_name,number,issue_date,currency,description,quantity,unit_price,tax_rate"
    lines = "".join(f"Paper GmbH,{{n}},2026-03-01,EUR,Item {i},1,10.12,0.19\n" for i in range(3))
    per_rate = (header + ",total,tax_rounding\n") + lines.replace("\n", ",36.13,per_rate\n")
    per_line = (header + ",total\n") + lines.replace("\n", ",36.13\n")
    accepted = await import_csv(client, owner, per_rate.format(n="R-1"))
    assert accepted.status_code == 200, accepted.text
    refused = await import_csv(client, owner, per_line.format(n="L-1"))
    assert refused.status_code == 422
    assert refused.json()["rows"][0]["errors"] == ["total: the lines add up to 36.12, not 36.13"]
