"""Refresh rotation: spent tokens, reuse, races, lifetime, token types."""

from __future__ import annotations

import asyncio

import httpx

from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import bearer, login, signup


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_spends_the_presented_token(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "rot")
    first = await refresh(client, owner.refresh_token)
    assert first.status_code == 200, first.text
    new = first.json()
    assert new["refresh_token"] != owner.refresh_token
    assert new["refresh_token"].startswith(f"llr_{owner.tenant_id.hex}_")
    me = await client.get(f"{API}/users/me", headers=bearer(new["access_token"], owner.tenant_id))
    assert me.status_code == 200
    second = await refresh(client, new["refresh_token"])
    assert second.status_code == 200


async def test_reuse_right_after_rotation_is_refused_without_revoking(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "tabs")
    rotated = (await refresh(client, owner.refresh_token)).json()
    again = await refresh(client, owner.refresh_token)
    assert again.status_code == 409
    assert problem_code(again) == "refresh_token_just_rotated"
    assert (await refresh(client, rotated["refresh_token"])).status_code == 200


async def test_later_reuse_revokes_the_whole_family(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "thief")
    other_device = (await login(client, owner.tenant_id, owner.email)).json()
    rotated = (await refresh(client, owner.refresh_token)).json()
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE refresh_tokens SET spent_at = spent_at - interval '1 minute'"
        " WHERE spent_at IS NOT NULL",
    )
    replay = await refresh(client, owner.refresh_token)
    assert replay.status_code == 401
    assert problem_code(replay) == "refresh_token_reused"
    # The revocation was committed with the 401: the family's newest token is dead too.
    assert (await refresh(client, rotated["refresh_token"])).status_code == 401
    me = await client.get(
        f"{API}/users/me", headers=bearer(rotated["access_token"], owner.tenant_id)
    )
    assert me.status_code == 401
    # Another login of the same user (another family) is untouched.
    assert (await refresh(client, other_device["refresh_token"])).status_code == 200
    reasons = await owner_sql(
        settings, owner.tenant_id, "SELECT revoked_reason FROM auth_sessions ORDER BY created_at"
    )
    assert [r["revoked_reason"] for r in reasons] == ["reuse_detected", None]


async def test_concurrent_refreshes_with_one_token_have_exactly_one_winner(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "race")
    responses = await asyncio.gather(*(refresh(client, owner.refresh_token) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409, 409]
    winner = next(r for r in responses if r.status_code == 200).json()
    assert (await refresh(client, winner["refresh_token"])).status_code == 200


async def test_a_family_past_its_absolute_lifetime_cannot_refresh(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "old")
    await owner_sql(
        settings, owner.tenant_id, "UPDATE auth_sessions SET expires_at = now() - interval '1 s'"
    )
    response = await refresh(client, owner.refresh_token)
    assert response.status_code == 401
    assert problem_code(response) == "invalid_refresh_token"


async def test_access_and_refresh_tokens_are_not_interchangeable(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "swap")
    as_refresh = await refresh(client, owner.access_token)
    assert as_refresh.status_code == 401
    as_access = await client.get(
        f"{API}/users/me", headers=bearer(owner.refresh_token, owner.tenant_id)
    )
    assert as_access.status_code == 401


async def test_a_forged_or_tampered_refresh_token_is_refused(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "forge")
    for token in (owner.refresh_token[:-2] + "xx", "llr_nothex_abc", "lla_" + "a" * 43, "junk"):
        response = await refresh(client, token)
        assert response.status_code == 401, token
        assert problem_code(response) == "invalid_refresh_token"


async def test_the_refresh_token_is_stored_only_as_a_keyed_hash(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "hashed")
    rows = await owner_sql(settings, owner.tenant_id, "SELECT token_hash FROM refresh_tokens")
    assert len(rows) == 1
    stored = bytes(rows[0]["token_hash"])
    assert len(stored) == 32
    assert owner.refresh_token.encode() not in stored


async def test_an_older_token_is_no_race_even_within_the_grace_period(
    client: httpx.AsyncClient,
) -> None:
    """Only the token just replaced gets the grace; one two rotations back is a replay."""
    owner = await signup(client, "chain")
    second = (await refresh(client, owner.refresh_token)).json()
    third = (await refresh(client, second["refresh_token"])).json()
    replay = await refresh(client, owner.refresh_token)
    assert replay.status_code == 401
    assert problem_code(replay) == "refresh_token_reused"
    assert (await refresh(client, third["refresh_token"])).status_code == 401


async def test_a_suspended_tenant_cannot_refresh(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "frozen")
    await owner_sql(settings, owner.tenant_id, "UPDATE tenants SET status = 'suspended'")
    response = await refresh(client, owner.refresh_token)
    assert response.status_code == 403
    assert problem_code(response) == "tenant_suspended"
