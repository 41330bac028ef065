"""`ledgerline demo`: a living tenant for a new user, made once, through the API."""

from __future__ import annotations

import argparse
from collections import Counter

import httpx
import pytest

from ledgerline import demo
from ledgerline.cli import CommandError, add_platform_admin, cmd_demo
from ledgerline.config import Settings
from tests.helpers.identity import bearer

pytestmark = pytest.mark.usefixtures("empty_tables")


async def demo_login(client: httpx.AsyncClient, email: str, tenant: str | None) -> dict[str, str]:
    headers = {"X-Tenant-ID": tenant} if tenant else {}
    response = await client.post(
        "/api/v1/auth/login", headers=headers, json={"email": email, "password": demo.PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {**bearer(response.json()["access_token"]), **headers}


async def test_the_demo_holds_every_state_and_method_and_a_second_run_changes_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # The suite's settings poll for documents once a minute; the demo waits for them.
    settings = settings.model_copy(update={"document_poll_seconds": 0.1})
    report = await demo.seed(settings)
    assert report.created
    assert await add_platform_admin(
        settings, demo.ADMIN_EMAIL, "Demo platform administrator", demo.PASSWORD
    )

    owner = await demo_login(client, demo.OWNER_EMAIL, report.tenant_id)
    assistant = await demo_login(client, demo.ASSISTANT_EMAIL, report.tenant_id)
    admin = await demo_login(client, demo.ADMIN_EMAIL, None)
    roles = {
        user["email"]: user["role"]
        for user in (await client.get("/api/v1/users", headers=owner)).json()["items"]
    }
    assert roles == {demo.OWNER_EMAIL: "TENANT_OWNER", demo.ASSISTANT_EMAIL: "ASSISTANT"}
    assert (await client.get("/api/v1/users/me", headers=assistant)).status_code == 200
    tenants = (await client.get("/api/v1/admin/tenants", headers=admin)).json()["items"]
    assert [tenant["slug"] for tenant in tenants] == [demo.SLUG]

    invoices = (await client.get("/api/v1/invoices?limit=100", headers=owner)).json()["items"]
    statuses = Counter(invoice["status"] for invoice in invoices)
    assert set(statuses) == {"draft", "submitted", "approved", "rejected", "paid", "void"}
    partly_paid = [
        invoice
        for invoice in invoices
        if invoice["status"] == "approved" and invoice["amount_paid"] not in ("0", "0.00")
    ]
    assert partly_paid, "one approved invoice is partly paid"
    assert {invoice["number"]: invoice["status"] for invoice in invoices} == report.invoices
    for invoice in invoices:
        assert invoice["source"] != "manual", invoice
        document = await client.get(f"/api/v1/invoices/{invoice['id']}/document", headers=owner)
        assert document.status_code == 200
        assert document.content.startswith(b"%PDF-")
    documents = (await client.get("/api/v1/documents?limit=100", headers=owner)).json()["items"]
    assert {document["processing_status"] for document in documents} == {"extracted"}

    assets = (await client.get("/api/v1/assets?limit=100", headers=owner)).json()["items"]
    assert {asset["depreciation_method"] for asset in assets} == {
        "straight_line",
        "declining_balance",
        "double_declining_balance",
        "sum_of_years_digits",
        "units_of_production",
    }
    assert {asset["status"] for asset in assets} == {
        "draft",
        "in_service",
        "under_maintenance",
        "disposed",
    }
    kinds: Counter[str] = Counter()
    for asset in assets:
        history = await client.get(f"/api/v1/assets/{asset['id']}/history", headers=owner)
        kinds.update(event["kind"] for event in history.json()["items"])
    assert {"transferred", "maintenance", "disposed"} <= set(kinds), kinds

    audited = (await client.get("/api/v1/audit?limit=200", headers=owner)).json()["items"]
    assert len(audited) > 40

    again = await demo.seed(settings)
    assert not again.created
    assert again.tenant_id == report.tenant_id
    assert not await add_platform_admin(settings, demo.ADMIN_EMAIL, "x", demo.PASSWORD)
    after = (await client.get("/api/v1/invoices?limit=100", headers=owner)).json()["items"]
    assert len(after) == len(invoices)
    assert len(
        (await client.get("/api/v1/assets?limit=100", headers=owner)).json()["items"]
    ) == len(assets)
    assert "already there" in demo.describe(again, settings)


def test_the_printout_says_how_to_sign_in(settings: Settings) -> None:
    report = demo.DemoReport(tenant_id="t", created=True, invoices={"PP-1": "paid"})
    text = demo.describe(report, settings)
    for needed in (demo.OWNER_EMAIL, demo.ASSISTANT_EMAIL, demo.ADMIN_EMAIL, demo.PASSWORD):
        assert needed in text
    assert "client_id" in text
    assert "X-Tenant-ID: demo" in text


def test_no_demo_in_production() -> None:
    production = Settings(
        _env_file=None,
        environment="production",
        secret_key="x" * 40,
        mail_backend="smtp",
        database_url="postgresql://nobody@127.0.0.1:9/none",
    )
    with pytest.raises(CommandError, match="production"):
        cmd_demo(production, argparse.Namespace())
