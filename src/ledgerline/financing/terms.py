"""The terms of an early payment, exact to the cent.

discount = open amount x apr x days early / day-count base, computed as an exact
fraction and rounded half-up to the cent once; net = open - discount, so the two always
sum to the open amount. ACT/365 divides the actual days by 365, ACT/360 by 360.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledgerline.financing.models import DayCount

DAY_COUNT_BASE = {DayCount.ACT_365: 365, DayCount.ACT_360: 360}


@dataclass(frozen=True, slots=True)
class EarlyPayment:
    days_early: int
    discount: Decimal
    net_amount: Decimal


def half_up_cents(value: Fraction) -> Decimal:
    """An exact (non-negative) amount rounded to cents, half a cent up."""
    cents = (value * 100 + Fraction(1, 2)).__floor__()
    return Decimal(cents).scaleb(-2)


def early_payment(
    open_amount: Decimal, apr: Decimal, day_count: DayCount, pay_on: date, due_date: date
) -> EarlyPayment:
    days = (due_date - pay_on).days
    exact = Fraction(open_amount) * Fraction(apr) * days / DAY_COUNT_BASE[day_count]
    discount = half_up_cents(exact)
    return EarlyPayment(days, discount, open_amount - discount)


def share_of(discount: Decimal, share: Decimal) -> Decimal:
    """The funder's fee share of a discount, rounded half-up to the cent."""
    return half_up_cents(Fraction(discount) * Fraction(share))
