"""Depreciation engine: an asset's parameters in, a monthly schedule out.

Pure: no database, no I/O. Periods are calendar months starting with the in-service
month; a date always stands for the month it falls in. Every money amount is a Decimal
quantized to cents with ROUND_HALF_UP, and the schedule never takes book value below
salvage.

Straight line is one block of `useful_life_months` equal charges. The annual-rate methods
(declining balance, double declining balance, sum-of-the-years' digits) compute one
amount per asset year (twelve months from the in-service month; the last year is shorter
when the life is not a whole number of years) and spread it evenly over that year's
months. In each block the last month absorbs the rounding, and the last block absorbs
what is left of the depreciable base, so an undisposed schedule sums to exactly
cost - salvage.

Conventions:
- full month: the in-service month carries a full month's charge; the schedule has
  `useful_life_months` periods.
- mid-month: depreciation starts in the middle of the in-service month, so every calendar
  month holds the second half of one asset month and the first half of the next: the
  in-service month gets half a month's charge and one extra period at the end gets the
  remaining half (`useful_life_months + 1` periods).

Disposal: no depreciation after the disposal month. Under the full-month convention the
disposal month is charged in full; under mid-month it gets half a month, because
depreciation runs to the middle of the disposal month (the same half-month rule as the
in-service month).

Units of production follows recorded usage, so the convention does not apply and the
useful life does not limit it: the schedule runs from the in-service month to the last
month with recorded usage (or the disposal month) and reaches cost - salvage once the
recorded units reach the expected total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from ledgerline.values import cents

ZERO = Decimal("0.00")
MONTHS_PER_YEAR = 12


class DepreciationMethod(StrEnum):
    STRAIGHT_LINE = "straight_line"
    DECLINING_BALANCE = "declining_balance"
    DOUBLE_DECLINING_BALANCE = "double_declining_balance"
    SUM_OF_YEARS_DIGITS = "sum_of_years_digits"
    UNITS_OF_PRODUCTION = "units_of_production"


class Convention(StrEnum):
    FULL_MONTH = "full_month"
    MID_MONTH = "mid_month"


@dataclass(frozen=True)
class DepreciableAsset:
    """What the engine needs to know about an asset; validated on construction.

    `declining_rate` is the annual rate of the declining balance method only (double
    declining balance derives its rate, 2 / life in years). `total_units` and `units_used`
    (first day of a month -> units used that month) belong to units of production only;
    an empty `units_used` means no usage recorded yet.
    """

    cost: Decimal
    salvage_value: Decimal
    useful_life_months: int
    in_service_date: date
    method: DepreciationMethod
    convention: Convention = Convention.FULL_MONTH
    declining_rate: Decimal | None = None
    disposal_date: date | None = None
    total_units: Decimal | None = None
    units_used: Mapping[date, Decimal] | None = None

    def __post_init__(self) -> None:
        _validate(self)
        if self.units_used is not None:
            object.__setattr__(self, "units_used", MappingProxyType(dict(self.units_used)))


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    period_start: date
    opening_value: Decimal
    depreciation: Decimal
    accumulated_depreciation: Decimal
    closing_value: Decimal


def depreciation_schedule(asset: DepreciableAsset) -> tuple[ScheduleRow, ...]:
    """The monthly schedule, one row per month from the in-service month."""
    cost = cents(asset.cost)
    first_period = _month_start(asset.in_service_date)
    rows = []
    accumulated = ZERO
    for index, charge in enumerate(_period_charges(asset)):
        opening_value = cost - accumulated
        accumulated += charge
        rows.append(
            ScheduleRow(
                period_start=_add_months(first_period, index),
                opening_value=opening_value,
                depreciation=charge,
                accumulated_depreciation=accumulated,
                closing_value=cost - accumulated,
            )
        )
    return tuple(rows)


def book_value(asset: DepreciableAsset, as_of: date) -> Decimal:
    """Book value after the depreciation of `as_of`'s month: that month's closing value.

    Cost before the in-service month; the final closing value after the schedule ends.
    """
    schedule = depreciation_schedule(asset)
    period = _months_between(_month_start(asset.in_service_date), as_of)
    if period < 0 or not schedule:
        return cents(asset.cost)
    return schedule[min(period, len(schedule) - 1)].closing_value


def depreciation_between(asset: DepreciableAsset, start: date, end: date) -> Decimal:
    """Depreciation of the months from `start`'s month to `end`'s month, both included."""
    if start > end:
        raise ValueError("start must not be after end")
    first, last = _month_start(start), _month_start(end)
    return sum(
        (
            row.depreciation
            for row in depreciation_schedule(asset)
            if first <= row.period_start <= last
        ),
        ZERO,
    )


def _period_charges(asset: DepreciableAsset) -> list[Decimal]:
    disposal_period = (
        None
        if asset.disposal_date is None
        else _months_between(_month_start(asset.in_service_date), asset.disposal_date)
    )
    if asset.method is DepreciationMethod.UNITS_OF_PRODUCTION:
        return _units_of_production_charges(asset, disposal_period)
    asset_months = _asset_month_charges(asset)
    if asset.convention is Convention.MID_MONTH:
        return _mid_month_charges(asset_months, disposal_period)
    if disposal_period is None:
        return asset_months
    return asset_months[: disposal_period + 1]


def _asset_month_charges(asset: DepreciableAsset) -> list[Decimal]:
    """Charges of the asset's months under the full-month convention, summing to the base."""
    base = cents(asset.cost) - cents(asset.salvage_value)
    life = asset.useful_life_months
    if asset.method is DepreciationMethod.STRAIGHT_LINE:
        return _allocate(base, [1] * life)
    year_lengths = [MONTHS_PER_YEAR] * (life // MONTHS_PER_YEAR)
    if life % MONTHS_PER_YEAR:
        year_lengths.append(life % MONTHS_PER_YEAR)
    if asset.method is DepreciationMethod.SUM_OF_YEARS_DIGITS:
        yearly = _sum_of_years_digits(base, life, year_lengths)
    else:
        yearly = _declining_balance(asset, year_lengths)
    return [
        charge
        for amount, months in zip(yearly, year_lengths, strict=True)
        for charge in _allocate(amount, [1] * months)
    ]


def _sum_of_years_digits(base: Decimal, life: int, year_lengths: Sequence[int]) -> list[Decimal]:
    """Each year's digit is the remaining life at its start, in months.

    A whole number of years gives the textbook digits (5, 4, 3, 2, 1 for five years); a
    fractional life gives the usual generalisation (2.5, 1.5, 0.5 for thirty months).
    """
    digits = [life - MONTHS_PER_YEAR * year for year in range(len(year_lengths))]
    return _allocate(base, digits)


def _declining_balance(asset: DepreciableAsset, year_lengths: Sequence[int]) -> list[Decimal]:
    """Yearly charges on the opening book value; the last year takes the rest down to salvage.

    Double declining balance uses 2 / life in years and switches to straight line over
    the remaining life in the first year where that charge is larger.
    """
    salvage = cents(asset.salvage_value)
    book = cents(asset.cost)
    remaining_life = asset.useful_life_months
    charges = []
    for year, months in enumerate(year_lengths):
        depreciable = book - salvage
        if year == len(year_lengths) - 1:
            charge = depreciable
        elif asset.method is DepreciationMethod.DOUBLE_DECLINING_BALANCE:
            declining = cents(book * 2 * MONTHS_PER_YEAR / asset.useful_life_months)
            straight_line = cents(depreciable * MONTHS_PER_YEAR / remaining_life)
            charge = min(max(declining, straight_line), depreciable)
        else:
            assert asset.declining_rate is not None
            charge = min(cents(book * asset.declining_rate), depreciable)
        charges.append(charge)
        book -= charge
        remaining_life -= months
    return charges


def _mid_month_charges(
    asset_months: Sequence[Decimal], disposal_period: int | None
) -> list[Decimal]:
    """Calendar month k holds the second half of asset month k-1 and the first half of k.

    Rounding the accumulated amount at each month's end (not each half) keeps every
    charge at whole cents and the total exact. On disposal, depreciation runs to the
    middle of the disposal month, that is through the asset months already completed.
    """
    accumulated_at_end = []
    completed = ZERO
    completed_before = []
    for charge in asset_months:
        completed_before.append(completed)
        accumulated_at_end.append(cents(completed + charge / 2))
        completed += charge
    completed_before.append(completed)
    accumulated_at_end.append(completed)
    if disposal_period is not None and disposal_period < len(accumulated_at_end):
        accumulated_at_end = accumulated_at_end[:disposal_period]
        accumulated_at_end.append(completed_before[disposal_period])
    return _differences(accumulated_at_end)


def _units_of_production_charges(
    asset: DepreciableAsset, disposal_period: int | None
) -> list[Decimal]:
    """Accumulated depreciation is base x units used so far / total units, capped at base."""
    assert asset.units_used is not None
    assert asset.total_units is not None
    base = cents(asset.cost) - cents(asset.salvage_value)
    first_period = _month_start(asset.in_service_date)
    usage_by_period: dict[int, Decimal] = {}
    for month, units in asset.units_used.items():
        usage_by_period[_months_between(first_period, month)] = units
    last_period = max(usage_by_period, default=-1)
    if disposal_period is not None:
        last_period = min(last_period, disposal_period)
    accumulated_at_end = []
    units_so_far = Decimal(0)
    for period in range(last_period + 1):
        units_so_far += usage_by_period.get(period, Decimal(0))
        accumulated_at_end.append(min(cents(base * units_so_far / asset.total_units), base))
    return _differences(accumulated_at_end)


def _allocate(total: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """Split `total` in proportion to `weights` in cents; the last share absorbs the rounding.

    Shares are capped at what is left, so none is negative even for a tiny total.
    """
    weight_sum = sum(weights)
    shares = []
    remaining = total
    for weight in weights[:-1]:
        share = min(cents(total * weight / weight_sum), remaining)
        shares.append(share)
        remaining -= share
    shares.append(remaining)
    return shares


def _differences(accumulated: Sequence[Decimal]) -> list[Decimal]:
    previous = ZERO
    charges = []
    for value in accumulated:
        charges.append(value - previous)
        previous = value
    return charges


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, count: int) -> date:
    years, month_index = divmod(month.month - 1 + count, MONTHS_PER_YEAR)
    return date(month.year + years, month_index + 1, 1)


def _months_between(start: date, end: date) -> int:
    """Whole months from `start`'s month to `end`'s month (negative when `end` is earlier)."""
    return (end.year - start.year) * MONTHS_PER_YEAR + end.month - start.month


def _is_cents(amount: Decimal) -> bool:
    return amount.is_finite() and amount == cents(amount)


def _validate(asset: DepreciableAsset) -> None:
    if not _is_cents(asset.cost):
        raise ValueError("cost must be a finite amount with at most 2 decimal places")
    if not _is_cents(asset.salvage_value):
        raise ValueError("salvage_value must be a finite amount with at most 2 decimal places")
    if asset.cost < 0:
        raise ValueError("cost must not be negative")
    if asset.salvage_value < 0:
        raise ValueError("salvage_value must not be negative")
    if asset.salvage_value > asset.cost:
        raise ValueError("salvage_value must not exceed cost")
    if asset.useful_life_months < 1:
        raise ValueError("useful_life_months must be at least 1")
    if asset.disposal_date is not None and asset.disposal_date < asset.in_service_date:
        raise ValueError("disposal_date must not be before in_service_date")
    _validate_method_parameters(asset)


def _validate_method_parameters(asset: DepreciableAsset) -> None:
    rate = asset.declining_rate
    if asset.method is DepreciationMethod.DECLINING_BALANCE:
        if rate is None:
            raise ValueError("declining balance needs declining_rate")
        if not (rate.is_finite() and 0 < rate <= 1):
            raise ValueError("declining_rate must be greater than 0 and at most 1")
    elif rate is not None:
        raise ValueError("declining_rate applies only to the declining balance method")

    if asset.method is not DepreciationMethod.UNITS_OF_PRODUCTION:
        if asset.total_units is not None or asset.units_used is not None:
            raise ValueError("total_units and units_used apply only to units of production")
        return
    if asset.total_units is None:
        raise ValueError("units of production needs total_units")
    if not (asset.total_units.is_finite() and asset.total_units > 0):
        raise ValueError("total_units must be greater than 0")
    if asset.units_used is None:
        raise ValueError("units of production needs units_used (empty when none is recorded)")
    first_period = _month_start(asset.in_service_date)
    for month, units in asset.units_used.items():
        if month.day != 1:
            raise ValueError(f"units_used key {month} is not the first day of a month")
        if month < first_period:
            raise ValueError(f"units_used key {month} is before the in-service month")
        if not (units.is_finite() and units >= 0):
            raise ValueError(f"units_used for {month} must be a non-negative number")
