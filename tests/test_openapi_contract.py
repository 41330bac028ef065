"""The OpenAPI document is the contract: linted, complete, and true to the server.

A standard linter judges the document (openapi-spec-validator always; Redocly's
recommended rules through npm, `clients/typescript/redocly.yaml`). The rest is checked
against the running app through HTTP: every operation the server refuses without
X-Tenant-ID declares it, every declared If-Match is refused with 428 when missing, and
every 201 the document lists sends `Location` (a replayed one too).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from openapi_spec_validator import validate

from ledgerline.app import create_app
from ledgerline.config import Settings
from tests.helpers import assets, financing, invoices, ledger, purchasing
from tests.helpers.documents import PNG, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user
from tests.helpers.npm import npm_tools

ROOT = Path(__file__).resolve().parents[1]
STANDARD_KEYWORDS = frozenset(
    {"$ref", "type", "format", "title", "description", "default", "examples", "enum"}
    | {"const", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    | {"minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "items", "properties"}
    | {"required", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "contentMediaType"}
)
GENERATED_422 = frozenset({"HTTPValidationError", "ValidationError"})


def the_spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(Settings(_env_file=None, environment="test")).openapi()  # type: ignore[call-arg]
    return spec


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def header_names(operation: dict[str, Any], required: bool | None = None) -> set[str]:
    return {
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "header" and (required is None or p.get("required", False) == required)
    }


def schemas_in(node: Any) -> list[dict[str, Any]]:
    """Every JSON schema object inside `node` (a schema is a dict with a type or a ref)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if any(key in node for key in ("type", "$ref", "anyOf")):
            found.append(node)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for member in value.values():
                    found += schemas_in(member)
            else:
                found += schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            found += schemas_in(value)
    return found


def test_a_standard_validator_accepts_the_document() -> None:
    validate(the_spec())


