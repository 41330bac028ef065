"""The dashboard's processing and assets views on seeded sets, who may read the dashboard,
and bad parameters (422, never 500)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from ledgerline.config import Settings
from tests.helpers import assets, financing
from tests.helpers.api_keys import by_bearer, issue
from tests.helpers.database import owner_sql
from tests.helpers.documents import PNG, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup


async def _get(client: httpx.AsyncClient, who: Account, view: str, **params: str) -> Any:
    response = await client.get(f"{API}/dashboard/{view}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_processing_counts_and_latency_percentiles(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    names = ["read-1.png", "read-2.png", "read-3.png", "read-10.png", "failed.png", "later.png"]
    for position, name in enumerate(names):
        answer = await upload(client, owner, (name, PNG + bytes([position + 1]) * 64))
        assert answer.status_code in (200, 201), answer.text
    for _ in range(100):  # the in-process worker reads the scans (needs_review) first
        (now,) = (await _get(client, owner, "processing"))["rows"]
        if now["pending"] == 0:
            break
        await asyncio.sleep(0.1)
    # Uploaded on 10 June, read in 1, 2, 3 and 10 seconds; one failed; one uploaded later.
    await owner_sql(
        settings,
        owner.tenant_id,
        """
        UPDATE invoice_documents SET
            created_at = CASE WHEN filename = 'later.png' THEN timestamptz '2026-06-12 09:00Z'
                              ELSE timestamptz '2026-06-10 09:00Z' END,
            started_at = timestamptz '2026-06-10 09:00:05Z',
            finished_at = timestamptz '2026-06-10 09:00:05Z'
                + substring(filename FROM 'read-([0-9]+)')::int * interval '1 second',
            processing_status = CASE
                WHEN filename = 'failed.png' THEN 'failed'
                WHEN filename = 'read-10.png' THEN 'extracted'
                ELSE 'needs_review' END
        """,
    )
    body = await _get(client, owner, "processing", **{"from": "2026-06-10", "to": "2026-06-10"})
    assert body["rows"] == [
        {
            "window_start": "2026-06-10T00:00:00Z",
            "window_end": "2026-06-11T00:00:00Z",
            "received": 5,
            "finished": 4,
            "needs_review": 3,
            "failed": 1,
            "pending": 0,
            "documents_per_hour": "0.17",  # 4 read in 24 hours
            "latency_p50_seconds": "2.500",  # of 1, 2, 3, 10: between 2 and 3
            "latency_p90_seconds": "7.900",  # 3 + 0.7 x (10 - 3)
            "latency_p99_seconds": "9.790",  # 3 + 0.97 x (10 - 3)
        }
    ]
    week = await _get(client, owner, "processing", to="2026-06-12")
    assert week["rows"][0]["received"] == 6
    assert week["rows"][0]["window_start"] == "2026-06-06T00:00:00Z"  # 7 days up to `to`
    csv_answer = await client.get(
        f"{API}/dashboard/processing.csv",
        params={"from": "2026-06-10", "to": "2026-06-10"},
        headers=owner.headers,
    )
    assert csv_answer.text.splitlines()[1].split(",")[2:] == [
        "5", "4", "3", "1", "0", "0.17", "2.500", "7.900", "9.790",
    ]  # fmt: skip
    # The drafts of the scans name no currency yet.
    in_eur = await _get(
        client, owner, "processing", currency="EUR", **{"from": "2026-06-10", "to": "2026-06-10"}
    )
    assert in_eur["rows"][0]["received"] == 0


async def test_assets_by_category_as_of_a_day(client: httpx.AsyncClient, owner: Account) -> None:
    computers = await assets.category(
        client, owner, name="Computers", useful_life_months=24, salvage_percent="0"
    )
    furniture = await assets.category(
        client, owner, name="Furniture", useful_life_months=120, salvage_percent="0"
    )
    for name, category, acquired, cost in (
        ("Laptop", computers, "2026-01-01", "3600.00"),
        ("Desk", furniture, "2026-03-01", "1200.00"),
        ("Chair", furniture, "2026-07-05", "600.00"),  # after the day asked about
    ):
        await assets.asset(
            client,
            owner,
            category,
            name=name,
            acquisition_date=acquired,
            in_service_date=acquired,
            cost=cost,
        )
    body = await _get(client, owner, "assets", as_of="2026-06-30")
    figures = [
        (
            row["category"],
            row["assets"],
            row["cost"],
            row["accumulated_depreciation"],
            row["net_book_value"],
            row["depreciation_this_month"],
            row["depreciation_this_year"],
        )
        for row in body["rows"]
    ]
    assert figures == [
        # 3,600.00 over 24 months: 150.00 a month, January to June.
        ("Computers", 1, "3600.00", "900.00", "2700.00", "150.00", "900.00"),
        # 1,200.00 over 120 months: 10.00 a month, March to June.
        ("Furniture", 1, "1200.00", "40.00", "1160.00", "10.00", "40.00"),
    ]
    acquired_in_march = await _get(
        client, owner, "assets", as_of="2026-06-30", **{"from": "2026-03-01", "to": "2026-03-31"}
    )
    assert [row["category"] for row in acquired_in_march["rows"]] == ["Furniture"]
    assert (await _get(client, owner, "assets", as_of="2026-06-30", currency="USD"))["rows"] == []


def _monday(day: str) -> str:
    parsed = date.fromisoformat(day)
    return (parsed - timedelta(days=parsed.weekday())).isoformat()


async def test_cash_weeks_put_an_accepted_offer_on_its_pay_day_not_the_due_day(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    vendor_id = await financing.vendor(client, owner)
    financed = await financing.approved_invoice(client, owner, vendor_id, number="F-1")
    await financing.approved_invoice(client, owner, vendor_id, amount="500.00", number="F-2")
    program = await financing.program(client, owner)
    offer = await financing.offer(client, owner, financed["id"], program["id"], pay_in_days=10)
    accepted = await financing.accept(client, await financing.last_token(settings, owner.tenant_id))
    assert accepted.status_code == 200, accepted.text
    weeks = (await _get(client, owner, "cash"))["weeks"]
    assert weeks == [
        {
            "week_start": _monday(financing.days_from_today(10)),
            "currency": "EUR",
            "scheduled_payments": "0.00",
            "financing_settlements": offer["net_amount"],
        },
        {
            "week_start": _monday(financing.days_from_today(40)),
            "currency": "EUR",
            "scheduled_payments": "500.00",  # the financed 10,000.00 is not due any more
            "financing_settlements": "0.00",
        },
    ]


async def test_owner_assistant_and_keys_with_the_scope_read_it_nobody_else(
    client: httpx.AsyncClient, owner: Account
) -> None:
    assistant = await add_user(client, owner, "asa@ownerco.example.com")
    assert (await _get(client, assistant, "summary"))["rows"] == []
    granted = (await issue(client, owner, ["dashboard:read"])).json()["key"]
    answer = await client.get(f"{API}/dashboard/aging.csv", headers=by_bearer(granted, owner))
    assert answer.status_code == 200
    assert answer.text.startswith("currency,vendor_id,vendor_name,current,")
    other_scope = (await issue(client, owner, ["invoices:read"])).json()["key"]
    refused = await client.get(f"{API}/dashboard/summary", headers=by_bearer(other_scope, owner))
    assert refused.status_code == 403
    stranger = await signup(client, "strangerco")
    elsewhere = await client.get(
        f"{API}/dashboard/summary",
        headers=stranger.headers | {"X-Tenant-ID": str(owner.tenant_id)},
    )
    assert elsewhere.status_code == 403
    anonymous = await client.get(
        f"{API}/dashboard/cash", headers={"X-Tenant-ID": str(owner.tenant_id)}
    )
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-06-30", "to": "2026-06-01"},
        {"currency": "eur"},
        {"currency": "EURO"},
        {"as_of": "2026-02-30"},
        {"as_of": "1800-01-01"},
        {"from": "yesterday"},
        {"to": "20260601"},
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, owner: Account, params: dict[str, str]
) -> None:
    for view in ("summary", "aging.csv", "processing", "cash"):
        answer = await client.get(f"{API}/dashboard/{view}", params=params, headers=owner.headers)
        assert answer.status_code == 422, (view, params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert problem_code(answer) in ("validation_failed", "range_reversed")
