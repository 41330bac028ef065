"""Tax codes, credit notes and approvals through HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API
from tests.helpers.identity import Account

# A valid GSTIN of Maharashtra (state 27) and one of Karnataka (state 29).
GSTIN_27 = "27AAPFU0939F1ZV"
GSTIN_29 = "29AAGCB7383J1Z4"


async def tax_code(client: httpx.AsyncClient, who: Account, **fields: Any) -> dict[str, Any]:
    answer = await client.post(f"{API}/tax-codes", json=fields, headers=who.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def gst_18(client: httpx.AsyncClient, who: Account, home_state: str = "27") -> None:
    await tax_code(
        client,
        who,
        code="GST18",
        name="GST 18%",
        kind="standard",
        rate="0.18",
        home_state_code=home_state,
        components=[
            {"name": "CGST", "rate": "0.09", "applies_to": "intra_state"},
            {"name": "SGST", "rate": "0.09", "applies_to": "intra_state"},
            {"name": "IGST", "rate": "0.18", "applies_to": "inter_state"},
        ],
    )


async def new_vendor(
    client: httpx.AsyncClient, who: Account, name: str = "Paper GmbH", **fields: Any
) -> str:
    answer = await client.post(
        f"{API}/vendors",
        json={"name": name, "default_currency": "EUR"} | fields,
        headers=who.headers,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def draft(
    client: httpx.AsyncClient,
    who: Account,
    vendor_id: str,
    lines: list[dict[str, str]],
    number: str = "INV-1",
    **fields: Any,
) -> httpx.Response:
    body = {"vendor_id": vendor_id, "number": number, "issue_date": "2026-03-01", "lines": lines}
    return await client.post(f"{API}/invoices", json=body | fields, headers=who.headers)


async def act(
    client: httpx.AsyncClient,
    who: Account,
    invoice_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """A step on the invoice at its current version."""
    etag = (await client.get(f"{API}/invoices/{invoice_id}", headers=who.headers)).headers["etag"]
    return await client.post(
        f"{API}/invoices/{invoice_id}/{action}",
        json=body,
        headers=who.headers | {"If-Match": etag},
    )


async def approved(
    client: httpx.AsyncClient,
    who: Account,
    vendor_id: str,
    lines: list[dict[str, str]],
    number: str = "INV-1",
    **fields: Any,
) -> dict[str, Any]:
    created = await draft(client, who, vendor_id, lines, number, **fields)
    assert created.status_code == 201, created.text
    invoice_id = created.json()["id"]
    for step in ("submit", "approve"):
        answer = await act(client, who, invoice_id, step)
        assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def entry_lines(
    client: httpx.AsyncClient, who: Account, invoice_id: str
) -> dict[str, tuple[str, str]]:
    """The approval entry of an invoice as {account code: (debit, credit)}."""
    accounts = (await client.get(f"{API}/ledger/accounts", headers=who.headers)).json()["items"]
    codes = {a["id"]: a["code"] for a in accounts}
    entries = await client.get(
        f"{API}/ledger/entries",
        params={"source_type": "invoice", "source_id": invoice_id},
        headers=who.headers,
    )
    assert entries.status_code == 200, entries.text
    (listed,) = [e for e in entries.json()["items"] if e["kind"] == "approval"]
    entry = (await client.get(f"{API}/ledger/entries/{listed['id']}", headers=who.headers)).json()
    return {codes[line["account_id"]]: (line["debit"], line["credit"]) for line in entry["lines"]}


async def balanced(client: httpx.AsyncClient, who: Account) -> bool:
    """Whether the trial balance's debits equal its credits in every currency."""
    answer = await client.get(f"{API}/ledger/trial-balance", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return all(t["debit"] == t["credit"] for t in answer.json()["totals"])
