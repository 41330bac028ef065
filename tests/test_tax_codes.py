"""Tax codes through HTTP: rounding per line and per rate (hand figures), reverse
charge, GST intra- and inter-state, GSTIN checksums; and what PostgreSQL refuses."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, signup
from tests.helpers.ledger import by_code, cache_disagreements, trial_balance
from tests.helpers.payables import (
    GSTIN_27,
    GSTIN_29,
    approved,
    balanced,
    draft,
    entry_lines,
    gst_18,
    new_vendor,
    tax_code,
)

# Three lines of 10.12 at 19%: each line's tax is 1.9228 -> 1.92 (5.76 in all); the
# rate's tax on 30.36 is 5.7684 -> 5.77.
THREE_LINES = [
    {"description": f"Item {n}", "quantity": "1", "unit_price": "10.12", "tax_rate": "0.19"}
    for n in range(3)
]


async def test_per_line_and_per_rate_rounding_by_hand(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await new_vendor(client, owner)
    per_line = await draft(client, owner, vendor_id, THREE_LINES, "PL-1")
    assert per_line.status_code == 201, per_line.text
    body = per_line.json()
    assert (body["tax_rounding"], body["subtotal"], body["tax_total"], body["total"]) == (
        "per_line", "30.36", "5.76", "36.12",
    )  # fmt: skip
    assert [line["line_tax"] for line in body["lines"]] == ["1.92", "1.92", "1.92"]
    assert [(r["rate"], r["taxable_amount"], r["tax_amount"]) for r in body["tax_summary"]] == [
        ("0.1900", "30.36", "5.76")
    ]
    # The e-invoice printed 36.13 (EN 16931: tax on the sum per rate): per line it is refused,
    refused = await draft(client, owner, vendor_id, THREE_LINES, "PR-1", total="36.13")
    assert (refused.status_code, problem_code(refused)) == (422, "total_mismatch")
    # ... per rate it is what the invoice says.
    per_rate = await draft(
        client, owner, vendor_id, THREE_LINES, "PR-1", total="36.13", tax_rounding="per_rate"
    )
    assert per_rate.status_code == 201, per_rate.text
    body = per_rate.json()
    assert (body["tax_total"], body["total"]) == ("5.77", "36.13")
    assert body["tax_summary"][0]["tax_amount"] == "5.77"
    again = await client.get(f"{API}/invoices/{body['id']}", headers=owner.headers)
    assert again.json()["tax_summary"] == body["tax_summary"]

    # Switching a draft's rounding computes its tax again.
    switched = await client.patch(
        f"{API}/invoices/{body['id']}",
        json={"tax_rounding": "per_line"},
        headers=owner.headers | {"If-Match": again.headers["etag"]},
    )
    assert (switched.status_code, switched.json()["total"]) == (200, "36.12")


async def test_reverse_charge_posts_input_and_output_tax(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    created = await client.post(
        f"{API}/ledger/accounts",
        json={"code": "2200", "name": "Output tax", "type": "liability"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    missing = await client.post(
        f"{API}/tax-codes",
        json={"code": "RC", "name": "Reverse charge", "kind": "reverse_charge", "rate": "0.19"},
        headers=owner.headers,
    )
    assert (missing.status_code, problem_code(missing)) == (422, "output_account_required")
    await tax_code(
        client, owner, code="RC", name="Reverse charge", kind="reverse_charge", rate="0.19",
        output_account_code="2200",
    )  # fmt: skip
    vendor_id = await new_vendor(client, owner)
    line = {"description": "Consulting", "quantity": "1", "unit_price": "100", "tax_code": "RC"}
    invoice = await approved(client, owner, vendor_id, [line])
    assert (invoice["tax_total"], invoice["total"]) == ("0.00", "100.00")
    assert invoice["lines"][0]["line_tax"] == "0.00"
    (row,) = invoice["tax_summary"]
    assert (row["tax_code"], row["tax_amount"], row["reverse_charge"]) == ("RC", "19.00", True)
    assert await entry_lines(client, owner, invoice["id"]) == {
        "6000": ("100.00", "0.00"),
        "1400": ("19.00", "0.00"),
        "2200": ("0.00", "19.00"),
        "2000": ("0.00", "100.00"),
    }
    assert await balanced(client, owner)
    trial = await trial_balance(client, owner)
    assert by_code(trial)["2200"][2] == "-19.00"
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_partly_recoverable_input_tax_expenses_the_rest(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await tax_code(
        client, owner, code="V50", name="Half recoverable", kind="standard", rate="0.20",
        recoverable="0.5",
    )  # fmt: skip
    vendor_id = await new_vendor(client, owner)
    line = {"description": "Car hire", "quantity": "1", "unit_price": "100", "tax_code": "V50"}
    invoice = await approved(client, owner, vendor_id, [line])
    assert invoice["tax_summary"][0]["recoverable_amount"] == "10.00"
    assert await entry_lines(client, owner, invoice["id"]) == {
        "6000": ("110.00", "0.00"),
        "1400": ("10.00", "0.00"),
        "2000": ("0.00", "120.00"),
    }


@pytest.mark.parametrize(
    ("gstin", "expected"),
    [
        (GSTIN_27, [("CGST", "0.0900", "9.00"), ("SGST", "0.0900", "9.00")]),
        (GSTIN_29, [("IGST", "0.1800", "18.00")]),
    ],
    ids=["intra-state", "inter-state"],
)
async def test_gst_splits_by_the_vendors_state(
    client: httpx.AsyncClient, owner: Account, gstin: str, expected: list[tuple[str, str, str]]
) -> None:
    await gst_18(client, owner, home_state="27")
    vendor = await client.post(
        f"{API}/vendors",
        json={"name": "Mumbai Paper", "default_currency": "INR", "tax_id": gstin},
        headers=owner.headers,
    )
    assert vendor.status_code == 201, vendor.text
    assert vendor.json()["state_code"] == gstin[:2]
    line = {"description": "Paper", "quantity": "2", "unit_price": "50", "tax_code": "GST18"}
    invoice = await approved(client, owner, vendor.json()["id"], [line])
    rows = [(r["component"], r["rate"], r["tax_amount"]) for r in invoice["tax_summary"]]
    assert rows == expected
    assert (invoice["tax_total"], invoice["total"]) == ("18.00", "118.00")
    assert invoice["lines"][0]["tax_rate"] == "0.1800"
    assert await entry_lines(client, owner, invoice["id"]) == {
        "6000": ("100.00", "0.00"),
        "1400": ("18.00", "0.00"),
        "2000": ("0.00", "118.00"),
    }
    assert await balanced(client, owner)


async def test_gst_needs_the_vendors_state_and_components_that_add_up(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await gst_18(client, owner)
    vendor_id = await new_vendor(client, owner)  # no GSTIN, no state
    line = {"description": "Paper", "quantity": "1", "unit_price": "50", "tax_code": "GST18"}
    refused = await draft(client, owner, vendor_id, [line])
    assert (refused.status_code, problem_code(refused)) == (422, "vendor_state_unknown")
    given = await client.patch(
        f"{API}/vendors/{vendor_id}", json={"state_code": "07"},
        headers=owner.headers | {"If-Match": "*"},
    )  # fmt: skip
    assert given.status_code == 200, given.text
    inter = await draft(client, owner, vendor_id, [line])
    assert [r["component"] for r in inter.json()["tax_summary"]] == ["IGST"]

    wrong = await client.post(
        f"{API}/tax-codes",
        json={
            "code": "GST12", "name": "GST 12%", "kind": "standard", "rate": "0.12",
            "home_state_code": "27",
            "components": [
                {"name": "CGST", "rate": "0.06", "applies_to": "intra_state"},
                {"name": "SGST", "rate": "0.05", "applies_to": "intra_state"},
                {"name": "IGST", "rate": "0.12", "applies_to": "inter_state"},
            ],
        },
        headers=owner.headers,
    )  # fmt: skip
    assert (wrong.status_code, problem_code(wrong)) == (422, "components_do_not_add_up")


async def test_a_gstin_with_a_bad_checksum_is_refused(
    client: httpx.AsyncClient, owner: Account
) -> None:
    bad = GSTIN_27[:-1] + "X"
    answer = await client.post(
        f"{API}/vendors",
        json={"name": "Bad", "default_currency": "INR", "tax_id": bad},
        headers=owner.headers,
    )
    assert answer.status_code == 422, answer.text
    assert "check character" in answer.text
    clash = await client.post(
        f"{API}/vendors",
        json={"name": "Clash", "default_currency": "INR", "tax_id": GSTIN_27, "state_code": "29"},
        headers=owner.headers,
    )
    assert (clash.status_code, problem_code(clash)) == (422, "state_code_mismatch")


async def test_lines_take_a_code_or_a_bare_rate(client: httpx.AsyncClient, owner: Account) -> None:
    await tax_code(client, owner, code="ZERO", name="Zero", kind="zero", rate="0")
    vendor_id = await new_vendor(client, owner)
    both = {"description": "X", "quantity": "1", "unit_price": "1", "tax_code": "ZERO"}
    refused = await draft(client, owner, vendor_id, [both | {"tax_rate": "0.19"}])
    assert (refused.status_code, problem_code(refused)) == (422, "tax_code_and_rate")
    unknown = await draft(client, owner, vendor_id, [both | {"tax_code": "NOPE"}])
    assert (unknown.status_code, problem_code(unknown)) == (422, "unknown_tax_code")
    nonzero = await client.post(
        f"{API}/tax-codes",
        json={"code": "EX", "name": "Exempt", "kind": "exempt", "rate": "0.05"},
        headers=owner.headers,
    )
    assert (nonzero.status_code, problem_code(nonzero)) == (422, "rate_must_be_zero")
    mixed = await draft(
        client, owner, vendor_id,
        [both, {"description": "Y", "quantity": "2", "unit_price": "5", "tax_rate": "0.07"}],
    )  # fmt: skip
    assert mixed.status_code == 201, mixed.text
    assert [(r["tax_code"], r["tax_amount"]) for r in mixed.json()["tax_summary"]] == [
        ("ZERO", "0.00"),
        (None, "0.70"),
    ]


async def test_a_code_is_renamed_or_deactivated_never_recomputed(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    code = await tax_code(client, owner, code="S19", name="Standard", kind="standard", rate="0.19")
    renamed = await client.patch(
        f"{API}/tax-codes/{code['id']}",
        json={"name": "Standard 19%", "active": False},
        headers=owner.headers | {"If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == '"2"'
    changing_rate = await client.patch(
        f"{API}/tax-codes/{code['id']}", json={"rate": "0.2"},
        headers=owner.headers | {"If-Match": "*"},
    )  # fmt: skip
    assert changing_rate.status_code == 422
    vendor_id = await new_vendor(client, owner)
    line = {"description": "X", "quantity": "1", "unit_price": "1", "tax_code": "S19"}
    inactive = await draft(client, owner, vendor_id, [line])
    assert (inactive.status_code, problem_code(inactive)) == (422, "unknown_tax_code")
    # PostgreSQL itself refuses the runtime role a change of what a code computes.
    for change in (
        "UPDATE tax_codes SET rate = 0.5",
        "UPDATE tax_codes SET kind = 'zero'",
        "UPDATE tax_codes SET components = '[]'",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with database.tenant_transaction(owner.tenant_id) as session:
                await session.execute(text(change))
    with pytest.raises(DBAPIError, match="untaxed_rate_zero"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO tax_codes (tenant_id, id, code, name, kind, rate, recoverable,"
                    " components, input_account_code, active, version) VALUES (:t,"
                    " gen_random_uuid(), 'Z', 'Z', 'zero', 0.1, 1, '[]', '1400', true, 1)"
                ),
                {"t": owner.tenant_id},
            )
    assert Decimal(code["rate"]) == Decimal("0.19")


async def test_another_tenants_tax_codes_are_not_there(
    client: httpx.AsyncClient, owner: Account
) -> None:
    code = await tax_code(client, owner, code="S19", name="Standard", kind="standard", rate="0.19")
    other = await signup(client, "othertax")
    seen = await client.get(f"{API}/tax-codes/{code['id']}", headers=other.headers)
    assert (seen.status_code, problem_code(seen)) == (404, "tax_code_not_found")
    changed = await client.patch(
        f"{API}/tax-codes/{code['id']}", json={"name": "Mine"},
        headers=other.headers | {"If-Match": "*"},
    )  # fmt: skip
    assert changed.status_code == 404
    listed = await client.get(f"{API}/tax-codes", headers=other.headers)
    assert listed.json()["items"] == []
    vendor_id = await new_vendor(client, other)
    line = {"description": "X", "quantity": "1", "unit_price": "1", "tax_code": "S19"}
    refused = await draft(client, other, vendor_id, [line])
    assert (refused.status_code, problem_code(refused)) == (422, "unknown_tax_code")
