"""Values a client sends that no person means: refused with 422 naming the field.

Money and other decimals are plain ASCII digit strings; days lie in 1900-2199 in bodies
and query parameters alike; names are not blank (never a 500).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ledgerline.config import Settings
from tests.helpers.assets import asset, category
from tests.helpers.http import API
from tests.helpers.identity import PASSWORD, Account, bearer, create_admin, login
from tests.helpers.invoices import vendor

BAD_MONEY = [
    "\u0661\u0662\u0663",  # Arabic-Indic digits: recorded as 123.00 before
    "1E+2",
    " 12.00",
    "12.00 ",
    "-0.00",
    "12.345",
    12.5,
    12,
]
BAD_MONEY_IDS = [
    "arabic-indic",
    "exponent",
    "leading-space",
    "trailing-space",
    "minus-zero",
    "sub-cent",
    "json-float",
    "json-int",
]
BLANK = "  \t "


def refused_field(response: httpx.Response, *loc: str | int) -> bool:
    """A 422 validation problem that names the field at `loc` (after body/query)."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_failed", body
    return any(tuple(error["loc"][1:]) == loc for error in body["errors"])


async def etag_of(client: httpx.AsyncClient, who: Account, path: str) -> str:
    return (await client.get(f"{API}{path}", headers=who.headers)).headers["etag"]


def invoice_body(vendor_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "number": "INV-1",
        "issue_date": "2026-03-01",
        "lines": [{"description": "Toner", "quantity": "2", "unit_price": "100.00"}],
    } | fields


async def approved_invoice(client: httpx.AsyncClient, who: Account) -> str:
    created = await client.post(
        f"{API}/invoices", json=invoice_body(await vendor(client, who)), headers=who.headers
    )
    assert created.status_code == 201, created.text
    invoice_id = str(created.json()["id"])
    for step in ("submit", "approve"):
        etag = await etag_of(client, who, f"/invoices/{invoice_id}")
        answer = await client.post(
            f"{API}/invoices/{invoice_id}/{step}", headers=who.headers | {"If-Match": etag}
        )
        assert answer.status_code == 200, answer.text
    return invoice_id


async def pay(
    client: httpx.AsyncClient, who: Account, invoice_id: str, **fields: Any
) -> httpx.Response:
    etag = await etag_of(client, who, f"/invoices/{invoice_id}")
    return await client.post(
        f"{API}/invoices/{invoice_id}/pay",
        json={"paid_on": "2026-03-02"} | fields,
        headers=who.headers | {"If-Match": etag},
    )


def asset_body(category_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Laptop",
        "category_id": category_id,
        "acquisition_date": "2026-01-10",
        "cost": "1200.00",
        "currency": "EUR",
    } | fields


