"""Clients generated from the live OpenAPI document work against a real server.

One `ledgerline serve` process (its own embedded PostgreSQL) serves both:

- TypeScript: openapi-typescript turns the served document into types, tsc type-checks
  `clients/typescript/flow.ts` (openapi-fetch; a number where money goes must not
  compile), and node runs it: sign up, log in, vendor, invoice with lines, a stale step
  refused as a typed Problem, submit, approve, pay in two parts, filtered list, CSV
  export, asset and its schedule.
- Python: openapi-python-client generates a package into a temporary folder, which is
  imported and used for the same flow.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.helpers.npm import npm_tools
from tests.helpers.service_process import ServiceProcess

PASSWORD = "a long unusual passphrase"
# openapi-python-client writes only JSON, forms and multipart bodies itself: files of
# other types (a CSV to import, a PDF to download) travel as its raw File bodies.
PYTHON_CLIENT_CONFIG = """\
content_type_overrides:
  text/csv: application/octet-stream
  application/pdf: application/octet-stream
  image/png: application/octet-stream
  image/jpeg: application/octet-stream
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("clients") / "serve.log", workers=1)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def spec_file(server: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The document as the running server serves it."""
    path = tmp_path_factory.mktemp("spec") / "openapi.json"
    path.write_bytes(httpx.get(f"{server.base_url}/openapi.json", timeout=10).content)
    return path


def run(command: list[str], cwd: Path, **env: str) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_typescript_client_type_checks_and_runs(
    server: ServiceProcess, spec_file: Path
) -> None:
    tools = npm_tools()
    generated = tools / "generated" / "api.ts"
    bin_dir = tools / "node_modules" / ".bin"
    run(
        [
            *(str(bin_dir / "openapi-typescript"), str(spec_file)),
            *("--default-non-nullable", "false", "-o", str(generated)),
        ],
        tools,
    )
    run([str(bin_dir / "tsc"), "-p", "tsconfig.json"], tools)
    output = run(["node", "build/flow.js"], tools, BASE_URL=server.base_url)
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["months"] == 60


def _generated_client(spec_file: Path, folder: Path) -> ModuleType:
    config = folder / "generator.yaml"
    config.write_text(PYTHON_CLIENT_CONFIG)
    generator = Path(sys.executable).with_name("openapi-python-client")
    run(
        [
            *(str(generator), "generate", "--path", str(spec_file), "--meta", "none"),
            *("--output-path", str(folder / "ledgerline_client"), "--config", str(config)),
        ],
        folder,
    )
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("ledgerline_client")
    finally:
        sys.path.remove(str(folder))


def test_the_python_client_generates_imports_and_runs(
    server: ServiceProcess, spec_file: Path, tmp_path: Path
) -> None:
    package = _generated_client(spec_file, tmp_path)
    spec = json.loads(spec_file.read_text())
    operation_ids = {
        operation["operationId"] for item in spec["paths"].values() for operation in item.values()
    }
    api_modules = {path.stem for path in (tmp_path / "ledgerline_client" / "api").rglob("*.py")}
    assert operation_ids <= api_modules, operation_ids - api_modules

    def endpoint(tag: str, operation: str) -> Any:
        return importlib.import_module(f"ledgerline_client.api.{tag}.{operation}")

    models = importlib.import_module("ledgerline_client.models")
    slug = "pyclient"
    anonymous = package.Client(base_url=server.base_url, raise_on_unexpected_status=True)
    signed_up = endpoint("auth", "signup").sync_detailed(
        client=anonymous,
        body=models.SignupRequest(
            tenant=models.TenantSignup(name="Python GmbH", slug=slug),
            owner=models.OwnerSignup(
                email=f"olive@{slug}.example.com", password=PASSWORD, full_name="Olive"
            ),
        ),
    )
    assert signed_up.status_code == 201, signed_up.content
    assert "location" in signed_up.headers
    tenant = str(signed_up.parsed.tenant.id)
    tokens = endpoint("auth", "login").sync(
        client=anonymous,
        body=models.LoginLoginRequest(email=f"olive@{slug}.example.com", password=PASSWORD),
        x_tenant_id=slug,
    )
    assert isinstance(tokens, models.TokenResponse)
    api = package.AuthenticatedClient(
        base_url=server.base_url, token=tokens.access_token, raise_on_unexpected_status=True
    )

    vendor = endpoint("vendors", "create_vendor").sync(
        client=api,
        x_tenant_id=tenant,
        idempotency_key="vendor-1",
        body=models.VendorCreate(name="Paper GmbH", default_currency="EUR"),
    )
    lines = [
        models.LineIn(description="Toner", quantity="2", unit_price="49.99", tax_rate="0.19"),
        models.LineIn(description="Paper", quantity="10", unit_price="5.00", tax_rate="0.19"),
    ]
    created = endpoint("invoices", "create_invoice").sync_detailed(
        client=api,
        x_tenant_id=tenant,
        body=models.InvoiceCreate(
            vendor_id=vendor.id, number="INV-17", issue_date=datetime.date(2026, 3, 1), lines=lines
        ),
    )
    assert created.status_code == 201, created.content
    assert created.parsed.total == "178.48"
    invoice_id, etag = created.parsed.id, created.headers["etag"]

    # An optional body is sent as one (the generated client cannot leave it out).
    stale = endpoint("invoices", "submit_invoice").sync_detailed(
        invoice_id, client=api, x_tenant_id=tenant, if_match='"99"', body=models.Submission()
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, models.Problem)
    assert stale.parsed.code == "version_conflict"
    missing = endpoint("invoices", "create_invoice").sync_detailed(
        client=api,
        x_tenant_id=tenant,
        body=models.InvoiceCreate(
            vendor_id=vendor.id, number="INV-18", issue_date=datetime.date(2026, 3, 1), lines=[]
        ),
    )
    assert missing.status_code == 422
    assert isinstance(missing.parsed, models.ValidationProblem)

    for step in ("submit_invoice", "approve_invoice"):
        bodies = {"body": models.Submission()} if step == "submit_invoice" else {}
        stepped = endpoint("invoices", step).sync_detailed(
            invoice_id, client=api, x_tenant_id=tenant, if_match=etag, **bodies
        )
        assert stepped.status_code == 200, stepped.content
        etag = stepped.headers["etag"]
    for amount in ("100.00", "78.48"):
        paid = endpoint("invoices", "pay_invoice").sync_detailed(
            invoice_id,
            client=api,
            x_tenant_id=tenant,
            if_match=etag,
            body=models.PaymentIn(paid_on=datetime.date(2026, 3, 10), amount=amount),
        )
        assert paid.status_code == 200, paid.content
        etag = paid.headers["etag"]
    assert paid.parsed.status == models.InvoiceStatus.PAID

    listed = endpoint("invoices", "list_invoices").sync(
        client=api,
        x_tenant_id=tenant,
        status=models.InvoiceStatus.PAID,
        total_min="100.00",
        sort=models.ListInvoicesSort("-due_date"),
    )
    assert [item.id for item in listed.items] == [invoice_id]
    exported = endpoint("invoices", "export_invoices_csv").sync_detailed(
        client=api, x_tenant_id=tenant, issue_date_from=datetime.date(2026, 1, 1)
    )
    assert exported.status_code == 200
    assert b"INV-17" in exported.content

    category = endpoint("assets", "create_asset_category").sync(
        client=api,
        x_tenant_id=tenant,
        body=models.CategoryCreate(
            name="IT equipment",
            depreciation_method=models.DepreciationMethod.STRAIGHT_LINE,
            useful_life_months=60,
        ),
    )
    asset = endpoint("assets", "create_asset").sync(
        client=api,
        x_tenant_id=tenant,
        body=models.AssetCreate(
            name="Server",
            category_id=category.id,
            acquisition_date=datetime.date(2026, 1, 10),
            in_service_date=datetime.date(2026, 1, 15),
            cost="10000.00",
            currency="EUR",
        ),
    )
    schedule = endpoint("assets", "asset_schedule").sync(asset.id, client=api, x_tenant_id=tenant)
    assert len(schedule) == 60
    assert schedule[0].depreciation == "166.67"
