"""Financing in tests: a vendor with a mailbox, approved invoices due in the future,
programs, offers, and the acceptance token read from the vendor's mail."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.http import API
from tests.helpers.identity import Account

VENDOR_EMAIL = "billing@supplier.example.com"
TOKEN = re.compile(r"token=(llf_[A-Za-z0-9_-]+)")


def today() -> date:
    return datetime.now(UTC).date()


def days_from_today(days: int) -> str:
    return (today() + timedelta(days=days)).isoformat()


async def vendor(
    client: httpx.AsyncClient, who: Account, name: str = "Supplier GmbH", currency: str = "EUR"
) -> str:
    answer = await client.post(
        f"{API}/vendors",
        json={"name": name, "default_currency": currency, "email": VENDOR_EMAIL},
        headers=who.headers,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def approved_invoice(
    client: httpx.AsyncClient,
    who: Account,
    vendor_id: str,
    *,
    amount: str = "10000.00",
    due_in_days: int = 40,
    number: str = "F-1",
) -> dict[str, Any]:
    """An invoice of `amount` (no tax), due in `due_in_days`, approved."""
    created = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": vendor_id,
            "number": number,
            "issue_date": today().isoformat(),
            "due_date": days_from_today(due_in_days),
            "lines": [
                {"description": "Goods", "quantity": "1", "unit_price": amount, "tax_rate": "0"}
            ],
        },
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    invoice_id, etag = created.json()["id"], created.headers["etag"]
    # Invoices of one amount on one day look like duplicates of each other: not here.
    bodies = {"submit": {}, "approve": {"duplicate_override_reason": "distinct test invoices"}}
    for step, body in bodies.items():
        answer = await client.post(
            f"{API}/invoices/{invoice_id}/{step}",
            json=body,
            headers=who.headers | {"If-Match": etag},
        )
        assert answer.status_code == 200, answer.text
        etag = answer.headers["etag"]
    return dict(answer.json())


async def program(client: httpx.AsyncClient, who: Account, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Early pay",
        "currency": "EUR",
        "apr": "0.12",
        "day_count": "ACT/365",
        "min_days_early": 5,
        "budget": "100000.00",
        "funding": "own_cash",
    } | fields
    answer = await client.post(f"{API}/financing/programs", json=body, headers=who.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def make_offer(
    client: httpx.AsyncClient, who: Account, invoice_id: str, program_id: str, pay_in_days: int = 0
) -> httpx.Response:
    return await client.post(
        f"{API}/financing/offers",
        json={
            "invoice_id": invoice_id,
            "program_id": program_id,
            "pay_on": days_from_today(pay_in_days),
        },
        headers=who.headers,
    )


async def offer(
    client: httpx.AsyncClient, who: Account, invoice_id: str, program_id: str, pay_in_days: int = 0
) -> dict[str, Any]:
    answer = await make_offer(client, who, invoice_id, program_id, pay_in_days)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def offer_mails(settings: Settings, tenant_id: UUID) -> list[Any]:
    return await owner_sql(
        settings,
        tenant_id,
        "SELECT to_address, subject, body FROM mail_outbox"
        " WHERE subject LIKE 'Early payment offer%' ORDER BY created_at, id",
    )


async def last_token(settings: Settings, tenant_id: UUID) -> str:
    """The acceptance token of the last offer mailed in the tenant."""
    body = (await offer_mails(settings, tenant_id))[-1]["body"]
    found = TOKEN.search(body)
    assert found is not None, body
    return found.group(1)


async def accept(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/financing/offers/accept", json={"token": token})


async def settle(
    client: httpx.AsyncClient, who: Account, offer_id: str, key: str
) -> httpx.Response:
    return await client.post(
        f"{API}/financing/offers/{offer_id}/settle",
        headers=who.headers | {"If-Match": "*", "Idempotency-Key": key},
    )