@pytest.mark.parametrize("amount", BAD_MONEY, ids=BAD_MONEY_IDS)
async def test_a_payment_amount_is_plain_digits_with_cents(
    client: httpx.AsyncClient, owner: Account, amount: object
) -> None:
    invoice_id = await approved_invoice(client, owner)
    assert refused_field(await pay(client, owner, invoice_id, amount=amount), "amount")
    unpaid = await client.get(f"{API}/invoices/{invoice_id}", headers=owner.headers)
    assert unpaid.json()["amount_paid"] == "0.00"
    paid = await pay(client, owner, invoice_id, amount="12.5")
    assert paid.json()["amount_paid"] == "12.50"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "1E+2"}, "quantity"),
        ({"quantity": 2}, "quantity"),
        ({"quantity": "\u0662"}, "quantity"),
        ({"unit_price": " 10"}, "unit_price"),
        ({"unit_price": "10.00001"}, "unit_price"),
        ({"tax_rate": "1.9e-1"}, "tax_rate"),
        ({"tax_rate": "0.19\n"}, "tax_rate"),
    ],
)
async def test_invoice_lines_take_plain_decimals(
    client: httpx.AsyncClient, owner: Account, line: dict[str, Any], field: str
) -> None:
    lines = [{"description": "Toner", "quantity": "2", "unit_price": "10"} | line]
    body = invoice_body(await vendor(client, owner), lines=lines)
    response = await client.post(f"{API}/invoices", json=body, headers=owner.headers)
    assert refused_field(response, "lines", 0, field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"total": "2E+2"}, "total"),
        ({"total": "-0"}, "total"),
        ({"issue_date": "1899-12-31"}, "issue_date"),
        ({"due_date": "2200-01-01"}, "due_date"),
        ({"issue_date": 0}, "issue_date"),  # a JSON number is no day (not 1970-01-01)
    ],
)
async def test_an_invoice_body_refuses_unmeant_values(
    client: httpx.AsyncClient, owner: Account, fields: dict[str, Any], field: str
) -> None:
    body = invoice_body(await vendor(client, owner), **fields)
    response = await client.post(f"{API}/invoices", json=body, headers=owner.headers)
    assert refused_field(response, field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"issue_date_from": "0001-01-01"}, "issue_date_from"),
        ({"due_date_to": "9999-12-31"}, "due_date_to"),
        ({"total_min": "1E+2"}, "total_min"),
        ({"total_max": "\u0661"}, "total_max"),
        ({"total_max": "-0.00"}, "total_max"),
    ],
)
async def test_invoice_list_filters_refuse_unmeant_values(
    client: httpx.AsyncClient, owner: Account, params: dict[str, str], field: str
) -> None:
    for path in ("/invoices", "/invoices/export.csv"):
        response = await client.get(f"{API}{path}", params=params, headers=owner.headers)
        assert refused_field(response, field), path


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/assets/register", {"as_of": "0001-01-01"}, "as_of"),
        ("/assets/register", {"as_of": "2200-01-01"}, "as_of"),
        ("/assets/register", {"as_of": "2026-06-30", "period_start": "1000-01-01"}, "period_start"),
        ("/assets/register.csv", {"as_of": "0001-01-01"}, "as_of"),
        ("/assets", {"acquired_from": "0001-01-01"}, "acquired_from"),
        ("/assets", {"acquired_to": "9999-12-31"}, "acquired_to"),
    ],
)
async def test_asset_reports_and_lists_take_days_from_1900_to_2199(
    client: httpx.AsyncClient,
    owner: Account,
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = await client.get(f"{API}{path}", params=params, headers=owner.headers)
    assert refused_field(response, field)


async def test_a_book_value_is_asked_for_a_day_from_1900_to_2199(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await client.post(
        f"{API}/assets", json=asset_body(await category(client, owner)), headers=owner.headers
    )
    response = await client.get(
        f"{API}/assets/{created.json()['id']}/book-value",
        params={"as_of": "0001-01-01"},
        headers=owner.headers,
    )
    assert refused_field(response, "as_of")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cost": "1E+3"}, "cost"),
        ({"cost": "\u0661\u0660\u0660"}, "cost"),
        ({"cost": "-0.00"}, "cost"),
        ({"salvage_value": " 10.00"}, "salvage_value"),
        ({"total_units": "1E+3"}, "total_units"),
        ({"declining_rate": "3e-1"}, "declining_rate"),
        ({"acquisition_date": "2200-01-01"}, "acquisition_date"),
    ],
)
async def test_an_asset_body_refuses_unmeant_values(
    client: httpx.AsyncClient, owner: Account, fields: dict[str, Any], field: str
) -> None:
    body = asset_body(await category(client, owner), **fields)
    response = await client.post(f"{API}/assets", json=body, headers=owner.headers)
    assert refused_field(response, field)


