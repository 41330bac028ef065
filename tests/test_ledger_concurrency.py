"""Concurrent money movements against a real server (two workers, real sockets, its own
PostgreSQL): PostgreSQL's row locks and checks, not Python, keep the figures exact.

One server serves both tests (starting one takes seconds).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.helpers.http import API
from tests.helpers.identity import Account, signup
from tests.helpers.service_process import ServiceProcess

SETTINGS = {
    # A hundred requests at once queue for the two workers' pools; none may give up.
    "DATABASE_POOL_TIMEOUT_SECONDS": "60",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(tmp_path_factory.mktemp("ledger") / "serve.log", **SETTINGS)
    try:
        yield running
    finally:
        running.stop()


def http(service: ServiceProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=service.base_url,
        timeout=60,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
    )


async def _accounts(client: httpx.AsyncClient, who: Account) -> dict[str, dict[str, Any]]:
    listed = await client.get(f"{API}/ledger/accounts", params={"limit": 200}, headers=who.headers)
    return {account["code"]: account for account in listed.json()["items"]}


async def _balances(client: httpx.AsyncClient, who: Account) -> dict[str, Decimal]:
    trial = await client.get(f"{API}/ledger/trial-balance", headers=who.headers)
    return {row["code"]: Decimal(row["balance"]) for row in trial.json()["accounts"]}


async def test_100_concurrent_transfers_of_50_out_of_1000(service: ServiceProcess) -> None:
    async with http(service) as client:
        owner = await signup(client, "transfers")
        created = await client.post(
            f"{API}/ledger/accounts",
            json={"code": "1010", "name": "Savings", "type": "asset", "overdraft_limit": "0.00"},
            headers=owner.headers,
        )
        assert created.status_code == 201, created.text
        accounts = await _accounts(client, owner)
        savings, bank = accounts["1010"]["id"], accounts["1000"]["id"]
        funded = await client.post(
            f"{API}/ledger/entries",
            json={
                "on": "2026-03-01",
                "lines": [
                    {"account_id": savings, "debit": "1000.00", "currency": "EUR"},
                    {"account_id": accounts["3000"]["id"], "credit": "1000.00", "currency": "EUR"},
                ],
            },
            headers=owner.headers,
        )
        assert funded.status_code == 201, funded.text
        before = await _balances(client, owner)

        async def transfer(number: int) -> httpx.Response:
            return await client.post(
                f"{API}/transfers",
                json={
                    "from_account_id": savings,
                    "to_account_id": bank,
                    "amount": "50.00",
                    "currency": "EUR",
                    "on": "2026-03-02",
                    "memo": f"transfer {number}",
                },
                headers=owner.headers | {"Idempotency-Key": f"transfer-{number}"},
            )

        answers = await asyncio.gather(*(transfer(n) for n in range(100)))
        outcomes = Counter(
            (a.status_code, a.json().get("code") if a.status_code != 201 else None) for a in answers
        )
        assert outcomes == {(201, None): 20, (409, "insufficient_funds"): 80}, outcomes
        after = await _balances(client, owner)
        assert after["1010"] == Decimal("0.00")
        assert after["1000"] == Decimal("1000.00")
        assert sum(after.values()) == sum(before.values()) == Decimal("0.00")
        assert after["1010"] + after["1000"] == before["1010"] + before.get("1000", Decimal(0))
        listed = await client.get(f"{API}/transfers", params={"limit": 200}, headers=owner.headers)
        assert len(listed.json()["items"]) == 20


async def test_50_concurrent_payments_of_one_invoice(service: ServiceProcess) -> None:
    async with http(service) as client:
        owner = await signup(client, "payments")
        vendor = await client.post(
            f"{API}/vendors",
            json={"name": "Paper GmbH", "default_currency": "EUR"},
            headers=owner.headers,
        )
        invoice = await client.post(
            f"{API}/invoices",
            json={
                "vendor_id": vendor.json()["id"],
                "number": "INV-1",
                "issue_date": "2026-03-01",
                "lines": [
                    {
                        "description": "Paper",
                        "quantity": "1000",
                        "unit_price": "1.00",
                        "tax_rate": "0.19",
                    }
                ],
            },
            headers=owner.headers,
        )
        invoice_id = invoice.json()["id"]
        for step in ("submit", "approve"):
            stepped = await client.post(
                f"{API}/invoices/{invoice_id}/{step}", headers=owner.headers | {"If-Match": "*"}
            )
            assert stepped.status_code == 200, stepped.text

        async def pay(number: int) -> httpx.Response:
            return await client.post(
                f"{API}/invoices/{invoice_id}/pay",
                json={"paid_on": "2026-03-10", "amount": "100.00", "reference": f"P-{number}"},
                headers=owner.headers | {"If-Match": "*"},
            )

        answers = await asyncio.gather(*(pay(n) for n in range(50)))
        outcomes = Counter(
            (a.status_code, a.json().get("code") if a.status_code != 200 else None) for a in answers
        )
        # 1,190.00 takes eleven payments of 100.00; then 90.00 is outstanding.
        assert outcomes == {(200, None): 11, (422, "overpayment"): 39}, outcomes
        read = (await client.get(f"{API}/invoices/{invoice_id}", headers=owner.headers)).json()
        assert (read["amount_paid"], read["status"]) == ("1100.00", "approved")
        paid = await client.get(f"{API}/invoices/{invoice_id}/payments", headers=owner.headers)
        payments = paid.json()
        assert len(payments) == 11
        entries = await client.get(
            f"{API}/ledger/entries",
            params={"source_type": "payment", "limit": 200},
            headers=owner.headers,
        )
        posted = Counter(entry["source_id"] for entry in entries.json()["items"])
        assert posted == {payment["id"]: 1 for payment in payments}
        assert {payment["entry_id"] for payment in payments} == {
            entry["id"] for entry in entries.json()["items"]
        }
        balances = await _balances(client, owner)
        assert balances["1000"] == Decimal("-1100.00")
        assert balances["2000"] == Decimal("-90.00")
