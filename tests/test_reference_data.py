"""Categories, locations and custodians are whole: read one, update it at the version
read (If-Match), deactivate it (kept by the assets that use it, refused to new ones, by
the database too); untagged asset imports are idempotent; CSV booleans read true/false."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import asyncpg
import httpx
import pytest

from ledgerline.config import Settings
from tests.helpers.assets import asset, at_current_version, category, import_csv, post
from tests.helpers.audit import audit_events
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, signup

REFERENCE_PATHS = ("/asset-categories", "/locations", "/custodians")


async def etag_of(client: httpx.AsyncClient, who: Account, path: str) -> str:
    response = await client.get(f"{API}{path}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def patch(
    client: httpx.AsyncClient, who: Account, path: str, body: dict[str, Any], etag: str | None
) -> httpx.Response:
    headers = who.headers | ({"If-Match": etag} if etag else {})
    return await client.patch(f"{API}{path}", json=body, headers=headers)


async def deactivate(client: httpx.AsyncClient, who: Account, path: str) -> httpx.Response:
    etag = await etag_of(client, who, path)
    return await client.delete(f"{API}{path}", headers=who.headers | {"If-Match": etag})


async def site_building_room(client: httpx.AsyncClient, who: Account) -> tuple[str, str, str]:
    site = await post(client, who, "/locations", {"name": "Berlin", "kind": "site"})
    building = await post(
        client, who, "/locations", {"name": "HQ", "kind": "building", "parent_id": site["id"]}
    )
    room = await post(
        client, who, "/locations", {"name": "R1", "kind": "room", "parent_id": building["id"]}
    )
    return site["id"], building["id"], room["id"]


async def test_each_kind_is_read_with_its_etag_and_updated_only_at_that_version(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category_id = await category(client, owner)
    site, _, _ = await site_building_room(client, owner)
    custodian = await post(client, owner, "/custodians", {"name": "Kim", "email": "k@x.example"})
    changes = {
        f"/asset-categories/{category_id}": {"name": "IT"},
        f"/locations/{site}": {"name": "Berlin-Mitte"},
        f"/custodians/{custodian['id']}": {"name": "Kim Lee"},
    }
    for path, body in changes.items():
        read = await client.get(f"{API}{path}", headers=owner.headers)
        assert read.status_code == 200, read.text
        assert read.headers["etag"] == '"1"'
        assert read.json()["is_active"] is True

        without = await patch(client, owner, path, body, None)
        assert (without.status_code, problem_code(without)) == (428, "if_match_required")
        stale = await patch(client, owner, path, body, '"7"')
        assert (stale.status_code, problem_code(stale)) == (412, "version_conflict")

        updated = await patch(client, owner, path, body, read.headers["etag"])
        assert updated.status_code == 200, updated.text
        assert updated.headers["etag"] == '"2"'
        assert updated.json()["name"] == body["name"]
        again = await patch(client, owner, path, body, read.headers["etag"])
        assert again.status_code == 412

    events = await audit_events(client, owner)
    assert {e["action"] for e in events} >= {
        "asset_category.updated",
        "location.updated",
        "custodian.updated",
    }
    renamed = next(e for e in events if e["action"] == "location.updated")
    assert renamed["changes"] == {"name": {"before": "Berlin", "after": "Berlin-Mitte"}}


async def test_a_foreign_or_missing_row_is_404(client: httpx.AsyncClient, owner: Account) -> None:
    other = await signup(client, "elsewhere")
    theirs = await category(client, other)
    for path in (f"/asset-categories/{theirs}", "/locations/" + theirs, "/custodians/" + theirs):
        assert (await client.get(f"{API}{path}", headers=owner.headers)).status_code == 404
        gone = await client.delete(f"{API}{path}", headers=owner.headers | {"If-Match": "*"})
        assert gone.status_code == 404


async def test_new_category_defaults_apply_to_new_assets_only(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category_id = await category(client, owner, useful_life_months=60)
    before = await asset(client, owner, category_id)
    path = f"/asset-categories/{category_id}"
    changed = await patch(
        client, owner, path, {"useful_life_months": 36}, await etag_of(client, owner, path)
    )
    assert changed.status_code == 200, changed.text
    after = await asset(client, owner, category_id, name="Laptop")
    kept = await client.get(f"{API}/assets/{before['id']}", headers=owner.headers)
    assert (kept.json()["useful_life_months"], after["useful_life_months"]) == (60, 36)

    rate_without_method = await patch(
        client, owner, path, {"declining_rate": "0.2"}, changed.headers["etag"]
    )
    assert problem_code(rate_without_method) == "invalid_depreciation"
    await category(client, owner, name="Vehicles")
    taken = await patch(client, owner, path, {"name": "Vehicles"}, changed.headers["etag"])
    assert (taken.status_code, problem_code(taken)) == (409, "asset_category_exists")
    null_name = await patch(client, owner, path, {"name": None}, changed.headers["etag"])
    assert null_name.status_code == 422


async def test_a_deactivated_category_stays_on_its_assets_and_refuses_new_ones(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category_id = await category(client, owner)
    held = await asset(client, owner, category_id)
    path = f"/asset-categories/{category_id}"

    assert (await deactivate(client, owner, path)).status_code == 204
    assert (await deactivate(client, owner, path)).status_code == 204  # nothing more happens
    read = await client.get(f"{API}{path}", headers=owner.headers)
    assert read.json()["is_active"] is False
    kept = await client.get(f"{API}/assets/{held['id']}", headers=owner.headers)
    assert kept.json()["category_id"] == category_id

    refused = await client.post(
        f"{API}/assets",
        json={
            "name": "New",
            "category_id": category_id,
            "acquisition_date": "2026-01-01",
            "cost": "100.00",
            "currency": "EUR",
        },
        headers=owner.headers,
    )
    assert (refused.status_code, problem_code(refused)) == (409, "category_inactive")
    inactive = await client.get(
        f"{API}/asset-categories", params={"is_active": "false"}, headers=owner.headers
    )
    assert [c["id"] for c in inactive.json()["items"]] == [category_id]
    active = await client.get(
        f"{API}/asset-categories", params={"is_active": "true"}, headers=owner.headers
    )
    assert active.json()["items"] == []
    deactivations = await audit_events(client, owner, action="asset_category.deactivated")
    assert [e["target_id"] for e in deactivations] == [category_id]

    reactivated = await patch(client, owner, path, {"is_active": True}, read.headers["etag"])
    assert reactivated.status_code == 200, reactivated.text
    assert (await asset(client, owner, category_id, name="New"))["category_id"] == category_id


async def test_an_assistant_updates_but_does_not_deactivate(
    client: httpx.AsyncClient, owner: Account
) -> None:
    assistant = await add_user(client, owner, "amy@ownerco.example.com")
    category_id = await category(client, owner)
    path = f"/asset-categories/{category_id}"
    etag = await etag_of(client, assistant, path)
    assert (await patch(client, assistant, path, {"name": "IT"}, etag)).status_code == 200
    refused = await deactivate(client, assistant, path)
    assert (refused.status_code, problem_code(refused)) == (403, "permission_denied")


async def test_locations_move_within_the_tree_and_deactivate_from_the_leaves(
    client: httpx.AsyncClient, owner: Account
) -> None:
    site, building, room = await site_building_room(client, owner)
    other_building = await post(
        client, owner, "/locations", {"name": "Annex", "kind": "building", "parent_id": site}
    )
    room_path = f"/locations/{room}"
    moved = await patch(
        client,
        owner,
        room_path,
        {"parent_id": other_building["id"]},
        await etag_of(client, owner, room_path),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_id"] == other_building["id"]
    in_a_site = await patch(client, owner, room_path, {"parent_id": site}, moved.headers["etag"])
    assert problem_code(in_a_site) == "invalid_location_parent"
    site_path = f"/locations/{site}"
    site_with_parent = await patch(
        client, owner, site_path, {"parent_id": building}, await etag_of(client, owner, site_path)
    )
    assert problem_code(site_with_parent) == "invalid_location_parent"

    annex_path = f"/locations/{other_building['id']}"
    busy = await deactivate(client, owner, annex_path)
    assert (busy.status_code, problem_code(busy)) == (409, "location_has_active_children")
    assert busy.json()["child_location_id"] == room
    assert (await deactivate(client, owner, room_path)).status_code == 204
    assert (await deactivate(client, owner, annex_path)).status_code == 204
    no_child = await client.post(
        f"{API}/locations",
        json={"name": "R2", "kind": "room", "parent_id": other_building["id"]},
        headers=owner.headers,
    )
    assert (no_child.status_code, problem_code(no_child)) == (409, "parent_location_inactive")


async def test_nothing_moves_to_a_deactivated_location_or_custodian(
    client: httpx.AsyncClient, owner: Account
) -> None:
    site, building, room = await site_building_room(client, owner)
    kim = await post(client, owner, "/custodians", {"name": "Kim", "email": "kim@x.example"})
    held = await asset(client, owner, await category(client, owner), location_id=building)
    assert (await deactivate(client, owner, f"/locations/{room}")).status_code == 204
    assert (await deactivate(client, owner, f"/custodians/{kim['id']}")).status_code == 204

    for body, code in (
        ({"location_id": room}, "location_inactive"),
        ({"custodian_id": kim["id"]}, "custodian_inactive"),
    ):
        moved = await client.post(
            f"{API}/assets/{held['id']}/transfer",
            json=body | {"on": "2026-02-01"},
            headers=await at_current_version(client, owner, held["id"]),
        )
        assert (moved.status_code, problem_code(moved)) == (409, code), body
    elsewhere = await client.post(
        f"{API}/assets/{held['id']}/transfer",
        json={"location_id": site, "on": "2026-02-01"},
        headers=await at_current_version(client, owner, held["id"]),
    )
    assert elsewhere.status_code == 200, elsewhere.text


async def test_the_database_refuses_new_references_to_inactive_rows(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    """Past the service: an UPDATE or INSERT naming an inactive row fails in PostgreSQL,
    while a row that named it before keeps it through other changes."""
    category_id = await category(client, owner)
    _, _, room = await site_building_room(client, owner)
    inside = await asset(client, owner, category_id, location_id=room)
    outside = await asset(client, owner, category_id, name="Laptop")
    await deactivate(client, owner, f"/locations/{room}")
    with pytest.raises(asyncpg.CheckViolationError, match=r"location .* is inactive"):
        await owner_sql(
            settings,
            owner.tenant_id,
            "UPDATE assets SET location_id = $1::uuid WHERE id = $2::uuid",
            room,
            outside["id"],
        )
    with pytest.raises(asyncpg.CheckViolationError, match=r"parent location .* is inactive"):
        await owner_sql(
            settings,
            owner.tenant_id,
            "INSERT INTO locations (tenant_id, id, name, kind, parent_id)"
            " VALUES ($1, gen_random_uuid(), 'R9', 'room', $2::uuid)",
            owner.tenant_id,
            room,
        )
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE assets SET name = 'Server (old)', location_id = $1::uuid WHERE id = $2::uuid",
        room,
        inside["id"],
    )


async def test_a_custodian_keeps_a_way_to_reach_them(
    client: httpx.AsyncClient, owner: Account
) -> None:
    kim = await post(client, owner, "/custodians", {"name": "Kim", "email": "kim@x.example"})
    path = f"/custodians/{kim['id']}"
    etag = await etag_of(client, owner, path)
    unreachable = await patch(client, owner, path, {"email": None}, etag)
    assert (unreachable.status_code, problem_code(unreachable)) == (422, "custodian_unreachable")
    to_user = await patch(client, owner, path, {"user_id": str(owner.user_id), "email": None}, etag)
    assert to_user.status_code == 200, to_user.text
    assert (to_user.json()["user_id"], to_user.json()["email"]) == (str(owner.user_id), None)


UNTAGGED = (
    "name,category,acquisition_date,cost,currency\n"
    "Chair,IT equipment,2026-01-05,120.00,EUR\n"
    "Chair,IT equipment,2026-01-05,120,EUR\n"  # the same chair: a second one
    "Desk,IT equipment,2026-01-05,480.00,EUR\n"
)


async def assets_named(client: httpx.AsyncClient, who: Account) -> list[str]:
    listed = await client.get(f"{API}/assets", params={"limit": 100}, headers=who.headers)
    return sorted(a["name"] for a in listed.json()["items"])


async def test_an_untagged_import_sent_again_creates_nothing(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await category(client, owner)
    first = await import_csv(client, owner, UNTAGGED)
    assert first.status_code == 200, first.text
    assert (first.json()["imported"], first.json()["skipped"]) == (3, 0)

    again = await import_csv(client, owner, UNTAGGED)
    assert (again.json()["imported"], again.json()["skipped"]) == (0, 3)
    tags = {row["tag"] for row in first.json()["rows"]}
    assert {row["tag"] for row in again.json()["rows"]} == tags
    assert {row["reason"] for row in again.json()["rows"]} == {"imported before"}

    # A third chair in the file is one more asset; a changed row is a new one too.
    grown = UNTAGGED + "Chair,IT equipment,2026-01-05,120.00,EUR\n"
    grown += "Desk,IT equipment,2026-01-05,490.00,EUR\n"
    third = await import_csv(client, owner, grown)
    assert (third.json()["imported"], third.json()["skipped"]) == (2, 3)
    assert await assets_named(client, owner) == ["Chair"] * 3 + ["Desk"] * 2


async def test_the_same_file_imported_twice_at_once_is_created_once(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await category(client, owner)
    answers = await asyncio.gather(*(import_csv(client, owner, UNTAGGED) for _ in range(2)))
    assert sorted(a.json()["imported"] for a in answers) == [0, 3], [a.text for a in answers]
    assert await assets_named(client, owner) == ["Chair", "Chair", "Desk"]


async def test_a_deactivated_category_fails_its_import_rows(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category_id = await category(client, owner)
    await deactivate(client, owner, f"/asset-categories/{category_id}")
    refused = await import_csv(client, owner, UNTAGGED)
    assert problem_code(refused) == "csv_rows_invalid"
    assert refused.json()["rows"][0]["errors"] == ["category: 'IT equipment' is deactivated"]


async def test_the_register_csv_says_true_and_false(
    client: httpx.AsyncClient, owner: Account
) -> None:
    category_id = await category(client, owner)
    await asset(client, owner, category_id, name="=HYPERLINK(0)")
    sold = await asset(client, owner, category_id, name="Sold")
    disposed = await client.post(
        f"{API}/assets/{sold['id']}/dispose",
        json={"on": "2026-03-31", "method": "sale", "proceeds": "9000.00"},
        headers=await at_current_version(client, owner, sold["id"]),
    )
    assert disposed.status_code == 200, disposed.text
    answer = await client.get(
        f"{API}/assets/register.csv", params={"as_of": "2026-06-30"}, headers=owner.headers
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {row["name"]: row["held"] for row in rows} == {"'=HYPERLINK(0)": "true", "Sold": "false"}
    assert rows[0]["cost"] == "10000.00"
