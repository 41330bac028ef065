"""Acceptances at once against a real server (two workers, real sockets, its own
PostgreSQL): the budget is held by one conditional statement and the offer's row lock,
not by Python. One server serves both tests (starting one takes seconds)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from tests.helpers import financing
from tests.helpers.http import API
from tests.helpers.identity import Account, signup
from tests.helpers.service_process import ServiceProcess

SETTINGS = {
    # A hundred requests at once queue for the two workers' pools; none may give up.
    "DATABASE_POOL_TIMEOUT_SECONDS": "60",
    "RATE_LIMIT_FINANCING_ACCEPT": "100000/minute",
}
T = TypeVar("T")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(tmp_path_factory.mktemp("financing") / "serve.log", **SETTINGS)
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


async def bounded(calls: list[Awaitable[T]], at_once: int = 8) -> list[T]:
    gate = asyncio.Semaphore(at_once)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(call) for call in calls))


async def tokens_by_invoice(service: ServiceProcess) -> dict[str, str]:
    """Every offer mail's token by the invoice number in its subject."""
    rows = await service.postgres.rows(
        "SELECT subject, body FROM mail_outbox WHERE subject LIKE 'Early payment offer%'"
    )
    found = {}
    for row in rows:
        token = financing.TOKEN.search(row["body"])
        assert token is not None
        found[row["subject"].rsplit(" ", 1)[-1]] = token.group(1)
    return found


async def offered_invoices(
    client: httpx.AsyncClient, who: Account, program_id: str, count: int, prefix: str
) -> list[dict[str, Any]]:
    """`count` approved invoices of 1,000.00 due in 40 days, each offered for day 10."""
    vendor_id = await financing.vendor(client, who, name=f"Supplier {prefix}")
    invoices = await bounded(
        [
            financing.approved_invoice(
                client, who, vendor_id, amount="1000.00", number=f"{prefix}-{n}"
            )
            for n in range(count)
        ]
    )
    return await bounded(
        [financing.offer(client, who, invoice["id"], program_id, 10) for invoice in invoices]
    )


async def test_100_acceptances_at_once_against_a_budget_for_10(service: ServiceProcess) -> None:
    async with http(service) as client:
        owner = await signup(client, "budgets")
        # 1,000.00 at 12% on ACT/360, 30 days early: discount 10.00, net 990.00.
        program = await financing.program(
            client, owner, day_count="ACT/360", budget="9900.00", min_days_early=30
        )
        offers = await offered_invoices(client, owner, program["id"], 100, "B")
        assert {offer["net_amount"] for offer in offers} == {"990.00"}
        tokens = await tokens_by_invoice(service)
        answers = await asyncio.gather(*(financing.accept(client, t) for t in tokens.values()))
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {200: 10, 409: 90}, [a.text for a in answers if a.status_code >= 500]
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"budget_exhausted"}
        shown = await client.get(f"{API}/financing/programs/{program['id']}", headers=owner.headers)
        assert (shown.json()["committed"], shown.json()["available"]) == ("9900.00", "0.00")
        accepted = await client.get(
            f"{API}/financing/acceptances",
            params={"program_id": program["id"], "limit": 200},
            headers=owner.headers,
        )
        reserved = [Decimal(item["reserved"]) for item in accepted.json()["items"]]
        assert (len(reserved), sum(reserved)) == (10, Decimal("9900.00"))


async def test_20_acceptances_of_one_offer_at_once_make_one(service: ServiceProcess) -> None:
    async with http(service) as client:
        owner = await signup(client, "once")
        program = await financing.program(client, owner)
        [offer] = await offered_invoices(client, owner, program["id"], 1, "O")
        token = (await tokens_by_invoice(service))["O-0"]
        answers = await asyncio.gather(*(financing.accept(client, token) for _ in range(20)))
        assert {answer.status_code for answer in answers} == {200}
        assert len({answer.json()["acceptance_id"] for answer in answers}) == 1
        accepted = await client.get(
            f"{API}/financing/acceptances",
            params={"offer_id": offer["id"]},
            headers=owner.headers,
        )
        assert len(accepted.json()["items"]) == 1
        shown = await client.get(f"{API}/financing/programs/{program['id']}", headers=owner.headers)
        assert shown.json()["committed"] == offer["net_amount"]
