"""Invoice submits and receipts at once against one purchase order line, on a real
server (two workers, real sockets, its own PostgreSQL): the matched quantity never passes
what was received, the received quantity never passes the receipt limit. One server
serves both tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import purchasing
from tests.helpers.http import API
from tests.helpers.identity import signup
from tests.helpers.service_process import ServiceProcess

SETTINGS = {"DATABASE_POOL_TIMEOUT_SECONDS": "60"}
BOLTS = [{"description": "Bolts", "quantity": "100", "unit_price": "2.50"}]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(tmp_path_factory.mktemp("purchasing") / "serve.log", **SETTINGS)
    try:
        yield running
    finally:
        running.stop()


def http(service: ServiceProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=service.base_url,
        timeout=60,
        limits=httpx.Limits(max_connections=40, max_keepalive_connections=40),
    )


async def test_20_submits_at_once_match_no_more_than_was_received(
    service: ServiceProcess,
) -> None:
    async with http(service) as client:
        owner = await signup(client, "matchrace")
        vendor_id = await purchasing.vendor(client, owner)
        placed = await purchasing.order(client, owner, vendor_id, BOLTS)
        order_line = placed["lines"][0]["id"]
        received = await purchasing.receive(client, owner, placed["id"], [(order_line, "30")])
        assert received.status_code == 201, received.text
        drafts = [
            await purchasing.invoice(
                client, owner, vendor_id, [purchasing.line(order_line, "5", "2.50")], f"R-{n}"
            )
            for n in range(20)
        ]
        answers = await asyncio.gather(
            *(purchasing.step(client, owner, draft["id"], "submit") for draft in drafts)
        )
        assert {answer.status_code for answer in answers} == {200}, [a.text for a in answers]
        statuses = Counter(answer.json()["status"] for answer in answers)
        assert statuses == {"submitted": 6, "match_exception": 14}
        after = await purchasing.read_order(client, owner, placed["id"])
        assert after["lines"][0]["quantity_matched"] == "30.0000"
        history = await client.get(
            f"{API}/purchase-orders/{placed['id']}/history", headers=owner.headers
        )
        assert len(history.json()["matches"]) == 6


async def test_20_receipts_at_once_stop_at_the_receipt_limit(service: ServiceProcess) -> None:
    async with http(service) as client:
        owner = await signup(client, "receiptrace")
        vendor_id = await purchasing.vendor(client, owner)
        placed = await purchasing.order(client, owner, vendor_id, BOLTS)
        order_line = placed["lines"][0]["id"]
        answers = await asyncio.gather(
            *(
                purchasing.receive(client, owner, placed["id"], [(order_line, "10")])
                for _ in range(20)
            )
        )
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {201: 10, 409: 10}, [a.text for a in answers if a.status_code >= 500]
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"over_receipt"}
        after = await purchasing.read_order(client, owner, placed["id"])
        assert (after["status"], after["lines"][0]["quantity_received"]) == (
            "received",
            "100.0000",
        )
