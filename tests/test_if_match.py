"""If-Match as RFC 9110 reads it: `*`, lists of ETags, strong comparison only."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from ledgerline.etags import if_match_matches
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account


async def vendor_url(client: httpx.AsyncClient, owner: Account) -> str:
    created = await client.post(
        f"{API}/vendors",
        json={"name": "Paper GmbH", "default_currency": "EUR"},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    return f"{API}/vendors/{created.json()['id']}"


async def rename(
    client: httpx.AsyncClient, owner: Account, url: str, if_match: str, name: str = "Renamed"
) -> httpx.Response:
    return await client.patch(
        url, json={"name": name}, headers=owner.headers | {"If-Match": if_match}
    )


async def test_a_star_matches_the_current_version(
    client: httpx.AsyncClient, owner: Account
) -> None:
    url = await vendor_url(client, owner)
    for version in (2, 3):
        changed = await rename(client, owner, url, "*", name=f"Name {version}")
        assert changed.status_code == 200, changed.text
        assert changed.headers["etag"] == f'"{version}"'


async def test_a_list_matches_when_one_member_is_the_current_etag(
    client: httpx.AsyncClient, owner: Account
) -> None:
    url = await vendor_url(client, owner)
    changed = await rename(client, owner, url, '"7", "1"')
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Renamed"
    assert changed.headers["etag"] == '"2"'
    also = await rename(client, owner, url, '"2","9"', name="Again")
    assert also.status_code == 200, also.text


async def test_a_list_without_the_current_etag_is_412(
    client: httpx.AsyncClient, owner: Account
) -> None:
    url = await vendor_url(client, owner)
    stale = await rename(client, owner, url, '"2", "3"')
    assert stale.status_code == 412
    assert problem_code(stale) == "version_conflict"
    assert stale.json()["current_etag"] == '"1"'
    assert (await client.get(url, headers=owner.headers)).json()["name"] == "Paper GmbH"


async def test_a_weak_etag_never_matches(client: httpx.AsyncClient, owner: Account) -> None:
    """If-Match compares strongly (RFC 9110, 13.1.1): W/"1" is not "1"."""
    url = await vendor_url(client, owner)
    for weak in ('W/"1"', 'W/"1", "5"'):
        refused = await rename(client, owner, url, weak)
        assert refused.status_code == 412, weak
        assert problem_code(refused) == "version_conflict"


async def test_if_match_lines_are_one_list(client: httpx.AsyncClient, owner: Account) -> None:
    url = await vendor_url(client, owner)
    headers = [*owner.headers.items(), ("If-Match", '"5"'), ("If-Match", '"1"')]
    changed = await client.patch(url, json={"name": "Renamed"}, headers=headers)
    assert changed.status_code == 200, changed.text


async def test_without_if_match_a_change_is_428(client: httpx.AsyncClient, owner: Account) -> None:
    url = await vendor_url(client, owner)
    missing = await client.patch(url, json={"name": "Renamed"}, headers=owner.headers)
    assert missing.status_code == 428
    assert problem_code(missing) == "if_match_required"
    assert problem_code(await client.delete(url, headers=owner.headers)) == "if_match_required"


async def test_a_star_does_not_match_a_missing_row(
    client: httpx.AsyncClient, owner: Account
) -> None:
    await vendor_url(client, owner)
    missing = f"{API}/vendors/{uuid4()}"
    gone = await client.delete(missing, headers=owner.headers | {"If-Match": "*"})
    assert gone.status_code == 404
    assert problem_code(gone) == "vendor_not_found"


async def test_an_invoice_step_takes_a_star_and_lists(
    client: httpx.AsyncClient, owner: Account
) -> None:
    vendor = await client.post(
        f"{API}/vendors",
        json={"name": "Paper GmbH", "default_currency": "EUR"},
        headers=owner.headers,
    )
    lines = [{"description": "Paper", "quantity": "1", "unit_price": "10.00", "tax_rate": "0"}]
    created = await client.post(
        f"{API}/invoices",
        json={
            "vendor_id": vendor.json()["id"],
            "number": "INV-1",
            "issue_date": "2026-03-01",
            "lines": lines,
        },
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    url = f"{API}/invoices/{created.json()['id']}"
    current = created.headers["etag"]

    stale = await client.post(f"{url}/submit", headers=owner.headers | {"If-Match": '"0", "99"'})
    assert stale.status_code == 412
    submitted = await client.post(
        f"{url}/submit", headers=owner.headers | {"If-Match": f'"0", {current}'}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["lines"][0]["description"] == "Paper"
    approved = await client.post(f"{url}/approve", headers=owner.headers | {"If-Match": "*"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.headers["etag"] != submitted.headers["etag"]


@pytest.mark.parametrize(
    ("if_match", "matches"),
    [
        ("*", True),
        (" * ", True),
        ('"3"', True),
        (' "3" ', True),
        ('"1", "3"', True),
        ('"1",,"3"', True),
        ("", False),
        ("3", False),
        ('"33"', False),
        ('W/"3"', False),
        ('"1", W/"3"', False),
    ],
)
def test_the_if_match_grammar(if_match: str, matches: bool) -> None:
    assert if_match_matches(if_match, 3) is matches
