"""The invoice list: every filter, every order, keyset pages stable under the order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers.http import API, all_pages, problem_code
from tests.helpers.identity import Account
from tests.helpers.invoices import invoice, step, vendor


def line(price: str) -> list[dict[str, str]]:
    return [{"description": "Goods", "quantity": "1", "unit_price": price}]


async def seed(client: httpx.AsyncClient, owner: Account) -> dict[str, str]:
    """Seven invoices of two vendors; totals with ties, so the id breaks them."""
    paper = await vendor(client, owner, "Paper GmbH")
    ink = await vendor(client, owner, "Ink & Co_")
    ids: dict[str, str] = {}
    specs = [
        ("P-1", paper, "2026-01-05", "100.00"),
        ("P-2", paper, "2026-01-20", "250.00"),
        ("P-3", paper, "2026-02-10", "100.00"),
        ("I-1", ink, "2026-01-05", "75.50"),
        ("I-2", ink, "2026-03-01", "100.00"),
        ("I-3", ink, "2026-03-15", "999.99"),
        ("I-4", ink, "2026-02-01", "0.01"),
    ]
    for number, vendor_id, issued, price in specs:
        created = await invoice(
            client, owner, vendor_id, number=number, issue_date=issued, lines=line(price)
        )
        assert created.status_code == 201, created.text
        ids[number] = created.json()["id"]
    await step(client, owner, ids["P-2"], "submit")
    await step(client, owner, ids["I-3"], "submit")
    return ids


async def numbers(client: httpx.AsyncClient, owner: Account, **params: Any) -> list[str]:
    pages = await all_pages(client, f"{API}/invoices", owner.headers, limit=2, **params)
    return [item["number"] for page in pages for item in page]


async def test_filters_narrow_the_list(client: httpx.AsyncClient, owner: Account) -> None:
    ids = await seed(client, owner)
    assert set(await numbers(client, owner, status="submitted")) == {"P-2", "I-3"}
    assert set(await numbers(client, owner, total_min="100.00", total_max="250.00")) == {
        "P-1",
        "P-2",
        "P-3",
        "I-2",
    }
    assert set(
        await numbers(client, owner, issue_date_from="2026-01-20", issue_date_to="2026-02-10")
    ) == {"P-2", "P-3", "I-4"}
    # Due dates are the issue date + 14 days (the vendor's terms).
    assert set(await numbers(client, owner, due_date_to="2026-01-19")) == {"P-1", "I-1"}
    assert set(await numbers(client, owner, q="paper")) == {"P-1", "P-2", "P-3"}
    assert set(await numbers(client, owner, q="I-")) == {"I-1", "I-2", "I-3", "I-4"}
    # Wildcards in the search are literal: "_" matches the vendor "Ink & Co_" only.
    assert set(await numbers(client, owner, q="co_")) == {"I-1", "I-2", "I-3", "I-4"}
    assert await numbers(client, owner, q="%") == []
    assert set(await numbers(client, owner, overdue="true")) == {"P-2", "I-3"}
    vendor_id = (await client.get(f"{API}/invoices/{ids['P-1']}", headers=owner.headers)).json()[
        "vendor_id"
    ]
    assert len(await numbers(client, owner, vendor_id=vendor_id)) == 3
    bad = await client.get(f"{API}/invoices", params={"total_min": "1.001"}, headers=owner.headers)
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("total", ["I-4", "I-1", "P-1", "P-3", "I-2", "P-2", "I-3"]),
        ("-total", ["I-3", "P-2", "I-2", "P-3", "P-1", "I-1", "I-4"]),
        ("issue_date", ["P-1", "I-1", "P-2", "I-4", "P-3", "I-2", "I-3"]),
        ("-due_date", ["I-3", "I-2", "P-3", "I-4", "P-2", "I-1", "P-1"]),
        ("created", ["P-1", "P-2", "P-3", "I-1", "I-2", "I-3", "I-4"]),
        ("-created", ["I-4", "I-3", "I-2", "I-1", "P-3", "P-2", "P-1"]),
    ],
)
async def test_every_order_pages_through_each_invoice_once(
    client: httpx.AsyncClient, owner: Account, sort: str, expected: list[str]
) -> None:
    await seed(client, owner)
    # Ties (three totals of 100.00, two issue dates of 2026-01-05) fall back to the id,
    # ascending with an ascending key and descending with a descending one.
    assert await numbers(client, owner, sort=sort) == expected


async def test_an_invoice_added_meanwhile_does_not_shift_the_pages(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ids = await seed(client, owner)
    first = await client.get(
        f"{API}/invoices", params={"sort": "total", "limit": 3}, headers=owner.headers
    )
    assert [i["number"] for i in first.json()["items"]] == ["I-4", "I-1", "P-1"]
    vendor_id = (await client.get(f"{API}/invoices/{ids['P-1']}", headers=owner.headers)).json()[
        "vendor_id"
    ]
    await invoice(client, owner, vendor_id, number="P-0", lines=line("0.02"))
    rest = await client.get(
        f"{API}/invoices",
        params={"sort": "total", "limit": 10, "cursor": first.json()["next_cursor"]},
        headers=owner.headers,
    )
    assert [i["number"] for i in rest.json()["items"]] == ["P-3", "I-2", "P-2", "I-3"]


async def test_cursors_belong_to_their_order(client: httpx.AsyncClient, owner: Account) -> None:
    await seed(client, owner)
    by_total = await client.get(
        f"{API}/invoices", params={"sort": "total", "limit": 2}, headers=owner.headers
    )
    cursor = by_total.json()["next_cursor"]
    for params in (
        {"sort": "-total", "cursor": cursor},
        {"cursor": cursor},
        {"sort": "total", "cursor": "bm90IGpzb24"},
        {"sort": "total", "cursor": "!!"},
    ):
        answer = await client.get(f"{API}/invoices", params=params, headers=owner.headers)
        assert problem_code(answer) == "invalid_cursor", params
    unknown = await client.get(f"{API}/invoices", params={"sort": "notes"}, headers=owner.headers)
    assert problem_code(unknown) == "invalid_sort"
