"""Invoice submits and receipts at once against one purchase order line, on a real
server (two workers, real sockets, its own PostgreSQL): the matched quantity never passes
what was received, the received quantity never passes the receipt limit; approvals at
once, some releasing receipts' accruals and some not, all post. One server serves every
test here."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import purchasing
from tests.helpers.http import API
from tests.helpers.identity import signup
from tests.helpers.ledger import by_code, trial_balance
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
        assert [i["kind"] for i in history.json()["items"]].count("match") == 6


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


async def test_approvals_at_once_with_and_without_accrual_releases_all_post(
    service: ServiceProcess,
) -> None:
    """Each approval of an invoice naming order lines posts its accrual release and its
    own entry in one `post_many` call, so the balances of both are locked in one ordered
    statement: concurrent approvals queue, none deadlocks (409 concurrent_change)."""
    async with http(service) as client:
        owner = await signup(client, "approvalrace")
        await purchasing.settings(client, owner, accrue_on_receipt=True)
        vendor_id = await purchasing.vendor(client, owner)
        placed = await purchasing.order(client, owner, vendor_id, BOLTS)
        order_line = placed["lines"][0]["id"]
        received = await purchasing.receive(client, owner, placed["id"], [(order_line, "100")])
        assert received.status_code == 201, received.text
        taxed = {"tax_rate": "0.19"}
        ordered = [purchasing.line(order_line, "10", "2.50", **taxed)]
        plain = [{"description": "Service", "quantity": "1", "unit_price": "25.00"} | taxed]
        drafts = [
            await purchasing.invoice(
                client, owner, vendor_id, ordered if n % 2 else plain, f"A-{n}"
            )
            for n in range(20)
        ]
        for draft in drafts:
            submitted = await purchasing.step(client, owner, draft["id"], "submit")
            assert submitted.json()["status"] == "submitted", submitted.text
        # Same vendor, same totals: each approval says they are not duplicates.
        distinct = {"duplicate_override_reason": "separate deliveries"}
        answers = await asyncio.gather(
            *(purchasing.step(client, owner, draft["id"], "approve", distinct) for draft in drafts)
        )
        assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
        assert {a.json()["status"] for a in answers} == {"approved"}
        # Accrued 250.00 on receipt (Dr 6000 / Cr 2150); the ten invoices on the order
        # release it (Dr 2150 / Cr 6000); twenty invoices of 25.00 + 4.75 tax.
        trial = await trial_balance(client, owner)
        assert by_code(trial) == {
            "1400": ("95.00", "0.00", "95.00"),
            "2000": ("0.00", "595.00", "-595.00"),
            "2150": ("250.00", "250.00", "0.00"),
            "6000": ("750.00", "250.00", "500.00"),
        }
        assert trial["totals"][0]["debit"] == trial["totals"][0]["credit"] == "1095.00"
        stale = await service.postgres.execute(
            "SELECT count(*) FROM ledger_balances b WHERE b.balance IS DISTINCT FROM"
            " (SELECT coalesce(sum(l.debit - l.credit), 0) FROM journal_lines l"
            " WHERE l.tenant_id = b.tenant_id AND l.account_id = b.account_id"
            " AND l.currency = b.currency)"
        )
        assert stale == 0
