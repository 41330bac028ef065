"""Defects the OpenAPI fuzz (tests/test_fuzz_openapi.py) found, each pinned through HTTP."""

from __future__ import annotations

import httpx

from tests.helpers.documents import PNG, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account


async def test_an_incomplete_draft_is_not_voided_but_refused_with_what_it_lacks(
    client: httpx.AsyncClient, owner: Account
) -> None:
    invoice_id = (await upload(client, owner, ("a.png", PNG))).json()["files"][0]["invoice_id"]
    url = f"{API}/invoices/{invoice_id}"
    etag = (await client.get(url, headers=owner.headers)).headers["etag"]
    void = await client.post(f"{url}/void", headers=owner.headers | {"If-Match": etag})
    assert void.status_code == 422, void.text
    assert problem_code(void) == "invoice_incomplete"
    assert void.json()["missing"] == ["vendor_id", "number", "issue_date", "due_date", "currency"]
    assert (await client.get(url, headers=owner.headers)).json()["status"] == "draft"
