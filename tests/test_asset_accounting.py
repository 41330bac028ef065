"""Asset accounting through HTTP: depreciation runs that post, capitalization, disposals
that post and their reversal, mid-life adjustments with hand figures, guarded history,
the register against the ledger, the roll-forward."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers import assets
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.ledger import balances, cache_disagreements

D = Decimal


async def straight_line(
    client: httpx.AsyncClient, who: Account, *, name: str = "Machines", salvage: str = "0"
) -> str:
    return await assets.category(
        client,
        who,
        name=name,
        depreciation_method="straight_line",
        useful_life_months=60,
        salvage_percent=salvage,
    )


async def machine(
    client: httpx.AsyncClient,
    who: Account,
    category: str,
    *,
    cost: str = "12000.00",
    since: str = "2024-01-01",
    **fields: Any,
) -> str:
    created = await assets.asset(
        client,
        who,
        category,
        acquisition_date=since,
        in_service_date=since,
        cost=cost,
        **fields,
    )
    return str(created["id"])


async def run(client: httpx.AsyncClient, who: Account, period: str) -> httpx.Response:
    return await client.post(
        f"{API}/depreciation-runs", json={"period": period}, headers=who.headers
    )


async def capitalize(client: httpx.AsyncClient, who: Account, asset_id: str) -> httpx.Response:
    return await client.post(
        f"{API}/assets/{asset_id}/capitalize",
        json={"credit_account_code": "2000"},
        headers=who.headers,
    )


async def adjust(
    client: httpx.AsyncClient, who: Account, asset_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"{API}/assets/{asset_id}/adjustments",
        json=body,
        headers=await assets.at_current_version(client, who, asset_id),
    )


async def charges(client: httpx.AsyncClient, who: Account, asset_id: str) -> dict[str, str]:
    response = await client.get(f"{API}/assets/{asset_id}/schedule", headers=who.headers)
    assert response.status_code == 200, response.text
    return {row["period"][:7]: row["depreciation"] for row in response.json()}


async def entry_lines(database: Database, tenant: UUID, entry_id: str) -> set[tuple[str, str, str]]:
    """(account code, debit, credit) of an entry's lines."""
    async with database.tenant_transaction(tenant) as session:
        rows = await session.execute(
            text(
                "SELECT a.code, l.debit, l.credit FROM journal_lines l"
                " JOIN ledger_accounts a ON a.id = l.account_id WHERE l.entry_id = :entry"
            ),
            {"entry": UUID(entry_id)},
        )
        return {(row.code, str(row.debit), str(row.credit)) for row in rows}


def balance(found: dict[tuple[str, str], Decimal], code: str, currency: str = "EUR") -> Decimal:
    return found.get((code, currency), D("0.00"))


async def test_a_run_posts_each_month_once_and_catches_up_a_missed_one(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    category = await straight_line(client, owner)
    await machine(client, owner, category, since="2025-01-01")
    draft = await assets.asset(
        client, owner, category, acquisition_date="2025-01-01", in_service_date=None
    )

    posted = await run(client, owner, "2025-03")
    assert posted.status_code == 201, posted.text
    assert posted.headers["location"].endswith(posted.json()["id"])
    assert posted.json() | {"id": None, "created_at": None} == {
        "id": None,
        "created_at": None,
        "period": "2025-03",
        "asset_count": 1,
        "month_count": 3,
        "totals": {"EUR": "600.00"},
    }
    again = await run(client, owner, "2025-03")
    assert (again.json()["month_count"], again.json()["totals"]) == (0, {})
    # April was never run: the May run posts it too.
    caught_up = await run(client, owner, "2025-05")
    assert (caught_up.json()["month_count"], caught_up.json()["totals"]) == (2, {"EUR": "400.00"})

    found = await balances(database, owner.tenant_id)
    assert (balance(found, "6800"), balance(found, "1590")) == (D("1000.00"), D("-1000.00"))
    assert await cache_disagreements(database, owner.tenant_id) == []
    listed = await client.get(f"{API}/depreciation-runs", headers=owner.headers)
    assert [(r["period"], r["month_count"], r["totals"]) for r in listed.json()["items"]] == [
        ("2025-05", 2, {"EUR": "400.00"}),
        ("2025-03", 0, {}),
        ("2025-03", 3, {"EUR": "600.00"}),
    ]
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_type": "asset"}, headers=owner.headers
    )
    kinds = sorted(entry["kind"] for entry in entries.json()["items"])
    assert kinds == [f"depreciation 2025-0{month}" for month in range(1, 6)]
    assert draft["status"] == "draft"


