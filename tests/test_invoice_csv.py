"""Invoices as CSV: the streamed export, the checked import, and the round trip."""

from __future__ import annotations

import httpx

from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, signup
from tests.helpers.invoices import HEADER, export, import_csv, invoice, step


async def seed(client: httpx.AsyncClient, owner: Account) -> None:
    paper = await client.post(
        f"{API}/vendors",
        json={"name": "Paper GmbH", "tax_id": "DE 123456789", "default_currency": "EUR"},
        headers=owner.headers,
    )
    plain = await client.post(
        f"{API}/vendors",
        json={"name": 'Müller, "Büro" & Co', "default_currency": "CHF"},
        headers=owner.headers,
    )
    first = await invoice(client, owner, paper.json()["id"], po_number="PO-7")
    await invoice(
        client,
        owner,
        plain.json()["id"],
        number="2026/1",
        issue_date="2026-02-03",
        due_date="2026-03-31",
        notes='Line one, with "quotes"\nline two',
        lines=[{"description": "Stühle", "quantity": "2.5", "unit_price": "80.1234"}],
    )
    await step(client, owner, first.json()["id"], "submit")
    await step(client, owner, first.json()["id"], "approve")


async def test_the_export_has_one_row_per_line_in_plain_formats(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await seed(client, owner)
    rows = await export(client, owner)
    assert [(r["number"], r["line"], r["description"]) for r in rows] == [
        ("INV-1", "0", "Paper"),
        ("INV-1", "1", "Toner"),
        ("2026/1", "0", "Stühle"),
    ]
    first = rows[0]
    assert (first["vendor_tax_id"], first["issue_date"], first["due_date"]) == (
        "DE123456789",
        "2026-03-01",
        "2026-03-31",
    )
    assert (first["quantity"], first["unit_price"], first["tax_rate"]) == (
        "3.0000",
        "0.3350",
        "0.1900",
    )
    assert (first["subtotal"], first["tax_total"], first["total"]) == ("100.99", "19.19", "120.18")
    assert (first["status"], first["po_number"], first["amount_paid"]) == (
        "approved",
        "PO-7",
        "0.00",
    )
    assert rows[2]["notes"] == 'Line one, with "quotes"\nline two'
    approved = await export(client, owner, status="approved")
    assert {r["number"] for r in approved} == {"INV-1"}
    assert await export(client, owner, q="müller") == rows[2:]
    other = await signup(client, "not-exporting")
    assert await export(client, other) == []


async def test_an_export_imports_into_another_tenant_as_the_same_invoices(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await seed(client, owner)
    answer = await client.get(f"{API}/invoices/export.csv", headers=owner.headers)
    other = await signup(client, "importing")
    imported = await import_csv(client, other, answer.text)
    assert imported.status_code == 200, imported.text
    assert (imported.json()["imported"], imported.json()["failed"]) == (3, 0)
    ours = await export(client, owner)
    theirs = await export(client, other)
    # Ids are the new tenant's, and the invoices start over there as drafts.
    workflow = ("invoice_id", "status", "amount_paid")
    assert [{k: v for k, v in r.items() if k not in workflow} for r in theirs] == [
        {k: v for k, v in r.items() if k not in workflow} for r in ours
    ]
    assert {r["status"] for r in theirs} == {"draft"}
    vendors = await client.get(f"{API}/vendors", headers=other.headers)
    assert sorted(v["name"] for v in vendors.json()["items"]) == [
        'Müller, "Büro" & Co',
        "Paper GmbH",
    ]
    again = await import_csv(client, other, answer.text)
    assert (again.json()["imported"], again.json()["skipped"]) == (0, 3)
    assert len(await export(client, other)) == 3


async def test_an_invalid_row_imports_nothing_unless_partial(
    client: httpx.AsyncClient, owner: Account
) -> None:
    text = HEADER + (
        "Paper GmbH,,A-1,2026-01-01,,EUR,Paper,1,10.00,0.19,11.90\n"
        "Paper GmbH,,A-1,2026-01-01,,EUR,Ink,2,5.00,0.19,11.90\n"
        "Ink Ltd,,B-1,2026-13-01,,EUR,Ink,1,5,0,\n"
        "Ink Ltd,,B-2,2026-01-02,,EUR,Ink,1,5,0,6.00\n"
        "Ink Ltd,,B-3,2026-01-02,,,Ink,1,5,0,\n"
        "Ink Ltd,,B-4,2026-01-02,,EUR,Ink,1,5.5,0,\n"
        "Ink Ltd,,B-4,2026-01-09,,EUR,Ink,1,1,0,\n"
    )
    refused = await import_csv(client, owner, text)
    assert problem_code(refused) == "csv_rows_invalid"
    errors = {row["line"]: row["errors"] for row in refused.json()["rows"]}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7, 8]
    assert errors[2] == ["total: the lines add up to 23.80, not 11.90"]
    assert errors[4][0].startswith("issue_date")
    assert errors[5] == ["total: the lines add up to 5.00, not 6.00"]
    assert errors[6] == ["currency: needed to create the vendor"]
    assert errors[8] == ["issue_date: differs from the invoice's first row (line 7)"]
    assert errors[7] == ["another row of this invoice is invalid"]
    assert await export(client, owner) == []
    fixed = text.replace("11.90\n", "23.80\n").replace("2026-01-09", "2026-01-02")
    partial = await import_csv(client, owner, fixed, partial=True)
    assert partial.status_code == 200, partial.text
    body = partial.json()
    assert (body["imported"], body["failed"]) == (4, 3)
    assert {r["number"] for r in await export(client, owner)} == {"A-1", "B-4"}
    a1 = [r for r in await export(client, owner) if r["number"] == "A-1"]
    assert [r["total"] for r in a1] == ["23.80", "23.80"]


async def test_unreadable_files_are_refused_whole(
    client: httpx.AsyncClient, owner: Account
) -> None:
    missing = await import_csv(client, owner, "vendor_name,number\nX,1\n")
    assert problem_code(missing) == "csv_columns_missing"
    latin = await client.post(
        f"{API}/invoices/import",
        content=(HEADER + "Müller,,1,2026-01-01,,EUR,x,1,1,0,\n").encode("latin-1"),
        headers=owner.headers | {"Content-Type": "text/csv"},
    )
    assert problem_code(latin) == "csv_not_utf8"
    unknown = await import_csv(
        client, owner, HEADER.replace("total", "discount") + "X,,1,2026-01-01,,EUR,x,1,1,0,5\n"
    )
    assert problem_code(unknown) == "csv_rows_invalid"
