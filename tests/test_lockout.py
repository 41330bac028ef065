"""Lockout through the login endpoint: the count survives the 401 that reports it."""

from __future__ import annotations

import asyncio

import httpx

from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.http import API
from tests.helpers.identity import login, signup

WRONG = "this is not the passphrase"


async def test_five_failures_lock_the_account_through_http(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "lockco")
    for _ in range(settings.lockout_threshold - 1):
        assert (await login(client, owner.tenant_id, owner.email, WRONG)).status_code == 401
    count = await owner_sql(settings, owner.tenant_id, "SELECT failed_login_count FROM users")
    assert count[0]["failed_login_count"] == settings.lockout_threshold - 1

    locking = await login(client, owner.tenant_id, owner.email, WRONG)
    locked = await login(client, owner.tenant_id, owner.email)  # the right password
    assert locking.status_code == locked.status_code == 401
    assert locked.json() == locking.json()  # a lock looks like bad credentials

    rows = await owner_sql(settings, owner.tenant_id, "SELECT locked_until > now() AS l FROM users")
    assert rows[0]["l"] is True
    actions = await owner_sql(settings, owner.tenant_id, "SELECT action FROM audit_events")
    names = [a["action"] for a in actions]
    assert names.count("auth.login_failed") == settings.lockout_threshold + 1
    assert names.count("auth.account_locked") == 1


async def test_a_success_resets_the_count(client: httpx.AsyncClient, settings: Settings) -> None:
    owner = await signup(client, "resetco")
    for _ in range(settings.lockout_threshold - 1):
        await login(client, owner.tenant_id, owner.email, WRONG)
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200
    for _ in range(settings.lockout_threshold - 1):
        await login(client, owner.tenant_id, owner.email, WRONG)
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200


async def test_the_lock_ends_after_its_time(client: httpx.AsyncClient, settings: Settings) -> None:
    owner = await signup(client, "expiry")
    for _ in range(settings.lockout_threshold):
        await login(client, owner.tenant_id, owner.email, WRONG)
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 401
    await owner_sql(
        settings, owner.tenant_id, "UPDATE users SET locked_until = now() - interval '1 s'"
    )
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200


async def test_the_owner_unlocks_a_locked_user(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "unlockco")
    created = await client.post(
        f"{API}/users",
        json={
            "email": "ann@unlockco.example.com",
            "full_name": "Ann",
            "password": "another fine passphrase 9",
        },
        headers=owner.headers,
    )
    ann = created.json()["id"]
    for _ in range(settings.lockout_threshold):
        await login(client, owner.tenant_id, "ann@unlockco.example.com", WRONG)
    right = "another fine passphrase 9"
    assert (
        await login(client, owner.tenant_id, "ann@unlockco.example.com", right)
    ).status_code == 401
    etag = (await client.get(f"{API}/users/{ann}", headers=owner.headers)).headers["etag"]
    assert (
        await client.post(f"{API}/users/{ann}/unlock", headers={**owner.headers, "If-Match": etag})
    ).status_code == 204
    assert (
        await login(client, owner.tenant_id, "ann@unlockco.example.com", right)
    ).status_code == 200


async def test_a_strangers_failed_login_does_not_change_the_users_etag(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "etagco")
    before = (await client.get(f"{API}/users/{owner.user_id}", headers=owner.headers)).headers
    await login(client, owner.tenant_id, owner.email, WRONG)
    after = (await client.get(f"{API}/users/{owner.user_id}", headers=owner.headers)).headers
    assert after["etag"] == before["etag"]


async def test_concurrent_guesses_cannot_pass_the_threshold(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "burst")
    guesses = [login(client, owner.tenant_id, owner.email, f"{WRONG} {n}") for n in range(12)]
    await asyncio.gather(*guesses)
    checked = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT count(*) AS n FROM audit_events WHERE changes->>'reason' = 'bad_password'",
    )
    assert checked[0]["n"] == settings.lockout_threshold
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 401  # locked