async def test_the_database_refuses_a_second_posting_of_a_month_and_any_change(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    category = await straight_line(client, owner)
    await machine(client, owner, category, since="2025-01-01")
    assert (await run(client, owner, "2025-01")).status_code == 201
    statements = (
        "INSERT INTO depreciation_postings (tenant_id, asset_id, period, amount, currency,"
        " entry_id) SELECT tenant_id, asset_id, period, amount, currency, entry_id"
        " FROM depreciation_postings",
        "UPDATE depreciation_postings SET amount = 1",
        "DELETE FROM depreciation_postings",
        "DELETE FROM depreciation_runs",
        "UPDATE asset_adjustments SET amount = 1",
    )
    for statement in statements:
        with pytest.raises(DBAPIError) as refused:
            async with database.tenant_transaction(owner.tenant_id) as session:
                await session.execute(text(statement))
        assert any(word in str(refused.value) for word in ("duplicate key", "permission denied")), (
            statement
        )


async def test_a_run_into_a_closed_month_posts_in_the_first_open_one(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    await machine(client, owner, category, since="2025-01-01")
    closed = await client.post(f"{API}/ledger/periods/2025-01/close", headers=owner.headers)
    assert closed.status_code == 200, closed.text
    assert (await run(client, owner, "2025-01")).json()["month_count"] == 1
    entries = await client.get(
        f"{API}/ledger/entries", params={"source_type": "asset"}, headers=owner.headers
    )
    (entry,) = entries.json()["items"]
    assert (entry["occurred_on"], entry["posted_on"]) == ("2025-01-31", "2025-02-01")


async def test_runs_need_assets_post_and_a_past_period(
    client: httpx.AsyncClient, owner: Account
) -> None:
    assistant = await add_user(client, owner, "clerk@example.com")
    refused = await run(client, assistant, "2025-01")
    assert refused.status_code == 403
    assert (await run(client, owner, "2199-01")).status_code == 422
    assert (await run(client, owner, "2025-13")).status_code == 422


async def test_the_brief_disposal_posts_and_its_reversal_returns_the_asset(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    category = await straight_line(client, owner, salvage="10")
    asset_id = await machine(client, owner, category, cost="10000.00", since="2025-01-01")
    capitalized = await capitalize(client, owner, asset_id)
    assert capitalized.status_code == 200, capitalized.text
    assert (await capitalize(client, owner, asset_id)).status_code == 409
    opened = await client.post(
        f"{API}/assets/{asset_id}/maintenance",
        json={"started_on": "2026-01-10"},
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert opened.status_code == 201, opened.text

    sold = await assets.dispose(
        client, owner, asset_id, {"on": "2026-01-31", "method": "sale", "proceeds": "7000.00"}
    )
    assert sold.status_code == 200, sold.text
    disposed = sold.json()
    assert (disposed["book_value_at_disposal"], disposed["disposal_gain"]) == (
        "8050.00",
        "-1050.00",
    )
    assert await entry_lines(database, owner.tenant_id, disposed["disposal_entry_id"]) == {
        ("1000", "7000.00", "0.00"),
        ("1590", "1950.00", "0.00"),
        ("7900", "1050.00", "0.00"),
        ("1500", "0.00", "10000.00"),
    }
    found = await balances(database, owner.tenant_id)
    assert (balance(found, "1500"), balance(found, "1590")) == (D("0.00"), D("0.00"))
    maintenance = await client.get(
        f"{API}/assets/{asset_id}/history", headers=owner.headers, params={"limit": 50}
    )
    assert "disposed" in {event["kind"] for event in maintenance.json()["items"]}

    stale = await client.post(
        f"{API}/assets/{asset_id}/disposal/reverse",
        headers=owner.headers | {"If-Match": '"1"'},
    )
    assert stale.status_code == 412
    reversed_ = await client.post(
        f"{API}/assets/{asset_id}/disposal/reverse",
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert reversed_.status_code == 200, reversed_.text
    assert (reversed_.json()["status"], reversed_.json()["disposed_on"]) == ("in_service", None)
    found = await balances(database, owner.tenant_id)
    assert (balance(found, "1500"), balance(found, "1590"), balance(found, "7900")) == (
        D("10000.00"),
        D("-1950.00"),
        D("0.00"),
    )
    again = await client.post(
        f"{API}/assets/{asset_id}/disposal/reverse",
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert (again.status_code, problem_code(again)) == (409, "asset_not_disposed")
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_a_disposal_in_a_closed_period_is_not_reversed(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2025-01-01")
    sold = await assets.dispose(client, owner, asset_id, {"on": "2025-06-30", "method": "scrap"})
    assert sold.status_code == 200, sold.text
    await client.post(f"{API}/ledger/periods/2025-06/close", headers=owner.headers)
    refused = await client.post(
        f"{API}/assets/{asset_id}/disposal/reverse",
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert (refused.status_code, problem_code(refused)) == (409, "period_closed")


@pytest.mark.parametrize(
    ("body", "after", "posted"),
    [
        # 7,200.00 left after 24 of 60 months; a life of 48 in total leaves 24 months.
        ({"kind": "useful_life", "useful_life_months": 48}, "300.00", set()),
        # (7,200.00 - 1,200.00) over the 36 months left.
        ({"kind": "salvage", "salvage_value": "1200.00"}, "166.67", set()),
        # Written down to 5,400.00: a loss of 1,800.00, then 5,400.00 / 36.
        (
            {"kind": "impairment", "recoverable_amount": "5400.00"},
            "150.00",
            {("6850", "1800.00", "0.00"), ("1595", "0.00", "1800.00")},
        ),
        # Up to 9,000.00: a surplus of 1,800.00 in equity, then 9,000.00 / 36.
        (
            {"kind": "revaluation", "fair_value": "9000.00"},
            "250.00",
            {("1500", "1800.00", "0.00"), ("3100", "0.00", "1800.00")},
        ),
        # An improvement of 3,600.00: 10,800.00 / 36.
        (
            {"kind": "cost", "amount": "3600.00", "credit_account_code": "2000"},
            "300.00",
            {("1500", "3600.00", "0.00"), ("2000", "0.00", "3600.00")},
        ),
    ],
)
async def test_adjustments_recompute_prospectively_by_hand_figures(
    client: httpx.AsyncClient,
    owner: Account,
    database: Database,
    body: dict[str, Any],
    after: str,
    posted: set[tuple[str, str, str]],
) -> None:
    """Cost 12,000.00, no salvage, straight line over 60 months from 2024-01-01: 200.00 a
    month; 24 months posted (through 2025-12), then the adjustment on 2026-01-01."""
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category)
    assert (await run(client, owner, "2025-12")).json()["month_count"] == 24
    made = await adjust(client, owner, asset_id, body | {"on": "2026-01-01"})
    assert made.status_code == 201, made.text
    adjustment = made.json()
    assert (adjustment["effective_from"], adjustment["carrying_before"]) == (
        "2026-01-01",
        "7200.00",
    )
    schedule = await charges(client, owner, asset_id)
    assert schedule["2025-12"] == "200.00"
    assert schedule["2026-01"] == schedule["2026-02"] == after
    if body["kind"] == "useful_life":
        assert [schedule[f"2027-{m:02d}"] for m in (11, 12)] == ["300.00", "300.00"]
        assert "2028-01" not in schedule
    if posted:
        assert adjustment["entry_id"] is not None
        assert await entry_lines(database, owner.tenant_id, adjustment["entry_id"]) == posted
    else:
        assert adjustment["entry_id"] is None
    assert (await run(client, owner, "2026-02")).json()["totals"] == {"EUR": str(D(after) * 2)}
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_a_revaluation_up_first_reverses_an_impairment_through_profit(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category)
    await run(client, owner, "2025-12")
    impaired = await adjust(
        client,
        owner,
        asset_id,
        {"kind": "impairment", "on": "2026-01-01", "recoverable_amount": "6000.00"},
    )
    assert impaired.json()["impairment_change"] == "1200.00"
    revalued = await adjust(
        client,
        owner,
        asset_id,
        {"kind": "revaluation", "on": "2026-01-20", "fair_value": "7000.00"},
    )
    assert revalued.status_code == 201, revalued.text
    assert await entry_lines(database, owner.tenant_id, revalued.json()["entry_id"]) == {
        ("1595", "1000.00", "0.00"),
        ("6850", "0.00", "1000.00"),
    }
    asset = (await client.get(f"{API}/assets/{asset_id}", headers=owner.headers)).json()
    assert (asset["accumulated_impairment"], asset["cost"]) == ("200.00", "12000.00")


async def test_adjustments_are_dated_in_or_after_the_last_posted_month(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category)
    await run(client, owner, "2025-12")
    early = await adjust(
        client, owner, asset_id, {"kind": "salvage", "on": "2025-11-30", "salvage_value": "10.00"}
    )
    assert (early.status_code, problem_code(early)) == (409, "adjustment_before_posted_month")
    # In the last posted month: the new schedule starts with the next one.
    late = await adjust(
        client,
        owner,
        asset_id,
        {"kind": "useful_life", "on": "2025-12-15", "useful_life_months": 48},
    )
    assert late.json()["effective_from"] == "2026-01-01"
    wrong = await adjust(
        client, owner, asset_id, {"kind": "salvage", "on": "2026-01-01", "amount": "10.00"}
    )
    assert wrong.status_code == 422
    unsent = await client.post(
        f"{API}/assets/{asset_id}/adjustments",
        json={"kind": "salvage", "on": "2026-01-01", "salvage_value": "10.00"},
        headers=owner.headers,
    )
    assert unsent.status_code == 428


async def test_posted_history_is_guarded_and_fy2025_stays(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2025-01-01")
    unposted = await machine(client, owner, category, since="2025-01-01", name="Press")
    assistant = await add_user(client, owner, "clerk@example.com")

    async def fy2025() -> str:
        register = await client.get(
            f"{API}/assets/register",
            params={"as_of": "2025-12-31", "period_start": "2025-01-01"},
            headers=owner.headers,
        )
        (row,) = [a for a in register.json()["assets"] if a["asset_id"] == asset_id]
        return str(row["depreciation_in_period"])

    assert await fy2025() == "2400.00"
    assert (await run(client, owner, "2025-12")).status_code == 201
    headers = await assets.at_current_version(client, assistant, asset_id)
    moved = await client.patch(
        f"{API}/assets/{asset_id}", json={"in_service_date": "2025-10-01"}, headers=headers
    )
    assert (moved.status_code, problem_code(moved)) == (409, "asset_history_posted")
    life = await client.patch(
        f"{API}/assets/{asset_id}", json={"useful_life_months": 36}, headers=headers
    )
    assert problem_code(life) == "asset_history_posted"
    assert life.json()["adjustment_kinds"] == ["useful_life"]
    assert "/adjustments" in life.json()["detail"]
    assert await fy2025() == "2400.00"
    renamed = await client.patch(
        f"{API}/assets/{asset_id}", json={"name": "Lathe"}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    # Posted by the run too: the second asset was in service in 2025 as well.
    other = await client.patch(
        f"{API}/assets/{unposted}",
        json={"cost": "6000.00"},
        headers=await assets.at_current_version(client, owner, unposted),
    )
    assert problem_code(other) == "asset_history_posted"


async def test_parameters_change_freely_until_a_month_is_posted(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2026-01-01")
    changed = await client.patch(
        f"{API}/assets/{asset_id}",
        json={"cost": "6000.00", "useful_life_months": 30},
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert changed.status_code == 200, changed.text
    assert (await charges(client, owner, asset_id))["2026-01"] == "200.00"
    too_much = await client.patch(
        f"{API}/assets/{asset_id}",
        json={"salvage_value": "6000.01"},
        headers=await assets.at_current_version(client, owner, asset_id),
    )
    assert (too_much.status_code, problem_code(too_much)) == (422, "salvage_above_cost")


async def test_transfer_dates_lie_between_service_and_today(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2025-01-01")
    site = (await assets.post(client, owner, "/locations", {"name": "S", "kind": "site"}))["id"]
    for on in ("2024-12-31", "2199-01-01"):
        moved = await client.post(
            f"{API}/assets/{asset_id}/transfer",
            json={"location_id": site, "on": on},
            headers=await assets.at_current_version(client, owner, asset_id),
        )
        assert (moved.status_code, problem_code(moved)) == (422, "transfer_date_out_of_range")


async def test_the_register_agrees_with_the_ledger_and_rolls_forward(
    client: httpx.AsyncClient, owner: Account, database: Database
) -> None:
    category = await straight_line(client, owner)
    kept = await machine(client, owner, category, since="2025-01-01")
    sold = await machine(client, owner, category, cost="6000.00", since="2025-03-10")
    improved = await machine(client, owner, category, cost="3000.00", since="2025-06-01")
    for asset_id in (kept, sold, improved):
        assert (await capitalize(client, owner, asset_id)).status_code == 200
    await run(client, owner, "2025-08")
    assert (
        await assets.dispose(
            client, owner, sold, {"on": "2025-09-15", "method": "sale", "proceeds": "5000.00"}
        )
    ).status_code == 200
    made = await adjust(
        client, owner, improved, {"kind": "cost", "on": "2025-10-01", "amount": "600.00"}
    )
    assert made.status_code == 201, made.text
    await run(client, owner, "2025-12")

    register = (
        await client.get(
            f"{API}/assets/register", params={"as_of": "2025-12-31"}, headers=owner.headers
        )
    ).json()
    found = await balances(database, owner.tenant_id)
    totals = register["totals"]["EUR"]
    assert D(totals["cost"]) == balance(found, "1500") == D("15600.00")
    assert -D(totals["accumulated_depreciation"]) == balance(found, "1590")
    (gone,) = [a for a in register["assets"] if a["asset_id"] == sold]
    assert gone["disposal_gain"] == "-300.00"  # 6,000 - 7 x 100 = 5,300 book, sold for 5,000

    rolled = await client.get(
        f"{API}/assets/roll-forward",
        params={"from": "2025-01-01", "to": "2025-12-31"},
        headers=owner.headers,
    )
    assert rolled.status_code == 200, rolled.text
    total = rolled.json()["totals"]["EUR"]
    assert total["cost"] == {
        "opening": "0.00",
        "additions": "21600.00",
        "adjustments": "0.00",
        "disposals": "6000.00",
        "closing": "15600.00",
    }
    depreciation = total["accumulated_depreciation"]
    assert depreciation["closing"] == totals["accumulated_depreciation"]
    assert depreciation["disposals"] == "700.00"
    assert D(depreciation["additions"]) == D(depreciation["closing"]) + D("700.00")
    assert total["closing_net_book_value"] == totals["net_book_value"]
    later = await client.get(
        f"{API}/assets/roll-forward",
        params={"from": "2026-01-01", "to": "2026-01-31"},
        headers=owner.headers,
    )
    assert later.json()["totals"]["EUR"]["cost"]["opening"] == "15600.00"
    reversed_range = await client.get(
        f"{API}/assets/roll-forward",
        params={"from": "2026-02-01", "to": "2026-01-31"},
        headers=owner.headers,
    )
    assert reversed_range.status_code == 422


async def test_another_tenants_asset_is_not_found(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category = await straight_line(client, owner)
    asset_id = await machine(client, owner, category, since="2025-01-01")
    stranger = await signup(client, "elsewhere")
    attempts = [
        await client.post(f"{API}/assets/{asset_id}/capitalize", json={}, headers=stranger.headers),
        await client.post(
            f"{API}/assets/{asset_id}/adjustments",
            json={"kind": "salvage", "on": "2025-02-01", "salvage_value": "1.00"},
            headers=stranger.headers | {"If-Match": "*"},
        ),
        await client.post(
            f"{API}/assets/{asset_id}/disposal/reverse",
            headers=stranger.headers | {"If-Match": "*"},
        ),
    ]
    assert [(r.status_code, problem_code(r)) for r in attempts] == [(404, "asset_not_found")] * 3
    assert (await run(client, stranger, "2025-06")).json()["month_count"] == 0