def test_redocly_recommended_rules_pass(tmp_path: Path) -> None:
    tools = npm_tools()
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(json.dumps(the_spec()))
    result = subprocess.run(
        [
            *(str(tools / "node_modules" / ".bin" / "redocly"), "lint", str(spec_file)),
            *("--config", str(tools / "redocly.yaml"), "--format=stylish"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stdout, result.stdout


def test_every_operation_has_one_listed_tag_a_description_and_an_id() -> None:
    spec = the_spec()
    listed = [tag["name"] for tag in spec["tags"]]
    assert len(listed) == len(set(listed))
    ids = []
    for path, method, operation in operations(spec):
        assert len(operation["tags"]) == 1, (path, method)
        assert operation["tags"][0] in listed, (path, method)
        assert operation.get("description", "").strip(), (path, method)
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))
    used = {operation["tags"][0] for _, _, operation in operations(spec)}
    assert used == set(listed)


def test_problems_are_documented_as_problem_json_and_fastapis_422_is_gone() -> None:
    spec = the_spec()
    assert not GENERATED_422 & spec["components"]["schemas"].keys()
    problem = spec["components"]["schemas"]["ValidationProblem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert "errors" in problem["properties"]
    for path, method, operation in operations(spec):
        statuses = [int(code) for code in operation["responses"]]
        assert any(400 <= status < 500 for status in statuses) or path == "/health"
        assert 500 in statuses, (path, method)
        for status in statuses:
            response = operation["responses"][str(status)]
            assert response["headers"]["X-Request-ID"]["required"], (path, method, status)
            if status < 400:
                continue
            assert list(response["content"]) == ["application/problem+json"], (path, status)
            wanted = "ValidationProblem" if status in (400, 422) else "Problem"
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{wanted}"}, (path, status)
            if status in (429, 503):
                assert response["headers"]["Retry-After"]["required"]


def test_money_is_a_string_with_a_pattern_and_no_pydantic_keyword_leaks() -> None:
    spec = the_spec()
    for schema in schemas_in(spec["components"]["schemas"]) + schemas_in(spec["paths"]):
        leaked = set(schema) - STANDARD_KEYWORDS
        assert not leaked, (leaked, schema)
        assert schema.get("type") != "number", schema
    invoice = spec["components"]["schemas"]["InvoiceOut"]["properties"]
    line = spec["components"]["schemas"]["LineIn"]["properties"]
    for field in (invoice["total"], line["unit_price"]):
        assert field["type"] == "string", field
        assert field["pattern"].startswith("^"), field
    assert invoice["status"] == {"$ref": "#/components/schemas/InvoiceStatus"}
    listing = spec["paths"][f"{API}/invoices"]["get"]["parameters"]
    sort = next(p for p in listing if p["name"] == "sort")["schema"]
    assert "-due_date" in sort["enum"]


def test_files_registers_and_reports_have_schemas() -> None:
    spec = the_spec()
    download = spec["paths"][f"{API}/invoices/{{invoice_id}}/document"]["get"]["responses"]
    assert download["200"]["content"]["application/pdf"]["schema"]["format"] == "binary"
    assert download["200"]["headers"]["Content-Disposition"]["required"]
    register = spec["paths"][f"{API}/assets/register"]["get"]["responses"]["200"]
    assert register["content"]["application/json"]["schema"]["$ref"].endswith("/AssetRegister")
    for path in (f"{API}/invoices/import", f"{API}/assets/import"):
        report = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
        assert report["schema"]["$ref"].endswith("/ImportReport"), path


def test_the_oauth2_password_flow_signs_in_at_the_form_endpoint() -> None:
    spec = the_spec()
    flow = spec["components"]["securitySchemes"]["OAuth2Password"]["flows"]["password"]
    form = spec["paths"][flow["tokenUrl"]]["post"]["requestBody"]["content"]
    assert list(form) == ["application/x-www-form-urlencoded"]
    login = spec["paths"][f"{API}/auth/login"]["post"]["requestBody"]["content"]
    assert list(login) == ["application/json"]


async def test_the_tenant_header_is_declared_exactly_where_the_server_needs_it(
    client: httpx.AsyncClient, app: FastAPI, owner: Account
) -> None:
    spec = app.openapi()
    bearer = {"Authorization": f"Bearer {owner.access_token}"}
    for path, method, operation in operations(spec):
        if not operation["security"] or path.startswith(f"{API}/auth"):
            continue
        url = path
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                url = url.replace(
                    "{" + parameter["name"] + "}", "0190f1a4-0000-7000-8000-000000000000"
                )
        response = await client.request(method, url, headers=bearer)
        needs_tenant = (
            response.status_code == 400 and problem_code(response) == "tenant_header_missing"
        )
        assert needs_tenant == ("X-Tenant-ID" in header_names(operation, required=True)), (
            path,
            method,
            response.text,
        )


async def test_every_declared_if_match_is_refused_with_428_when_missing(
    client: httpx.AsyncClient, app: FastAPI, owner: Account, admin: dict[str, str]
) -> None:
    """Every operation declaring If-Match, on a real row with a valid body: 428 without."""
    vendor_id = await invoices.vendor(client, owner)
    invoice_id = (await invoices.invoice(client, owner, vendor_id)).json()["id"]
    category_id = await assets.category(client, owner)
    asset_id = (await assets.asset(client, owner, category_id))["id"]
    location_id = (await assets.post(client, owner, "/locations", {"name": "B", "kind": "site"}))[
        "id"
    ]
    opened = await client.post(
        f"{API}/assets/{asset_id}/maintenance",
        json={"started_on": "2026-02-01"},
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assistant = await add_user(client, owner, "kim@ownerco.example.com")
    tax_code = await client.post(
        f"{API}/tax-codes",
        json={"code": "S19", "name": "Standard", "kind": "standard", "rate": "0.19"},
        headers=owner.headers,
    )
    custodian_id = (
        await assets.post(client, owner, "/custodians", {"name": "Ada", "email": "ada@example.com"})
    )["id"]
    approved = await ledger.approved_invoice(
        client, owner, vendor_id, invoices.LINES, number="P", issue_date="2026-02-10"
    )
    paid = await ledger.pay(client, owner, approved["id"], "1.00")
    assert paid.status_code == 200, paid.text
    payment_id = (
        await client.get(f"{API}/invoices/{approved['id']}/payments", headers=owner.headers)
    ).json()[0]["id"]
    financed = await financed_offer(client, owner)
    purchase_order = await purchasing.order(
        client, owner, vendor_id, [{"description": "B", "quantity": "1", "unit_price": "1"}]
    )
    ids = {
        "purchase_order_id": purchase_order["id"],
        "payment_id": payment_id,
        "account_id": (await ledger.http_accounts(client, owner))["1000"]["id"],
        "program_id": financed["program_id"],
        "offer_id": financed["id"],
        "category_id": category_id,
        "location_id": location_id,
        "custodian_id": custodian_id,
        "invoice_id": invoice_id,
        "vendor_id": vendor_id,
        "asset_id": asset_id,
        "record_id": opened.json()["id"],
        "user_id": str(assistant.user_id),
        "tenant_id": str(owner.tenant_id),
        "credit_note_id": invoice_id,
        "tax_code_id": tax_code.json()["id"],
        "comment_id": (
            await client.post(
                f"{API}/invoices/{invoice_id}/comments", json={"body": "A"}, headers=owner.headers
            )
        ).json()["id"],
    }
    bodies: dict[str, Any] = {
        "replace_approval_policy": {"thresholds": [{"min_amount": "0.00", "approvals": 1}]},
        "apply_credit_note": {"allocations": [{"invoice_id": invoice_id, "amount": "1.00"}]},
        "reject_invoice": {"reason": "wrong"},
        "override_invoice_match": {"reason": "agreed"},
        "resolve_invoice_match": {"credit_note_id": invoice_id},
        "replace_purchasing_settings": {"matching": "three_way"}
        | {"price_tolerance_percent": "0", "quantity_tolerance": "0"}
        | {"over_receipt_percent": "0", "accrue_on_receipt": False},
        "pay_invoice": {"paid_on": "2026-03-02", "amount": "1.00"},
        "transfer_asset": {"location_id": location_id, "on": "2026-02-02"},
        "record_maintenance": {"started_on": "2026-02-03"},
        "close_maintenance": {"ended_on": "2026-02-04"},
        "dispose_asset": {"on": "2026-02-05", "method": "scrap"},
        "adjust_asset": {"kind": "salvage", "on": "2026-02-06", "salvage_value": "1.00"},
        "update_me": {"full_name": "Olive"},
        "edit_comment": {"body": "B"},
        "replace_depreciation_schedule": {"auto": False},
    }
    checked = []
    for path, method, operation in operations(app.openapi()):
        if "If-Match" not in header_names(operation, required=True):
            continue
        url = path.format(**ids)
        headers = admin if path.startswith(f"{API}/admin") else owner.headers
        body = bodies.get(operation["operationId"], {} if method == "patch" else None)
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 428, (operation["operationId"], response.text)
        checked.append(operation["operationId"])
    assert len(checked) >= 20, checked


async def test_every_201_sends_location_and_a_replay_sends_it_too(
    client: httpx.AsyncClient, app: FastAPI, owner: Account, admin: dict[str, str]
) -> None:
    category_id = await assets.category(client, owner)
    asset_id = (await assets.asset(client, owner, category_id))["id"]
    vendor_id = await invoices.vendor(client, owner)
    accounts = await ledger.http_accounts(client, owner)
    bank, equity = accounts["1000"]["id"], accounts["3000"]["id"]
    entry_lines = [
        {"account_id": bank, "debit": "5.00", "currency": "EUR"},
        {"account_id": equity, "credit": "5.00", "currency": "EUR"},
    ]
    entry = await client.post(
        f"{API}/ledger/entries",
        json={"on": "2026-03-01", "lines": entry_lines},
        headers=owner.headers,
    )
    assert entry.status_code == 201, entry.text
    financed_vendor = await financing.vendor(client, owner)
    financed = await financing.approved_invoice(client, owner, financed_vendor)
    program = await financing.program(client, owner, name="Contract")
    purchase_order = await purchasing.order(
        client, owner, vendor_id, [{"description": "B", "quantity": "5", "unit_price": "1"}]
    )
    creates: dict[str, dict[str, Any]] = {
        "create_purchase_order": {"vendor_id": vendor_id, "number": "PO-C"}
        | {"ordered_on": "2026-03-01", "lines": [{"description": "B"} | ONE | {"unit_price": "1"}]},
        "create_goods_receipt": {"received_on": "2026-03-02"}
        | {"lines": [{"purchase_order_line_id": purchase_order["lines"][0]["id"]} | ONE]},
        "create_ledger_account": {"code": "1010", "name": "Savings", "type": "asset"},
        "create_ledger_entry": {"on": "2026-03-01", "lines": entry_lines},
        "reverse_ledger_entry": {},
        "create_transfer": {"from_account_id": bank, "to_account_id": accounts["1500"]["id"]}
        | {"amount": "1.00", "currency": "EUR", "on": "2026-03-02"},
        "create_financing_program": {"name": "Second", "currency": "EUR", "apr": "0.1"}
        | {"day_count": "ACT/360", "min_days_early": 1, "budget": "10.00", "funding": "own_cash"},
        "create_financing_offer": {"invoice_id": financed["id"], "program_id": program["id"]}
        | {"pay_on": financing.days_from_today(1)},
        "signup": {},  # a body of its own, below
        "admin_create_tenant": {"name": "Beta", "slug": "beta"},
        "create_user": {"email": "lee@ownerco.example.com", "full_name": "Lee"}
        | {"role": "ASSISTANT", "password": "a long and unusual passphrase 7"},
        "create_api_key": {"name": "ERP", "scopes": ["users:read"]},
        "create_asset_category": {"name": "Cars", "depreciation_method": "straight_line"}
        | {"useful_life_months": 60},
        "create_location": {"name": "Berlin", "kind": "site"},
        "create_custodian": {"name": "Kim", "email": "kim@ownerco.example.com"},
        "create_asset": {"name": "Laptop", "category_id": category_id}
        | {"acquisition_date": "2026-01-10", "cost": "900.00", "currency": "EUR"},
        "record_maintenance": {"started_on": "2026-02-01"},
        "adjust_asset": {"kind": "salvage", "on": "2026-02-02", "salvage_value": "1.00"},
        "run_depreciation": {"period": "2026-01"},
        "comment_on_invoice": {"body": "Checked against the order."},
        "comment_on_asset": {"body": "Moved to rack 3."},
        "create_vendor": {"name": "Ink AG", "default_currency": "EUR"},
        "create_invoice": {"vendor_id": vendor_id, "number": "L-1"}
        | {"issue_date": "2026-03-01", "lines": invoices.LINES},
        "create_batch": {"name": "April"},
        "create_tax_code": {"code": "R7", "name": "Reduced", "kind": "reduced", "rate": "0.07"},
        "upload_invoice_documents": {},  # multipart, below
    }
    spec = app.openapi()
    created = [
        (path, operation)
        for path, method, operation in operations(spec)
        if "201" in operation["responses"]
    ]
    assert {operation["operationId"] for _, operation in created} == set(creates)
    for path, operation in created:
        operation_id = operation["operationId"]
        url = path.format(
            asset_id=asset_id,
            entry_id=entry.json()["id"],
            purchase_order_id=purchase_order["id"],
            invoice_id=financed["id"],
        )
        body = creates[operation_id]
        headers = owner.headers
        if operation_id == "signup":
            body = {
                "tenant": {"name": "Gamma", "slug": "gamma"},
                "owner": {"email": "o@gamma.example.com", "full_name": "O"}
                | {"password": "a long and unusual passphrase 7"},
            }
            headers = {}
        elif operation_id == "admin_create_tenant":
            headers = admin
        elif operation_id in ("record_maintenance", "adjust_asset"):
            headers = await assets.at_current_version(client, owner, asset_id)
        keyed = "Idempotency-Key" in header_names(operation)
        if keyed:
            headers = headers | {"Idempotency-Key": f"key-{operation_id}"}
        if operation_id == "upload_invoice_documents":
            response = await upload(client, owner, ("scan.png", PNG))
        else:
            response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 201, (operation_id, response.text)
        location = response.headers.get("location", "")
        assert location.startswith(f"{API}/"), (operation_id, location)
        if keyed:
            replay = await client.post(url, json=body, headers=headers)
            assert replay.status_code == 201, (operation_id, replay.text)
            assert replay.headers.get("idempotent-replayed") == "true", operation_id
            assert replay.headers["location"] == location, operation_id
        if readable(spec, location):
            reader = admin if location.startswith(f"{API}/admin") else owner.headers
            if operation_id == "signup":  # the new tenant's owner reads it
                signed_up = response.json()
                reader = {"Authorization": f"Bearer {signed_up['tokens']['access_token']}"}
                reader["X-Tenant-ID"] = signed_up["tenant"]["id"]
            reads = await client.get(location, headers=reader)
            assert reads.status_code == 200, (operation_id, location, reads.text)


ONE = {"quantity": "1"}


def readable(spec: dict[str, Any], location: str) -> bool:
    """Whether the document lists a GET whose path template matches `location`."""
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template))
        if "get" in item and re.fullmatch(pattern, location):
            return True
    return False


async def financed_offer(client: httpx.AsyncClient, owner: Account) -> dict[str, Any]:
    """An accepted-ready offer (and its program) of an approved invoice."""
    vendor_id = await financing.vendor(client, owner, name="Financed AG")
    invoice = await financing.approved_invoice(client, owner, vendor_id, number="FIN-1")
    program = await financing.program(client, owner)
    return await financing.offer(client, owner, invoice["id"], program["id"], 10)


def test_an_optional_body_can_be_left_out_and_is_never_null() -> None:
    """A body that may be left out is declared so, without a `null` variant: generated
    clients (openapi-python-client) send a nullable optional body as a JSON `null` they
    cannot encode, or not at all."""
    nullable = []
    for path, method, operation in operations(the_spec()):
        body = operation.get("requestBody")
        if body is None or body.get("required"):
            continue
        for content in body["content"].values():
            variants = content.get("schema", {}).get("anyOf", [])
            if any(variant.get("type") == "null" for variant in variants):
                nullable.append((method, path))
    assert nullable == []
