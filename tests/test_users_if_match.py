"""Deactivating and unlocking a user take If-Match, like every change of a versioned row."""

from __future__ import annotations

from uuid import UUID

import httpx
import pytest

from ledgerline.config import Settings
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, add_user, login, signup

WRONG = "this is not the passphrase"

CHANGES = pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/users/{user_id}"), ("POST", "/users/{user_id}/unlock")],
    ids=["deactivate", "unlock"],
)


async def locked_assistant(client: httpx.AsyncClient, settings: Settings) -> tuple[Account, UUID]:
    """An owner, and an assistant of the owner's tenant locked out by failed logins."""
    owner = await signup(client, "matchco")
    ann = await add_user(client, owner, "ann@matchco.example.com")
    for _ in range(settings.lockout_threshold):
        await login(client, owner.tenant_id, ann.email, WRONG)
    return owner, ann.user_id


async def read(client: httpx.AsyncClient, owner: Account, user_id: UUID) -> httpx.Response:
    response = await client.get(f"{API}/users/{user_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response


@CHANGES
async def test_without_if_match_it_is_428_and_nothing_changes(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    owner, ann = await locked_assistant(client, settings)
    before = await read(client, owner, ann)
    assert before.json()["is_active"] is True
    assert before.json()["locked_until"] is not None

    response = await client.request(method, API + path.format(user_id=ann), headers=owner.headers)
    assert response.status_code == 428, response.text
    assert problem_code(response) == "if_match_required"

    after = await read(client, owner, ann)
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]


@CHANGES
async def test_with_a_stale_etag_it_is_412_and_nothing_changes(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    owner, ann = await locked_assistant(client, settings)
    stale = (await read(client, owner, ann)).headers["etag"]
    renamed = await client.patch(
        f"{API}/users/{ann}",
        json={"full_name": "Ann Archer"},
        headers={**owner.headers, "If-Match": stale},
    )
    assert renamed.status_code == 200, renamed.text
    before = await read(client, owner, ann)
    assert before.headers["etag"] != stale

    response = await client.request(
        method, API + path.format(user_id=ann), headers={**owner.headers, "If-Match": stale}
    )
    assert response.status_code == 412, response.text
    assert problem_code(response) == "version_conflict"
    assert response.json()["current_etag"] == before.headers["etag"]

    after = await read(client, owner, ann)
    assert after.json() == before.json()
    assert after.json()["is_active"] is True
    assert after.json()["locked_until"] is not None
    assert after.headers["etag"] == before.headers["etag"]
