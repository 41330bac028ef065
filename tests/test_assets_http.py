"""The fixed-asset register through HTTP: tags, depreciation, movements, disposal, roles."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.helpers.assets import (
    asset,
    at_current_version,
    category,
    dispose,
    import_csv,
    post,
)
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup


async def test_tags_are_generated_per_tenant_and_unique(
    client: httpx.AsyncClient, owner: Account
) -> None:
    cat = await category(client, owner)
    first, second = await asset(client, owner, cat), await asset(client, owner, cat)
    assert (first["tag"], second["tag"]) == ("A-000001", "A-000002")
    named = await asset(client, owner, cat, tag="SRV-7")
    assert named["tag"] == "SRV-7"
    taken = await client.post(
        f"{API}/assets",
        json={
            "name": "Twin",
            "category_id": cat,
            "acquisition_date": "2026-01-10",
            "cost": "1.00",
            "currency": "EUR",
            "tag": "SRV-7",
        },
        headers=owner.headers,
    )
    assert taken.status_code == 409
    other = await signup(client, "otherassets")
    assert (await asset(client, other, await category(client, other)))["tag"] == "A-000001"


async def test_the_category_supplies_defaults_and_the_engine_the_schedule(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await asset(client, owner, await category(client, owner))
    assert created["salvage_value"] == "1000.00"  # 10 % of 10,000.00, as a string
    assert created["status"] == "in_service"
    schedule = (
        await client.get(f"{API}/assets/{created['id']}/schedule", headers=owner.headers)
    ).json()
    assert len(schedule) == 60
    assert {row["depreciation"] for row in schedule} == {"150.00"}
    assert sum(Decimal(row["depreciation"]) for row in schedule) == Decimal("9000.00")
    value = await client.get(
        f"{API}/assets/{created['id']}/book-value",
        params={"as_of": "2026-12-31"},
        headers=owner.headers,
    )
    assert value.json()["book_value"] == "8200.00"  # 12 months of 150.00


async def test_transfers_follow_the_location_tree_and_leave_history(
    client: httpx.AsyncClient, owner: Account
) -> None:
    site = await post(client, owner, "/locations", {"name": "Berlin", "kind": "site"})
    building = await post(
        client, owner, "/locations", {"name": "HQ", "kind": "building", "parent_id": site["id"]}
    )
    room = await post(
        client,
        owner,
        "/locations",
        {"name": "Server room", "kind": "room", "parent_id": building["id"]},
    )
    misplaced = await client.post(
        f"{API}/locations",
        json={"name": "Loose room", "kind": "room", "parent_id": site["id"]},
        headers=owner.headers,
    )
    assert problem_code(misplaced) == "invalid_location_parent"
    keeper = await post(client, owner, "/custodians", {"name": "Kim", "email": "kim@a.example.com"})
    created = await asset(client, owner, await category(client, owner))
    transfer = await client.post(
        f"{API}/assets/{created['id']}/transfer",
        json={"location_id": room["id"], "custodian_id": keeper["id"], "on": "2026-02-01"},
        headers=await at_current_version(client, owner, created["id"]),
    )
    assert transfer.status_code == 200, transfer.text
    moved = transfer.json()
    assert (moved["location_id"], moved["custodian_id"]) == (room["id"], keeper["id"])
    history = (
        await client.get(f"{API}/assets/{created['id']}/history", headers=owner.headers)
    ).json()
    assert [e["kind"] for e in history["items"]] == ["transferred", "created"]
    assert history["items"][0]["to_location_id"] == room["id"]


async def test_open_maintenance_marks_the_asset_and_closing_it_returns_it(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await asset(client, owner, await category(client, owner))
    opened = await client.post(
        f"{API}/assets/{created['id']}/maintenance",
        json={"started_on": "2026-03-01", "cost": "120.50", "vendor": "Fixit"},
        headers=await at_current_version(client, owner, created["id"]),
    )
    assert opened.status_code == 201, opened.text
    record = opened.json()
    current = (await client.get(f"{API}/assets/{created['id']}", headers=owner.headers)).json()
    assert current["status"] == "under_maintenance"
    closed = await client.post(
        f"{API}/assets/{created['id']}/maintenance/{record['id']}/close",
        json={"ended_on": "2026-03-03"},
        headers=await at_current_version(client, owner, created["id"]),
    )
    assert closed.status_code == 200, closed.text
    current = (await client.get(f"{API}/assets/{created['id']}", headers=owner.headers)).json()
    assert current["status"] == "in_service"


async def test_disposal_stores_book_value_and_gain_and_freezes_the_asset(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await asset(client, owner, await category(client, owner))
    sold = await dispose(
        client, owner, created["id"], {"on": "2026-10-31", "method": "sale", "proceeds": "9000.00"}
    )
    disposed = sold.json()
    assert disposed["status"] == "disposed", sold.text
    assert disposed["book_value_at_disposal"] == "8500.00"  # 10 months of 150.00
    assert disposed["disposal_gain"] == "500.00"
    etag = (await client.get(f"{API}/assets/{created['id']}", headers=owner.headers)).headers[
        "etag"
    ]
    for response in (
        await client.patch(
            f"{API}/assets/{created['id']}",
            json={"name": "x"},
            headers=owner.headers | {"If-Match": etag},
        ),
        await client.post(
            f"{API}/assets/{created['id']}/transfer",
            json={"custodian_id": None, "location_id": None, "on": "2027-01-01"},
            headers=owner.headers | {"If-Match": etag},
        ),
        await dispose(client, owner, created["id"], {"on": "2026-11-01", "method": "scrap"}),
    ):
        assert response.status_code == 409
        assert problem_code(response) == "asset_disposed"
    schedule = (
        await client.get(f"{API}/assets/{created['id']}/schedule", headers=owner.headers)
    ).json()
    assert len(schedule) == 10  # depreciation stopped at the disposal month


async def test_only_drafts_can_be_deleted(client: httpx.AsyncClient, owner: Account) -> None:
    cat = await category(client, owner)
    in_service = await asset(client, owner, cat)
    draft = await asset(client, owner, cat, in_service_date=None)
    assert draft["status"] == "draft"
    refused = await client.delete(
        f"{API}/assets/{in_service['id']}",
        headers=await at_current_version(client, owner, in_service["id"]),
    )
    assert problem_code(refused) == "asset_not_draft"
    assert (
        await client.delete(
            f"{API}/assets/{draft['id']}",
            headers=await at_current_version(client, owner, draft["id"]),
        )
    ).status_code == 204


async def test_an_assistant_creates_edits_and_moves_but_does_not_dispose_or_delete(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ann = await add_user(client, owner, "ann@assetco.example.com")
    cat = await category(client, ann)
    created = await asset(client, ann, cat)
    etag = (await client.get(f"{API}/assets/{created['id']}", headers=ann.headers)).headers["etag"]
    edited = await client.patch(
        f"{API}/assets/{created['id']}",
        json={"name": "Edge server"},
        headers=ann.headers | {"If-Match": etag},
    )
    assert edited.status_code == 200
    keeper = await post(
        client, ann, "/custodians", {"name": "Lee", "email": "lee@assetco.example.com"}
    )
    moved = await client.post(
        f"{API}/assets/{created['id']}/transfer",
        json={"custodian_id": keeper["id"], "on": "2026-02-01"},
        headers=await at_current_version(client, ann, created["id"]),
    )
    assert moved.status_code == 200, moved.text
    disposal = await dispose(client, ann, created["id"], {"on": "2026-06-30", "method": "scrap"})
    assert problem_code(disposal) == "permission_denied"
    draft = await asset(client, ann, cat, in_service_date=None)
    deletion = await client.delete(f"{API}/assets/{draft['id']}", headers=ann.headers)
    assert problem_code(deletion) == "permission_denied"


async def test_another_tenants_assets_do_not_exist(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await asset(client, owner, await category(client, owner))
    other = await signup(client, "intruder")
    asset_url = f"{API}/assets/{created['id']}"
    for method, path, body in (
        ("GET", "", None),
        ("PATCH", "", {"name": "x"}),
        ("DELETE", "", None),
        ("GET", "/history", None),
        ("GET", "/schedule", None),
        ("GET", "/book-value?as_of=2026-06-30", None),
        ("POST", "/transfer", {"on": "2026-02-01", "custodian_id": created["id"]}),
        ("POST", "/maintenance", {"started_on": "2026-02-01"}),
        ("POST", "/dispose", {"on": "2026-06-30", "method": "scrap"}),
        ("POST", "/usage", {"period": "2026-06-01", "units": "1"}),
    ):
        response = await client.request(
            method, asset_url + path, json=body, headers=other.headers | {"If-Match": '"1"'}
        )
        assert response.status_code == 404, (method, path, response.text)


async def test_an_asset_cannot_point_at_another_tenants_rows(
    client: httpx.AsyncClient, owner: Account
) -> None:
    other = await signup(client, "elsewhere")
    their_category = await category(client, other)
    their_site = await post(client, other, "/locations", {"name": "Far", "kind": "site"})
    mine = await category(client, owner)
    foreign_category = await client.post(
        f"{API}/assets",
        json={
            "name": "X",
            "category_id": their_category,
            "acquisition_date": "2026-01-01",
            "cost": "1.00",
            "currency": "EUR",
        },
        headers=owner.headers,
    )
    assert foreign_category.status_code == 404
    foreign_location = await client.post(
        f"{API}/assets",
        json={
            "name": "X",
            "category_id": mine,
            "location_id": their_site["id"],
            "acquisition_date": "2026-01-01",
            "cost": "1.00",
            "currency": "EUR",
        },
        headers=owner.headers,
    )
    # Under row security another tenant's location is absent, as its category was.
    assert foreign_location.status_code == 404


async def test_the_register_sums_per_asset_and_category_as_of_a_date(
    client: httpx.AsyncClient, owner: Account
) -> None:
    it = await category(client, owner)
    cars = await category(
        client, owner, name="Vehicles", useful_life_months=48, salvage_percent="0"
    )
    await asset(client, owner, it)  # 150.00 a month from January 2026
    await asset(client, owner, cars, name="Van", cost="4800.00")  # 100.00 a month
    sold = await asset(client, owner, it, name="Old laptop")
    sale = await dispose(
        client, owner, sold["id"], {"on": "2026-03-31", "method": "sale", "proceeds": "10.00"}
    )
    assert sale.status_code == 200, sale.text
    other = await signup(client, "registerother")
    await asset(client, other, await category(client, other))

    report = (
        await client.get(
            f"{API}/assets/register", params={"as_of": "2026-06-30"}, headers=owner.headers
        )
    ).json()
    held = [a["name"] for a in report["assets"] if a["held"]]
    assert held == ["Server", "Van"]  # the sold laptop is not held; other tenants' never here
    sold_row = next(a for a in report["assets"] if not a["held"])
    # Sold within the period: no cost or book value, but its January-March charge counts.
    assert (sold_row["cost"], sold_row["depreciation_in_period"]) == ("0.00", "450.00")
    server = report["assets"][0]
    assert (server["cost"], server["accumulated_depreciation"], server["net_book_value"]) == (
        "10000.00",
        "900.00",
        "9100.00",
    )
    assert server["depreciation_in_period"] == "900.00"  # January to June
    totals = report["totals"]["EUR"]
    assert totals["cost"] == "14800.00"
    assert totals["accumulated_depreciation"] == "1500.00"
    assert totals["depreciation_in_period"] == "1950.00"  # 900 + 600 + the sold 450
    assert sorted(c["category"] for c in report["categories"]) == ["IT equipment", "Vehicles"]

    later = (
        await client.get(
            f"{API}/assets/register",
            params={"as_of": "2027-03-31", "period_start": "2027-01-01"},
            headers=owner.headers,
        )
    ).json()
    assert later["assets"][0]["depreciation_in_period"] == "450.00"
    mid_month = await client.get(
        f"{API}/assets/register",
        params={"as_of": "2026-06-30", "period_start": "2026-03-15"},
        headers=owner.headers,
    )
    assert mid_month.json()["period_start"] == "2026-03-01"  # a date stands for its month
    backwards = await client.get(
        f"{API}/assets/register",
        params={"as_of": "2026-06-30", "period_start": "2026-09-01"},
        headers=owner.headers,
    )
    assert problem_code(backwards) == "period_after_as_of"

    csv_response = await client.get(
        f"{API}/assets/register.csv", params={"as_of": "2026-06-30"}, headers=owner.headers
    )
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    lines = csv_response.text.strip().splitlines()
    assert lines[0].startswith("tag,name,category")
    assert len(lines) == 4
    assert "9100.00" in lines[1]


CSV_HEADER = "tag,name,category,acquisition_date,in_service_date,cost,currency\n"


async def test_an_import_with_a_bad_row_imports_nothing_and_reports_each_row(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await category(client, owner)
    text = CSV_HEADER + (
        "T-1,Laptop,IT equipment,2026-01-02,2026-01-05,1200.00,EUR\n"
        "T-2,Phone,No such category,2026-01-02,,300.00,EUR\n"
        "T-3,Desk,IT equipment,not a date,,10.00,EUR\n"
        "T-1,Twin,IT equipment,2026-01-02,,10.00,EUR\n"
    )
    response = await import_csv(client, owner, text)
    assert response.status_code == 422
    assert problem_code(response) == "csv_rows_invalid"
    failed = {row["line"]: row["errors"] for row in response.json()["rows"]}
    assert sorted(failed) == [3, 4, 5]
    assert "category" in failed[3][0]
    assert failed[4][0].startswith("acquisition_date")
    assert "twice" in failed[5][0]
    listed = (await client.get(f"{API}/assets", headers=owner.headers)).json()["items"]
    assert listed == []


async def test_a_partial_import_takes_the_valid_rows_and_a_second_run_skips_them(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await category(client, owner)
    text = CSV_HEADER + (
        "T-1,Laptop,IT equipment,2026-01-02,2026-01-05,1200.00,EUR\n"
        "T-2,Phone,No such category,2026-01-02,,300.00,EUR\n"
        ",Chair,IT equipment,2026-01-02,,80.00,EUR\n"
    )
    first = (await import_csv(client, owner, text, partial="true")).json()
    assert (first["imported"], first["skipped"], first["failed"]) == (2, 0, 1)
    again = (
        await import_csv(
            client,
            owner,
            CSV_HEADER + "T-1,Laptop,IT equipment,2026-01-02,2026-01-05,1200.00,EUR\n",
        )
    ).json()
    assert (again["imported"], again["skipped"]) == (0, 1)
    laptop = next(
        a
        for a in (await client.get(f"{API}/assets", headers=owner.headers)).json()["items"]
        if a["tag"] == "T-1"
    )
    assert laptop["salvage_value"] == "120.00"  # from the category, as a single creation


async def test_a_csv_without_the_required_columns_is_refused(
    client: httpx.AsyncClient, owner: Account
) -> None:
    response = await import_csv(client, owner, "name,cost\nX,1.00\n")
    assert problem_code(response) == "csv_columns_missing"


async def test_units_of_production_follows_recorded_usage(
    client: httpx.AsyncClient, owner: Account
) -> None:
    cat = await category(
        client,
        owner,
        name="Machines",
        depreciation_method="units_of_production",
        salvage_percent="0",
    )
    press = await asset(client, owner, cat, name="Press", cost="10000.00", total_units="1000")
    for period, units in (("2026-01-01", "100"), ("2026-02-15", "250")):
        response = await client.post(
            f"{API}/assets/{press['id']}/usage",
            json={"period": period, "units": units},
            headers=owner.headers,
        )
        assert response.status_code == 204, response.text
    schedule = (
        await client.get(f"{API}/assets/{press['id']}/schedule", headers=owner.headers)
    ).json()
    assert [row["depreciation"] for row in schedule] == ["1000.00", "2500.00"]
    value = await client.get(
        f"{API}/assets/{press['id']}/book-value",
        params={"as_of": "2026-02-28"},
        headers=owner.headers,
    )
    assert value.json()["book_value"] == "6500.00"
    not_by_use = await asset(client, owner, await category(client, owner, name="Other"))
    refused = await client.post(
        f"{API}/assets/{not_by_use['id']}/usage",
        json={"period": "2026-01-01", "units": "1"},
        headers=owner.headers,
    )
    assert problem_code(refused) == "not_units_of_production"


async def test_the_list_filters_and_searches(client: httpx.AsyncClient, owner: Account) -> None:
    it = await category(client, owner)
    cars = await category(client, owner, name="Vehicles")
    site = await post(client, owner, "/locations", {"name": "Depot", "kind": "site"})
    laptop = await asset(client, owner, it, name="Laptop", serial_number="SN-42")
    van = await asset(
        client,
        owner,
        cars,
        name="Van",
        location_id=site["id"],
        acquisition_date="2025-05-01",
        in_service_date=None,
    )

    async def names(**params: str) -> list[str]:
        response = await client.get(f"{API}/assets", params=params, headers=owner.headers)
        return sorted(a["name"] for a in response.json()["items"])

    assert await names(category_id=cars) == ["Van"]
    assert await names(location_id=site["id"]) == ["Van"]
    assert await names(status="draft") == ["Van"]
    assert await names(acquired_from="2026-01-01") == ["Laptop"]
    assert await names(q="sn-4") == ["Laptop"]
    assert await names(q=van["tag"]) == ["Van"]
    assert laptop["tag"] != van["tag"]