async def test_asset_movements_refuse_unmeant_values(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await client.post(
        f"{API}/assets",
        json=asset_body(await category(client, owner), in_service_date="2026-01-15"),
        headers=owner.headers,
    )
    asset_id = created.json()["id"]
    maintenance = await client.post(
        f"{API}/assets/{asset_id}/maintenance",
        json={"started_on": "2026-02-01", "cost": "5E+1"},
        headers=owner.headers,
    )
    assert refused_field(maintenance, "cost")
    disposal = await client.post(
        f"{API}/assets/{asset_id}/dispose",
        json={"on": "2026-02-01", "method": "sale", "proceeds": "\u0669"},
        headers=owner.headers | {"If-Match": await etag_of(client, owner, f"/assets/{asset_id}")},
    )
    assert refused_field(disposal, "proceeds")


async def test_usage_units_are_plain_digits(client: httpx.AsyncClient, owner: Account) -> None:
    created = await client.post(
        f"{API}/assets", json=asset_body(await category(client, owner)), headers=owner.headers
    )
    response = await client.post(
        f"{API}/assets/{created.json()['id']}/usage",
        json={"period": "2026-02-01", "units": "1E+2"},
        headers=owner.headers,
    )
    assert refused_field(response, "units")


async def test_a_salvage_percentage_is_plain_digits(
    client: httpx.AsyncClient, owner: Account
) -> None:
    response = await client.post(
        f"{API}/asset-categories",
        json={
            "name": "Cars",
            "depreciation_method": "straight_line",
            "useful_life_months": 36,
            "salvage_percent": "1E+1",
        },
        headers=owner.headers,
    )
    assert refused_field(response, "salvage_percent")


async def test_csv_imports_read_the_same_values(client: httpx.AsyncClient, owner: Account) -> None:
    await category(client, owner)
    assets = await client.post(
        f"{API}/assets/import",
        content="name,category,acquisition_date,cost,currency\nLaptop,IT,2026-01-10,1E+3,EUR\n",
        headers=owner.headers | {"Content-Type": "text/csv"},
    )
    assert assets.status_code == 422, assets.text
    assert assets.json()["rows"][0]["errors"][0].startswith("cost:")
    invoices = await client.post(
        f"{API}/invoices/import",
        content=(
            "vendor_name,number,issue_date,currency,description,quantity,unit_price\n"
            "Paper GmbH,1,2026-01-10,EUR,Toner,\u0661,10.00\n"
        ),
        headers=owner.headers | {"Content-Type": "text/csv"},
    )
    assert invoices.status_code == 422, invoices.text
    assert invoices.json()["rows"][0]["errors"][0].startswith("quantity:")


async def test_the_openapi_document_shows_money_as_a_string_with_a_pattern(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    amount = schemas["PaymentIn"]["properties"]["amount"]
    assert (amount["type"], amount["pattern"]) == ("string", r"^[0-9]+(\.[0-9]{1,2})?$")


async def test_an_invoice_line_needs_a_description(
    client: httpx.AsyncClient, owner: Account
) -> None:
    lines = [{"description": BLANK, "quantity": "2", "unit_price": "10"}]
    body = invoice_body(await vendor(client, owner), lines=lines)
    response = await client.post(f"{API}/invoices", json=body, headers=owner.headers)
    assert refused_field(response, "lines", 0, "description")


async def test_an_invoice_needs_a_number_that_says_something(
    client: httpx.AsyncClient, owner: Account
) -> None:
    body = invoice_body(await vendor(client, owner), number=BLANK)
    response = await client.post(f"{API}/invoices", json=body, headers=owner.headers)
    assert refused_field(response, "number")


async def test_a_rejection_needs_a_reason_that_says_something(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await client.post(
        f"{API}/invoices",
        json=invoice_body(await vendor(client, owner)),
        headers=owner.headers,
    )
    invoice_id = created.json()["id"]
    etag = await etag_of(client, owner, f"/invoices/{invoice_id}")
    await client.post(
        f"{API}/invoices/{invoice_id}/submit", headers=owner.headers | {"If-Match": etag}
    )
    etag = await etag_of(client, owner, f"/invoices/{invoice_id}")
    response = await client.post(
        f"{API}/invoices/{invoice_id}/reject",
        json={"reason": BLANK},
        headers=owner.headers | {"If-Match": etag},
    )
    assert refused_field(response, "reason")


@pytest.mark.parametrize("field", ["name", "tag"])
async def test_an_asset_needs_a_name_and_tag_that_say_something(
    client: httpx.AsyncClient, owner: Account, field: str
) -> None:
    body = asset_body(await category(client, owner), **{field: BLANK})
    response = await client.post(f"{API}/assets", json=body, headers=owner.headers)
    assert refused_field(response, field)


async def test_an_asset_cannot_be_renamed_to_blank(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await client.post(
        f"{API}/assets", json=asset_body(await category(client, owner)), headers=owner.headers
    )
    asset_id = created.json()["id"]
    renamed = await client.patch(
        f"{API}/assets/{asset_id}",
        json={"name": BLANK},
        headers=owner.headers | {"If-Match": await etag_of(client, owner, f"/assets/{asset_id}")},
    )
    assert refused_field(renamed, "name")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/asset-categories",
            {"name": BLANK, "depreciation_method": "straight_line", "useful_life_months": 36},
            "name",
        ),
        ("/locations", {"name": BLANK, "kind": "site"}, "name"),
        ("/custodians", {"name": BLANK, "email": "c@example.com"}, "name"),
        ("/vendors", {"name": BLANK, "default_currency": "EUR"}, "name"),
        (
            "/users",
            {"email": "b@example.com", "full_name": BLANK, "password": PASSWORD},
            "full_name",
        ),
        ("/api-keys", {"name": BLANK, "scopes": ["invoices:read"]}, "name"),
        ("/batches", {"name": BLANK}, "name"),
    ],
    ids=["category", "location", "custodian", "vendor", "user", "api-key", "batch"],
)
async def test_blank_names_are_422(
    client: httpx.AsyncClient, owner: Account, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(f"{API}{path}", json=body, headers=owner.headers)
    assert refused_field(response, field)


async def test_a_vendor_or_a_profile_cannot_be_renamed_to_blank(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor_id = await vendor(client, owner)
    renamed = await client.patch(
        f"{API}/vendors/{vendor_id}",
        json={"name": BLANK},
        headers=owner.headers | {"If-Match": await etag_of(client, owner, f"/vendors/{vendor_id}")},
    )
    assert refused_field(renamed, "name")
    profile = await client.patch(
        f"{API}/users/me",
        json={"full_name": BLANK},
        headers=owner.headers | {"If-Match": await etag_of(client, owner, "/users/me")},
    )
    assert refused_field(profile, "full_name")


async def test_a_blank_tenant_name_at_signup_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": BLANK, "slug": "blank"},
            "owner": {"email": "o@blank.example.com", "password": PASSWORD, "full_name": "O"},
        },
    )
    assert refused_field(response, "tenant", "name")


async def test_signup_names_are_stored_without_surrounding_spaces(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": "  Acme GmbH ", "slug": "acme"},
            "owner": {"email": "o@acme.example.com", "password": PASSWORD, "full_name": " Olive "},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["tenant"]["name"], body["user"]["full_name"]) == ("Acme GmbH", "Olive")


async def test_a_blank_tenant_name_in_the_console_is_422_not_500(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await create_admin(settings, app.state.passwords, "ada@platform.example.com")
    token = (await login(client, None, "ada@platform.example.com")).json()["access_token"]
    response = await client.post(
        f"{API}/admin/tenants", json={"name": BLANK, "slug": "blank"}, headers=bearer(token)
    )
    assert refused_field(response, "name")


@pytest.mark.parametrize(
    "params",
    [{"since": "0001-01-01T00:00:00Z"}, {"until": "9999-12-31T00:00:00"}, {"since": "0"}],
)
async def test_audit_filters_take_moments_from_1900_to_2199(
    client: httpx.AsyncClient, owner: Account, params: dict[str, str]
) -> None:
    response = await client.get(f"{API}/audit", params=params, headers=owner.headers)
    assert refused_field(response, next(iter(params)))


async def test_an_api_key_expiry_lies_within_1900_to_2199(
    client: httpx.AsyncClient, owner: Account
) -> None:
    response = await client.post(
        f"{API}/api-keys",
        json={"name": "far", "scopes": ["invoices:read"], "expires_at": "9999-01-01T00:00:00Z"},
        headers=owner.headers,
    )
    assert refused_field(response, "expires_at")


async def test_a_blank_plan_in_the_console_is_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        f"{API}/admin/tenants", json={"name": "Acme", "slug": "acme", "plan": BLANK}, headers=admin
    )
    assert refused_field(response, "plan")


async def test_a_bank_account_of_spaces_is_422(client: httpx.AsyncClient, owner: Account) -> None:
    response = await client.post(
        f"{API}/vendors",
        json={"name": "Spaces", "default_currency": "EUR", "bank_account": " " * 12},
        headers=owner.headers,
    )
    assert refused_field(response, "bank_account")


async def test_a_maintenance_vendor_is_not_blank(client: httpx.AsyncClient, owner: Account) -> None:
    asset_id = (await asset(client, owner, await category(client, owner)))["id"]
    response = await client.post(
        f"{API}/assets/{asset_id}/maintenance",
        json={"started_on": "2026-03-01", "vendor": BLANK},
        headers=owner.headers,
    )
    assert refused_field(response, "vendor")
