"""The terms of an early payment by hand: discount = open x apr x days / base, rounded
half-up to the cent once; net = open - discount."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from ledgerline.financing.models import DayCount
from ledgerline.financing.terms import early_payment, share_of
from tests.helpers import financing
from tests.helpers.http import API
from tests.helpers.identity import Account

PAY_ON = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("open_amount", "apr", "day_count", "days", "discount", "net"),
    [
        ("10000.00", "0.12", DayCount.ACT_365, 30, "98.63", "9901.37"),
        ("10000.00", "0.12", DayCount.ACT_360, 30, "100.00", "9900.00"),
        # Exactly half a cent (37.50 x 0.12 x 10 / 360 = 0.125): up, not to even.
        ("37.50", "0.12", DayCount.ACT_360, 10, "0.13", "37.37"),
        # Just under half a cent (36.50 x 0.12 x 10 / 365 = 0.12): stays.
        ("36.50", "0.12", DayCount.ACT_365, 10, "0.12", "36.38"),
        # 0.1249... (37.49 x 0.12 x 10 / 360) rounds down; no double rounding.
        ("37.49", "0.12", DayCount.ACT_360, 10, "0.12", "37.37"),
    ],
)
def test_hand_figures(
    open_amount: str, apr: str, day_count: DayCount, days: int, discount: str, net: str
) -> None:
    terms = early_payment(
        Decimal(open_amount), Decimal(apr), day_count, PAY_ON, PAY_ON + timedelta(days=days)
    )
    assert (terms.days_early, str(terms.discount), str(terms.net_amount)) == (days, discount, net)
    assert terms.discount + terms.net_amount == Decimal(open_amount)


def test_the_funders_fee_share_rounds_half_up() -> None:
    assert share_of(Decimal("0.25"), Decimal("0.5")) == Decimal("0.13")
    assert share_of(Decimal("98.63"), Decimal("0.25")) == Decimal("24.66")


@pytest.mark.parametrize(
    ("day_count", "discount", "net"),
    [("ACT/365", "98.63", "9901.37"), ("ACT/360", "100.00", "9900.00")],
)
async def test_opportunities_and_offers_carry_the_hand_figures(
    client: httpx.AsyncClient, owner: Account, day_count: str, discount: str, net: str
) -> None:
    vendor_id = await financing.vendor(client, owner)
    invoice = await financing.approved_invoice(client, owner, vendor_id, due_in_days=40)
    program = await financing.program(client, owner, day_count=day_count)
    listed = await client.get(
        f"{API}/financing/opportunities",
        params={"program_id": program["id"], "pay_on": financing.days_from_today(10)},
        headers=owner.headers,
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["invoice_id"], item["open_amount"], item["days_early"]) == (
        invoice["id"],
        "10000.00",
        30,
    )
    assert (item["discount"], item["net_amount"]) == (discount, net)
    offer = await financing.offer(client, owner, invoice["id"], program["id"], pay_in_days=10)
    assert (offer["discount"], offer["net_amount"], offer["open_amount"]) == (
        discount,
        net,
        "10000.00",
    )
