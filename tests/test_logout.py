"""Sign-out really revokes: the access token is denied, the refresh family is dead."""

from __future__ import annotations

from uuid import UUID

import httpx
import jwt

from ledgerline.config import Settings
from tests.helpers.audit import audit_events
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, bearer, login, signup


def owner_account(owner: Account, tokens: dict[str, str]) -> Account:
    return Account(
        owner.tenant_id,
        owner.user_id,
        owner.email,
        tokens["access_token"],
        tokens["refresh_token"],
    )


async def test_logout_denies_the_access_token_and_kills_the_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "bye")
    other = (await login(client, owner.tenant_id, owner.email)).json()
    assert (await client.post(f"{API}/auth/logout", headers=owner.headers)).status_code == 204

    me = await client.get(f"{API}/users/me", headers=owner.headers)
    assert me.status_code == 401
    assert problem_code(me) == "invalid_token"
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token}
    )
    assert refreshed.status_code == 401
    # The other login is a different family: still alive.
    assert (
        await client.get(f"{API}/users/me", headers=bearer(other["access_token"], owner.tenant_id))
    ).status_code == 200


async def test_logout_all_ends_every_login_of_the_user(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "byeall")
    other = (await login(client, owner.tenant_id, owner.email)).json()
    assert (await client.post(f"{API}/auth/logout-all", headers=owner.headers)).status_code == 204
    for access, refresh in (
        (owner.access_token, owner.refresh_token),
        (other["access_token"], other["refresh_token"]),
    ):
        me = await client.get(f"{API}/users/me", headers=bearer(access, owner.tenant_id))
        assert me.status_code == 401
        again = await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh})
        assert again.status_code == 401


async def test_logout_needs_a_valid_access_token(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{API}/auth/logout")).status_code == 401
    response = await client.post(f"{API}/auth/logout", headers={"Authorization": "Bearer x.y.z"})
    assert response.status_code == 401


async def test_a_denied_access_token_is_refused_even_while_its_family_lives(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    owner = await signup(client, "denyco")
    claims = jwt.decode(owner.access_token, options={"verify_signature": False})
    await owner_sql(
        settings,
        owner.tenant_id,
        "INSERT INTO denied_access_tokens (jti, expires_at) VALUES ($1, now() + interval '1 h')",
        UUID(claims["jti"]),
    )
    assert (await client.get(f"{API}/users/me", headers=owner.headers)).status_code == 401
    fresh = (await login(client, owner.tenant_id, owner.email)).json()
    assert (
        await client.get(f"{API}/users/me", headers=bearer(fresh["access_token"], owner.tenant_id))
    ).status_code == 200


async def test_sign_outs_are_in_the_audit_trail(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "byeaudit")
    second = (await login(client, owner.tenant_id, owner.email)).json()
    third = (await login(client, owner.tenant_id, owner.email)).json()
    await client.post(f"{API}/auth/logout", headers=bearer(second["access_token"], owner.tenant_id))
    await client.post(
        f"{API}/auth/logout-all", headers=bearer(third["access_token"], owner.tenant_id)
    )
    fresh = (await login(client, owner.tenant_id, owner.email)).json()
    events = await audit_events(client, owner_account(owner, fresh))
    sign_outs = [e for e in events if e["action"].startswith("auth.logout")]
    assert [e["action"] for e in sign_outs] == ["auth.logout_all", "auth.logout"]
    assert len(sign_outs[0]["changes"]["revoked_sessions"]) == 2  # signup's and third's
    assert len(sign_outs[1]["changes"]["revoked_sessions"]) == 1


async def test_a_revoked_token_cannot_sign_anyone_out(client: httpx.AsyncClient) -> None:
    """A stolen token whose session was revoked must not end the victim's other logins."""
    owner = await signup(client, "stolen")
    victim = (await login(client, owner.tenant_id, owner.email)).json()
    assert (await client.post(f"{API}/auth/logout", headers=owner.headers)).status_code == 204
    for path in ("logout", "logout-all"):
        again = await client.post(f"{API}/auth/{path}", headers=owner.headers)
        assert again.status_code == 401, path
    alive = await client.get(
        f"{API}/users/me", headers=bearer(victim["access_token"], owner.tenant_id)
    )
    assert alive.status_code == 200
