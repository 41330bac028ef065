"""Rules found by attacking the identity endpoints: each had a way around it."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from ledgerline.config import Settings
from tests.helpers.audit import audit_events
from tests.helpers.http import API, problem_code
from tests.helpers.identity import PASSWORD, add_user, bearer, create_admin, login, signup

WRONG = "this is not the passphrase"


async def test_guessing_the_current_password_locks_the_account_and_ends_the_session(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "guess")
    body = {"current_password": WRONG, "new_password": "a brand new passphrase 5"}
    for _ in range(settings.lockout_threshold - 1):
        response = await client.post(f"{API}/users/me/password", json=body, headers=owner.headers)
        assert response.status_code == 403
        assert problem_code(response) == "current_password_wrong"
    last = await client.post(f"{API}/users/me/password", json=body, headers=owner.headers)
    assert last.status_code == 403
    # Locked: the stolen token is dead and the right password no longer logs in.
    assert (await client.get(f"{API}/users/me", headers=owner.headers)).status_code == 401
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 401


async def test_explicit_nulls_are_422_not_500(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "nulls")
    ann = await add_user(client, owner, "ann@nulls.example.com")
    etag = (await client.get(f"{API}/users/{ann.user_id}", headers=owner.headers)).headers["etag"]
    for field in ("role", "full_name", "is_active"):
        response = await client.patch(
            f"{API}/users/{ann.user_id}",
            json={field: None},
            headers=owner.headers | {"If-Match": etag},
        )
        assert response.status_code == 422, (field, response.text)


async def test_owners_demoting_each_other_at_once_never_fail_with_500(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "duel")
    other = await add_user(client, owner, "bob@duel.example.com", role="TENANT_OWNER")
    for _ in range(3):
        tags = [
            (await client.get(f"{API}/users/{u.user_id}", headers=owner.headers)).headers["etag"]
            for u in (owner, other)
        ]
        results = await asyncio.gather(
            client.patch(
                f"{API}/users/{other.user_id}",
                json={"role": "ASSISTANT"},
                headers=owner.headers | {"If-Match": tags[1]},
            ),
            client.patch(
                f"{API}/users/{owner.user_id}",
                json={"role": "ASSISTANT"},
                headers=other.headers | {"If-Match": tags[0]},
            ),
        )
        statuses = sorted(r.status_code for r in results)
        assert 500 not in statuses, [r.text for r in results]
        assert statuses[0] == 200  # one demotion goes through
        assert statuses[1] in (401, 403, 409)  # the other finds itself demoted or last
        if statuses == [200, 200]:
            break
        survivor = next(r for r in results if r.status_code == 200).json()
        restore_by = owner if survivor["id"] == str(other.user_id) else other
        tag = (
            await client.get(f"{API}/users/{survivor['id']}", headers=restore_by.headers)
        ).headers["etag"]
        await client.patch(
            f"{API}/users/{survivor['id']}",
            json={"role": "TENANT_OWNER"},
            headers=restore_by.headers | {"If-Match": tag},
        )


async def test_an_assistant_does_not_see_who_is_locked(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "seen")
    ann = await add_user(client, owner, "ann@seen.example.com")
    for _ in range(5):
        await login(client, owner.tenant_id, "bob@seen.example.com", WRONG)
    await add_user(client, owner, "bob@seen.example.com")
    for _ in range(5):
        await login(client, owner.tenant_id, "bob@seen.example.com", WRONG)
    as_owner = (await client.get(f"{API}/users", headers=owner.headers)).json()["items"]
    as_ann = (await client.get(f"{API}/users", headers=ann.headers)).json()["items"]
    assert any(u["locked_until"] for u in as_owner)
    assert not any(u["locked_until"] for u in as_ann)


async def test_an_admins_failing_request_in_a_tenant_is_audited_too(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    owner = await signup(client, "watched")
    await create_admin(settings, app.state.passwords, "ada@platform.example.com")
    admin = (await login(client, None, "ada@platform.example.com")).json()["access_token"]
    missing = await client.get(
        f"{API}/users/{owner.tenant_id}", headers=bearer(admin, owner.tenant_id)
    )
    assert missing.status_code == 404
    events = await audit_events(client, owner, action="admin.tenant_access")
    assert [e["changes"]["path"] for e in events] == [f"{API}/users/{owner.tenant_id}"]
    assert events[0]["actor_type"] == "admin"


async def test_a_failed_login_for_an_unknown_email_does_not_keep_what_was_typed(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "typed")
    await login(client, owner.tenant_id, PASSWORD)  # a password pasted as the email
    events = await audit_events(client, owner, action="auth.login_failed")
    assert PASSWORD not in str(events)
