"""The depreciation engine: textbook figures worked by hand, then properties over random assets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerline.assets.depreciation import (
    Convention,
    DepreciableAsset,
    DepreciationMethod,
    ScheduleRow,
    book_value,
    depreciation_between,
    depreciation_schedule,
)

IN_SERVICE = date(2024, 1, 10)


def textbook_asset(method: DepreciationMethod, **overrides: object) -> DepreciableAsset:
    """Cost 10,000.00, salvage 1,000.00, five years, in service 10 January 2024."""
    values: dict[str, object] = {
        "cost": Decimal("10000.00"),
        "salvage_value": Decimal("1000.00"),
        "useful_life_months": 60,
        "in_service_date": IN_SERVICE,
        "method": method,
    }
    values.update(overrides)
    return DepreciableAsset(**values)  # type: ignore[arg-type]


def yearly_totals(schedule: tuple[ScheduleRow, ...]) -> list[Decimal]:
    return [
        sum((row.depreciation for row in schedule[start : start + 12]), Decimal(0))
        for start in range(0, len(schedule), 12)
    ]


def test_straight_line_charges_150_a_month() -> None:
    # (10,000 - 1,000) / 60 months = 150.00
    schedule = depreciation_schedule(textbook_asset(DepreciationMethod.STRAIGHT_LINE))

    assert len(schedule) == 60
    assert {row.depreciation for row in schedule} == {Decimal("150.00")}
    assert schedule[0] == ScheduleRow(
        period_start=date(2024, 1, 1),
        opening_value=Decimal("10000.00"),
        depreciation=Decimal("150.00"),
        accumulated_depreciation=Decimal("150.00"),
        closing_value=Decimal("9850.00"),
    )
    assert schedule[-1].period_start == date(2028, 12, 1)
    assert schedule[-1].closing_value == Decimal("1000.00")


def test_straight_line_last_month_absorbs_the_rounding() -> None:
    # 1,000.00 / 3 = 333.333...: 333.33 twice, then 333.34.
    asset = DepreciableAsset(
        cost=Decimal("1000.00"),
        salvage_value=Decimal("0.00"),
        useful_life_months=3,
        in_service_date=IN_SERVICE,
        method=DepreciationMethod.STRAIGHT_LINE,
    )
    charges = [row.depreciation for row in depreciation_schedule(asset)]
    assert charges == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]


def test_double_declining_balance_year_by_year() -> None:
    # Rate 2 / 5 = 40% of the opening book value, against straight line over the remaining
    # life on (book - salvage):
    #   year 1: 40% x 10,000 = 4,000.00 (straight line 9,000 / 5 = 1,800)   -> book 6,000
    #   year 2: 40% x  6,000 = 2,400.00 (straight line 5,000 / 4 = 1,250)   -> book 3,600
    #   year 3: 40% x  3,600 = 1,440.00 (straight line 2,600 / 3 = 866.67)  -> book 2,160
    #   year 4: 40% x  2,160 =   864.00 (straight line 1,160 / 2 = 580)     -> book 1,296
    #   year 5: 40% x  1,296 = 518.40, but salvage allows only 1,296 - 1,000 = 296.00.
    # With this salvage there is no switch: straight line never beats the declining charge,
    # and salvage caps year 5. The switch case is the next test.
    schedule = depreciation_schedule(textbook_asset(DepreciationMethod.DOUBLE_DECLINING_BALANCE))

    assert yearly_totals(schedule) == [
        Decimal("4000.00"),
        Decimal("2400.00"),
        Decimal("1440.00"),
        Decimal("864.00"),
        Decimal("296.00"),
    ]
    # 4,000 / 12 = 333.33 for eleven months; the twelfth absorbs the rounding.
    assert [row.depreciation for row in schedule[:12]] == [Decimal("333.33")] * 11 + [
        Decimal("333.37")
    ]
    assert schedule[-1].closing_value == Decimal("1000.00")


def test_double_declining_balance_switches_to_straight_line() -> None:
    # Same asset without salvage:
    #   year 1: 40% x 10,000 = 4,000.00 (straight line 10,000 / 5 = 2,000) -> book 6,000
    #   year 2: 40% x  6,000 = 2,400.00 (straight line  6,000 / 4 = 1,500) -> book 3,600
    #   year 3: 40% x  3,600 = 1,440.00 (straight line  3,600 / 3 = 1,200) -> book 2,160
    #   year 4: 40% x  2,160 = 864.00 < straight line 2,160 / 2 = 1,080.00: switch in year 4
    #   year 5: straight line 1,080.00 (the remaining 1,080 over 1 year)   -> book 0
    schedule = depreciation_schedule(
        textbook_asset(DepreciationMethod.DOUBLE_DECLINING_BALANCE, salvage_value=Decimal("0"))
    )

    assert yearly_totals(schedule) == [
        Decimal("4000.00"),
        Decimal("2400.00"),
        Decimal("1440.00"),
        Decimal("1080.00"),
        Decimal("1080.00"),
    ]
    assert {row.depreciation for row in schedule[36:]} == {Decimal("90.00")}


def test_sum_of_the_years_digits() -> None:
    # Digits 5 + 4 + 3 + 2 + 1 = 15 on a base of 9,000: 5/15, 4/15, 3/15, 2/15, 1/15.
    schedule = depreciation_schedule(textbook_asset(DepreciationMethod.SUM_OF_YEARS_DIGITS))

    assert yearly_totals(schedule) == [
        Decimal("3000.00"),
        Decimal("2400.00"),
        Decimal("1800.00"),
        Decimal("1200.00"),
        Decimal("600.00"),
    ]
    assert {row.depreciation for row in schedule[:12]} == {Decimal("250.00")}


def test_declining_balance_at_30_percent() -> None:
    # 30% of the opening book value; the last year takes what is left down to salvage:
    #   year 1: 30% x 10,000 = 3,000.00 -> 7,000
    #   year 2: 30% x  7,000 = 2,100.00 -> 4,900
    #   year 3: 30% x  4,900 = 1,470.00 -> 3,430
    #   year 4: 30% x  3,430 = 1,029.00 -> 2,401
    #   year 5: 2,401 - 1,000 = 1,401.00 -> 1,000
    schedule = depreciation_schedule(
        textbook_asset(DepreciationMethod.DECLINING_BALANCE, declining_rate=Decimal("0.30"))
    )

    assert yearly_totals(schedule) == [
        Decimal("3000.00"),
        Decimal("2100.00"),
        Decimal("1470.00"),
        Decimal("1029.00"),
        Decimal("1401.00"),
    ]
    assert schedule[-1].closing_value == Decimal("1000.00")


def test_units_of_production() -> None:
    # 9,000 over 100,000 units = 0.09 a unit.
    asset = textbook_asset(
        DepreciationMethod.UNITS_OF_PRODUCTION,
        total_units=Decimal(100_000),
        units_used={
            date(2024, 1, 1): Decimal(10_000),  # 900.00
            date(2024, 3, 1): Decimal(25_000),  # 2,250.00 (February: nothing used)
            date(2024, 4, 1): Decimal(40_000),  # 3,600.00
            date(2024, 5, 1): Decimal(30_000),  # 5,000 units left: 2,250.00, then salvage
        },
    )
    schedule = depreciation_schedule(asset)

    assert [row.period_start for row in schedule] == [date(2024, month, 1) for month in range(1, 6)]
    assert [row.depreciation for row in schedule] == [
        Decimal("900.00"),
        Decimal("0.00"),
        Decimal("2250.00"),
        Decimal("3600.00"),
        Decimal("2250.00"),
    ]
    assert schedule[-1].closing_value == Decimal("1000.00")


def test_units_of_production_rounds_on_the_running_total() -> None:
    # 100.00 over 3 units: 33.33, then 66.67 accumulated (33.34), then 100.00 (33.33).
    asset = DepreciableAsset(
        cost=Decimal("100.00"),
        salvage_value=Decimal("0.00"),
        useful_life_months=12,
        in_service_date=IN_SERVICE,
        method=DepreciationMethod.UNITS_OF_PRODUCTION,
        total_units=Decimal(3),
        units_used={date(2024, month, 1): Decimal(1) for month in (1, 2, 3)},
    )
    charges = [row.depreciation for row in depreciation_schedule(asset)]
    assert charges == [Decimal("33.33"), Decimal("33.34"), Decimal("33.33")]


def test_units_of_production_without_recorded_usage_keeps_cost() -> None:
    asset = textbook_asset(
        DepreciationMethod.UNITS_OF_PRODUCTION, total_units=Decimal(100), units_used={}
    )
    assert depreciation_schedule(asset) == ()
    assert book_value(asset, date(2030, 1, 1)) == Decimal("10000.00")


def test_mid_month_straight_line() -> None:
    # Half of 150.00 in the in-service month, 59 full months, the other half in month 61.
    schedule = depreciation_schedule(
        textbook_asset(DepreciationMethod.STRAIGHT_LINE, convention=Convention.MID_MONTH)
    )

    assert len(schedule) == 61
    assert schedule[0].depreciation == Decimal("75.00")
    assert {row.depreciation for row in schedule[1:60]} == {Decimal("150.00")}
    assert schedule[-1].depreciation == Decimal("75.00")
    assert schedule[-1].period_start == date(2029, 1, 1)
    assert schedule[-1].closing_value == Decimal("1000.00")


def test_mid_month_sum_of_the_years_digits() -> None:
    # Asset year 1 charges 250.00 a month, year 2 200.00: the in-service month gets 125.00,
    # month 12 gets 250.00, month 13 straddles both years: 125.00 + 100.00 = 225.00.
    schedule = depreciation_schedule(
        textbook_asset(DepreciationMethod.SUM_OF_YEARS_DIGITS, convention=Convention.MID_MONTH)
    )

    assert len(schedule) == 61
    assert schedule[0].depreciation == Decimal("125.00")
    assert schedule[11].depreciation == Decimal("250.00")
    assert schedule[12].depreciation == Decimal("225.00")
    assert schedule[-1].depreciation == Decimal("25.00")  # half of 600 / 12


def test_disposal_full_month_charges_the_disposal_month_in_full() -> None:
    asset = textbook_asset(DepreciationMethod.STRAIGHT_LINE, disposal_date=date(2024, 3, 15))
    schedule = depreciation_schedule(asset)

    assert [row.depreciation for row in schedule] == [Decimal("150.00")] * 3
    assert book_value(asset, date(2024, 3, 15)) == Decimal("9550.00")
    assert book_value(asset, date(2030, 1, 1)) == Decimal("9550.00")


def test_disposal_mid_month_charges_half_the_disposal_month() -> None:
    asset = textbook_asset(
        DepreciationMethod.STRAIGHT_LINE,
        convention=Convention.MID_MONTH,
        disposal_date=date(2024, 3, 15),
    )
    schedule = depreciation_schedule(asset)

    assert [row.depreciation for row in schedule] == [
        Decimal("75.00"),
        Decimal("150.00"),
        Decimal("75.00"),
    ]
    assert book_value(asset, date(2024, 3, 15)) == Decimal("9700.00")


def test_book_value_and_depreciation_between_dates() -> None:
    asset = textbook_asset(DepreciationMethod.STRAIGHT_LINE)

    assert book_value(asset, date(2023, 12, 31)) == Decimal("10000.00")
    assert book_value(asset, date(2024, 1, 1)) == Decimal("9850.00")
    assert book_value(asset, date(2024, 12, 31)) == Decimal("8200.00")
    assert book_value(asset, date(2040, 6, 30)) == Decimal("1000.00")
    assert depreciation_between(asset, date(2024, 1, 1), date(2024, 12, 31)) == Decimal("1800.00")
    assert depreciation_between(asset, date(2025, 2, 20), date(2025, 4, 2)) == Decimal("450.00")
    assert depreciation_between(asset, date(2020, 1, 1), date(2023, 12, 31)) == Decimal("0.00")
    with pytest.raises(ValueError, match="start must not be after end"):
        depreciation_between(asset, date(2025, 1, 2), date(2025, 1, 1))


FORTY_YEAR_PARAMETERS: dict[DepreciationMethod, dict[str, object]] = {
    DepreciationMethod.DECLINING_BALANCE: {"declining_rate": Decimal("0.05")},
    DepreciationMethod.UNITS_OF_PRODUCTION: {
        "total_units": Decimal(40_000),
        "units_used": {date(2024 + year, 1, 1): Decimal(1000) for year in range(40)},
    },
}


@pytest.mark.parametrize("method", list(DepreciationMethod))
def test_a_forty_year_asset_computes_its_schedule(method: DepreciationMethod) -> None:
    asset = textbook_asset(
        method,
        cost=Decimal("2500000.00"),
        salvage_value=Decimal("100000.00"),
        useful_life_months=480,
        **FORTY_YEAR_PARAMETERS.get(method, {}),
    )
    schedule = depreciation_schedule(asset)

    # Units of production ends with the last recorded usage, January of year 40.
    expected_periods = 469 if method is DepreciationMethod.UNITS_OF_PRODUCTION else 480
    assert len(schedule) == expected_periods
    assert sum(row.depreciation for row in schedule) == Decimal("2400000.00")
    assert schedule[-1].closing_value == Decimal("100000.00")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cost": Decimal("-1.00"), "salvage_value": Decimal(0)}, "cost must not be negative"),
        ({"salvage_value": Decimal("10000.01")}, "salvage_value must not exceed cost"),
        ({"salvage_value": Decimal("-0.01")}, "salvage_value must not be negative"),
        ({"cost": Decimal("100.001")}, "at most 2 decimal places"),
        ({"cost": Decimal("NaN")}, "at most 2 decimal places"),
        ({"useful_life_months": 0}, "useful_life_months must be at least 1"),
        ({"disposal_date": date(2024, 1, 9)}, "disposal_date must not be before"),
        ({"declining_rate": Decimal("0.3")}, "applies only to the declining balance"),
        ({"total_units": Decimal(10)}, "apply only to units of production"),
    ],
)
def test_invalid_assets_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        textbook_asset(DepreciationMethod.STRAIGHT_LINE, **overrides)


@pytest.mark.parametrize("rate", ["0", "-0.1", "1.01", "Infinity"])
def test_declining_rate_must_be_in_zero_to_one(rate: str) -> None:
    with pytest.raises(ValueError, match="declining_rate must be greater than 0 and at most 1"):
        textbook_asset(DepreciationMethod.DECLINING_BALANCE, declining_rate=Decimal(rate))


def test_declining_balance_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="declining balance needs declining_rate"):
        textbook_asset(DepreciationMethod.DECLINING_BALANCE)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"units_used": {}}, "needs total_units"),
        ({"total_units": Decimal(0), "units_used": {}}, "total_units must be greater than 0"),
        ({"total_units": Decimal(10)}, "needs units_used"),
        (
            {"total_units": Decimal(10), "units_used": {date(2024, 2, 2): Decimal(1)}},
            "not the first day of a month",
        ),
        (
            {"total_units": Decimal(10), "units_used": {date(2023, 12, 1): Decimal(1)}},
            "before the in-service month",
        ),
        (
            {"total_units": Decimal(10), "units_used": {date(2024, 2, 1): Decimal(-1)}},
            "must be a non-negative number",
        ),
    ],
)
def test_units_of_production_needs_its_units(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        textbook_asset(DepreciationMethod.UNITS_OF_PRODUCTION, **overrides)


@st.composite
def assets(draw: st.DrawFn) -> DepreciableAsset:
    """A random valid asset of any method and convention, without disposal."""
    cost_cents = draw(st.integers(0, 1_000_000_000))
    salvage_cents = draw(st.integers(0, cost_cents))
    life = draw(st.integers(1, 480))
    in_service = draw(st.dates(date(2000, 1, 1), date(2060, 12, 31)))
    method = draw(st.sampled_from(DepreciationMethod))
    parameters: dict[str, object] = {}
    if method is DepreciationMethod.DECLINING_BALANCE:
        parameters["declining_rate"] = Decimal(draw(st.integers(1, 10_000))).scaleb(-4)
    if method is DepreciationMethod.UNITS_OF_PRODUCTION:
        total_units = draw(st.integers(1, 1_000_000))
        monthly = draw(st.lists(st.integers(0, total_units), max_size=24))
        # The last recorded month brings usage to the expected total, possibly beyond.
        monthly.append(max(total_units - sum(monthly), 0) + draw(st.integers(0, 1000)))
        first = in_service.replace(day=1)
        parameters["total_units"] = Decimal(total_units)
        parameters["units_used"] = {
            date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1): (
                Decimal(units)
            )
            for i, units in enumerate(monthly)
        }
    return DepreciableAsset(
        cost=Decimal(cost_cents).scaleb(-2),
        salvage_value=Decimal(salvage_cents).scaleb(-2),
        useful_life_months=life,
        in_service_date=in_service,
        method=method,
        convention=draw(st.sampled_from(Convention)),
        **parameters,  # type: ignore[arg-type]
    )


def with_disposal(asset: DepreciableAsset, disposal_date: date) -> DepreciableAsset:
    return DepreciableAsset(
        cost=asset.cost,
        salvage_value=asset.salvage_value,
        useful_life_months=asset.useful_life_months,
        in_service_date=asset.in_service_date,
        method=asset.method,
        convention=asset.convention,
        declining_rate=asset.declining_rate,
        disposal_date=disposal_date,
        total_units=asset.total_units,
        units_used=asset.units_used,
    )


def has_cents(amount: Decimal) -> bool:
    return amount.as_tuple().exponent == -2


@settings(max_examples=200, deadline=None)
@given(assets())
def test_schedule_properties(asset: DepreciableAsset) -> None:
    schedule = depreciation_schedule(asset)

    assert sum(row.depreciation for row in schedule) == asset.cost - asset.salvage_value
    previous_closing = asset.cost
    for index, row in enumerate(schedule):
        amounts = (
            row.opening_value,
            row.depreciation,
            row.accumulated_depreciation,
            row.closing_value,
        )
        assert all(has_cents(amount) for amount in amounts)
        assert row.opening_value == previous_closing
        assert row.depreciation >= 0
        assert row.closing_value <= row.opening_value
        assert row.closing_value >= asset.salvage_value
        assert row.closing_value == asset.cost - row.accumulated_depreciation
        assert row.period_start.day == 1
        if index:
            assert row.period_start > schedule[index - 1].period_start
        previous_closing = row.closing_value
    if asset.method is not DepreciationMethod.UNITS_OF_PRODUCTION:
        extra_period = 1 if asset.convention is Convention.MID_MONTH else 0
        assert len(schedule) == asset.useful_life_months + extra_period


@settings(max_examples=200, deadline=None)
@given(assets(), st.integers(0, 500), st.integers(0, 27))
def test_disposal_stops_the_schedule(
    asset: DepreciableAsset, months_in_service: int, day_offset: int
) -> None:
    first = asset.in_service_date.replace(day=1)
    month = date(
        first.year + (first.month - 1 + months_in_service) // 12,
        (first.month - 1 + months_in_service) % 12 + 1,
        1,
    )
    disposal_date = max(month + timedelta(days=day_offset), asset.in_service_date)
    disposed = with_disposal(asset, disposal_date)
    full = depreciation_schedule(asset)
    schedule = depreciation_schedule(disposed)

    assert all(row.period_start <= disposal_date for row in schedule)
    if len(full) > months_in_service:
        assert schedule[-1].period_start == month
    # Before the disposal month nothing changes; the disposal month is charged in full
    # under the full-month convention and by half under mid-month.
    unchanged = len(schedule) - (1 if disposed.convention is Convention.MID_MONTH else 0)
    assert schedule[:unchanged] == full[:unchanged]
    expected_value = schedule[-1].closing_value if schedule else disposed.cost
    assert book_value(disposed, disposal_date) == expected_value
    assert book_value(disposed, disposal_date + timedelta(days=4000)) == expected_value
    assert depreciation_between(disposed, disposal_date + timedelta(days=31), date(2200, 1, 1)) == 0
    assert all(row.closing_value >= disposed.salvage_value for row in schedule)


@settings(max_examples=100, deadline=None)
@given(assets(), st.dates(date(1999, 1, 1), date(2110, 12, 31)))
def test_book_value_is_cost_less_depreciation_to_date(asset: DepreciableAsset, as_of: date) -> None:
    depreciated = depreciation_between(asset, date(1990, 1, 1), as_of)
    assert book_value(asset, as_of) == asset.cost - depreciated
