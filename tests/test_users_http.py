"""Users: the owner's management, one's own profile and password, and their audit trail."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.helpers.audit import audit_events
from tests.helpers.http import API, all_pages, problem_code
from tests.helpers.identity import PASSWORD, Account, add_user, bearer, login, signup

NEW_PASSWORD = "another quite unusual passphrase 42"
WRONG_PASSWORD = "definitely not the passphrase 0"


async def new_user(
    client: httpx.AsyncClient,
    owner: Account,
    email: str,
    *,
    role: str = "ASSISTANT",
    full_name: str | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    return await client.post(
        f"{API}/users",
        json={
            "email": email,
            "full_name": full_name or email.split("@")[0],
            "role": role,
            "password": password,
        },
        headers=owner.headers,
    )


async def created_id(client: httpx.AsyncClient, owner: Account, email: str, **fields: Any) -> UUID:
    response = await new_user(client, owner, email, **fields)
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


async def listed_ids(client: httpx.AsyncClient, owner: Account, **params: Any) -> set[UUID]:
    pages = await all_pages(client, f"{API}/users", owner.headers, **params)
    return {UUID(item["id"]) for page in pages for item in page}


async def etag_of(client: httpx.AsyncClient, owner: Account, user_id: UUID) -> str:
    response = await client.get(f"{API}/users/{user_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def patch_user(
    client: httpx.AsyncClient, owner: Account, user_id: UUID, body: dict[str, Any]
) -> httpx.Response:
    headers = {**owner.headers, "If-Match": await etag_of(client, owner, user_id)}
    return await client.patch(f"{API}/users/{user_id}", json=body, headers=headers)


# --- creating users ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ASSISTANT", "TENANT_OWNER"])
async def test_an_owner_creates_a_user_of_either_role(client: httpx.AsyncClient, role: str) -> None:
    owner = await signup(client, "acme")
    response = await new_user(client, owner, "Ann@Acme.example.com", role=role, full_name="Ann")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "ann@acme.example.com"
    assert body["role"] == role
    assert body["tenant_id"] == str(owner.tenant_id)
    assert body["is_active"] is True
    assert "password" not in body
    assert "password_hash" not in body

    fetched = await client.get(f"{API}/users/{body['id']}", headers=owner.headers)
    assert fetched.status_code == 200
    assert fetched.json()["role"] == role
    assert (await login(client, owner.tenant_id, "ann@acme.example.com")).status_code == 200


async def test_a_duplicate_email_in_the_same_tenant_is_409_email_taken(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    await created_id(client, owner, "ann@acme.example.com")
    for email in ("ann@acme.example.com", "ANN@acme.example.com", owner.email):
        again = await new_user(client, owner, email)
        assert again.status_code == 409, email
        assert problem_code(again) == "email_taken"


async def test_the_same_email_in_another_tenant_is_fine(client: httpx.AsyncClient) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    first = await created_id(client, acme, "ann@shared.example.com")
    second = await created_id(client, globex, "ann@shared.example.com")
    assert first != second
    assert (await login(client, acme.tenant_id, "ann@shared.example.com")).status_code == 200
    assert (await login(client, globex.tenant_id, "ann@shared.example.com")).status_code == 200


@pytest.mark.parametrize("password", ["short", "password1234", "aaaaaaaaaaaaaaaa"])
async def test_a_weak_password_for_a_new_user_is_422(
    client: httpx.AsyncClient, password: str
) -> None:
    owner = await signup(client, "acme")
    response = await new_user(client, owner, "ann@acme.example.com", password=password)
    assert response.status_code == 422
    assert problem_code(response) == "weak_password"
    assert await listed_ids(client, owner) == {owner.user_id}


# --- listing and reading ----------------------------------------------------------------


async def test_cursors_visit_every_user_exactly_once_newest_first(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    created = [owner.user_id]
    for name in ("ann", "bob", "cid", "dee"):
        created.append(await created_id(client, owner, f"{name}@acme.example.com"))

    first = await client.get(f"{API}/users", params={"limit": 2}, headers=owner.headers)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 2
    assert first.json()["next_cursor"]

    pages = await all_pages(client, f"{API}/users", owner.headers, limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    visited = [UUID(item["id"]) for page in pages for item in page]
    assert visited == list(reversed(created))


async def test_the_user_list_filters_by_role_activity_and_text(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")  # full name "Olive Owner"
    ann = await created_id(client, owner, "ann@acme.example.com", full_name="Ann Archer")
    bob = await created_id(client, owner, "bob@acme.example.com", full_name="Bob Builder")
    zoe = await created_id(
        client, owner, "zoe@acme.example.com", role="TENANT_OWNER", full_name="Zoe Zed"
    )
    gone = await client.delete(
        f"{API}/users/{bob}",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, bob)},
    )
    assert gone.status_code == 204

    assert await listed_ids(client, owner) == {owner.user_id, ann, bob, zoe}
    assert await listed_ids(client, owner, role="ASSISTANT") == {ann, bob}
    assert await listed_ids(client, owner, role="TENANT_OWNER") == {owner.user_id, zoe}
    assert await listed_ids(client, owner, is_active="false") == {bob}
    assert await listed_ids(client, owner, is_active="true") == {owner.user_id, ann, zoe}
    assert await listed_ids(client, owner, role="ASSISTANT", is_active="true") == {ann}
    assert await listed_ids(client, owner, q="ANN@ACME") == {ann}  # email, any case
    assert await listed_ids(client, owner, q="builder") == {bob}  # full name, any case
    assert await listed_ids(client, owner, q="oLiVe") == {owner.user_id}
    assert await listed_ids(client, owner, q="nobody-like-this") == set()


@pytest.mark.parametrize("cursor", ["not-a-cursor", "%%%", "AAAA"])
async def test_an_invalid_cursor_is_400(client: httpx.AsyncClient, cursor: str) -> None:
    owner = await signup(client, "acme")
    response = await client.get(f"{API}/users", params={"cursor": cursor}, headers=owner.headers)
    assert response.status_code == 400
    assert problem_code(response) == "invalid_cursor"


async def test_a_user_is_read_with_its_version_as_etag(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    ann = await created_id(client, owner, "ann@acme.example.com", full_name="Ann")
    response = await client.get(f"{API}/users/{ann}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(ann)
    assert response.json()["email"] == "ann@acme.example.com"
    assert response.headers["etag"] == '"1"'


async def test_a_user_of_another_tenant_is_404(client: httpx.AsyncClient) -> None:
    acme = await signup(client, "acme")
    globex = await signup(client, "globex")
    globex_ann = await created_id(client, globex, "ann@globex.example.com")
    for user_id in (globex_ann, globex.user_id):
        response = await client.get(f"{API}/users/{user_id}", headers=acme.headers)
        assert response.status_code == 404
        assert problem_code(response) == "user_not_found"
    assert await listed_ids(client, acme) == {acme.user_id}


# --- changing users ---------------------------------------------------------------------


async def test_patching_a_user_without_if_match_is_428(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    ann = await created_id(client, owner, "ann@acme.example.com", full_name="Ann")
    response = await client.patch(
        f"{API}/users/{ann}", json={"full_name": "Nope"}, headers=owner.headers
    )
    assert response.status_code == 428
    assert problem_code(response) == "if_match_required"
    assert (await client.get(f"{API}/users/{ann}", headers=owner.headers)).json()[
        "full_name"
    ] == "Ann"


async def test_patching_a_user_with_a_stale_etag_is_412(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    ann = await created_id(client, owner, "ann@acme.example.com", full_name="Ann")
    read = await etag_of(client, owner, ann)
    # Someone else changes the user after it was read: deactivating it is a change.
    deactivated = await client.delete(
        f"{API}/users/{ann}", headers={**owner.headers, "If-Match": read}
    )
    assert deactivated.status_code == 204
    current = await etag_of(client, owner, ann)
    assert current != read

    for stale in (read, '"999"'):
        response = await client.patch(
            f"{API}/users/{ann}",
            json={"full_name": "Stale"},
            headers={**owner.headers, "If-Match": stale},
        )
        assert response.status_code == 412, stale
        assert problem_code(response) == "version_conflict"
        assert response.json()["current_etag"] == current
    assert (await client.get(f"{API}/users/{ann}", headers=owner.headers)).json()[
        "full_name"
    ] == "Ann"


async def test_patching_a_user_with_the_current_etag_is_200_and_bumps_it(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    ann = await created_id(client, owner, "ann@acme.example.com", full_name="Ann")
    url = f"{API}/users/{ann}"

    current = await client.patch(
        url, json={"full_name": "Ann Archer"}, headers={**owner.headers, "If-Match": '"1"'}
    )
    assert current.status_code == 200, current.text
    assert current.json()["full_name"] == "Ann Archer"
    assert current.headers["etag"] == '"2"'

    stale = await client.patch(
        url, json={"full_name": "Stale"}, headers={**owner.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    after = await client.get(url, headers=owner.headers)
    assert after.json()["full_name"] == "Ann Archer"
    assert after.headers["etag"] == '"2"'


@pytest.mark.parametrize(
    "change",
    [{"role": "ASSISTANT"}, {"is_active": False}, {"role": "ASSISTANT", "is_active": False}],
)
async def test_the_last_active_owner_cannot_be_patched_away(
    client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    owner = await signup(client, "acme")
    await created_id(client, owner, "ann@acme.example.com")  # an assistant does not count
    response = await patch_user(client, owner, owner.user_id, change)
    assert response.status_code == 409
    assert problem_code(response) == "last_owner"

    me = await client.get(f"{API}/users/me", headers=owner.headers)
    assert me.status_code == 200
    assert me.json()["role"] == "TENANT_OWNER"
    assert me.json()["is_active"] is True


async def test_the_last_active_owner_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    # A deactivated second owner does not count as an active one.
    zoe = await created_id(client, owner, "zoe@acme.example.com", role="TENANT_OWNER")
    deactivated = await client.delete(
        f"{API}/users/{zoe}",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, zoe)},
    )
    assert deactivated.status_code == 204

    response = await client.delete(
        f"{API}/users/{owner.user_id}",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, owner.user_id)},
    )
    assert response.status_code == 409
    assert problem_code(response) == "last_owner"
    assert (await client.get(f"{API}/users/me", headers=owner.headers)).status_code == 200


async def test_with_two_owners_one_can_be_demoted(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    zoe = await created_id(client, owner, "zoe@acme.example.com", role="TENANT_OWNER")

    demoted = await patch_user(client, owner, zoe, {"role": "ASSISTANT"})
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["role"] == "ASSISTANT"

    # Now the signing-up owner is the last one again.
    refused = await patch_user(client, owner, owner.user_id, {"role": "ASSISTANT"})
    assert refused.status_code == 409
    assert problem_code(refused) == "last_owner"


async def test_with_two_owners_one_can_be_deactivated(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    zoe = await add_user(client, owner, "zoe@acme.example.com", role="TENANT_OWNER")

    response = await client.delete(
        f"{API}/users/{owner.user_id}",
        headers={**zoe.headers, "If-Match": await etag_of(client, zoe, owner.user_id)},
    )
    assert response.status_code == 204
    assert (await client.get(f"{API}/users/me", headers=owner.headers)).status_code == 401

    # Zoe is now the last active owner.
    refused = await client.delete(
        f"{API}/users/{zoe.user_id}",
        headers={**zoe.headers, "If-Match": await etag_of(client, zoe, zoe.user_id)},
    )
    assert refused.status_code == 409
    assert problem_code(refused) == "last_owner"


async def test_deleting_a_user_deactivates_it_and_locks_it_out(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    ann = await add_user(client, owner, "ann@acme.example.com")
    assert (await client.get(f"{API}/users/me", headers=ann.headers)).status_code == 200

    response = await client.delete(
        f"{API}/users/{ann.user_id}",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, ann.user_id)},
    )
    assert response.status_code == 204
    assert response.content == b""

    kept = await client.get(f"{API}/users/{ann.user_id}", headers=owner.headers)
    assert kept.status_code == 200
    assert kept.json()["is_active"] is False
    assert (await client.get(f"{API}/users/me", headers=ann.headers)).status_code == 401
    assert (await login(client, owner.tenant_id, ann.email)).status_code == 401
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": ann.refresh_token})
    assert refresh.status_code == 401


async def test_an_owner_unlocks_a_locked_user(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    ann = await created_id(client, owner, "ann@acme.example.com")
    email = "ann@acme.example.com"

    for _ in range(5):
        assert (await login(client, owner.tenant_id, email, WRONG_PASSWORD)).status_code == 401
    assert (await login(client, owner.tenant_id, email)).status_code == 401  # locked
    locked = await client.get(f"{API}/users/{ann}", headers=owner.headers)
    assert locked.json()["locked_until"] is not None

    response = await client.post(
        f"{API}/users/{ann}/unlock",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, ann)},
    )
    assert response.status_code == 204

    assert (await login(client, owner.tenant_id, email)).status_code == 200
    unlocked = await client.get(f"{API}/users/{ann}", headers=owner.headers)
    assert unlocked.json()["locked_until"] is None


# --- what an assistant may do -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/users",
            {"email": "eve@acme.example.com", "full_name": "Eve", "password": PASSWORD},
        ),
        ("PATCH", "/users/{target}", {"full_name": "Renamed"}),
        ("DELETE", "/users/{target}", None),
        ("POST", "/users/{target}/unlock", None),
        ("GET", "/audit", None),
    ],
)
async def test_an_assistant_cannot_manage_users_or_read_the_audit_trail(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    owner = await signup(client, "acme")
    ann = await add_user(client, owner, "ann@acme.example.com")
    bob = await created_id(client, owner, "bob@acme.example.com")
    response = await client.request(
        method,
        API + path.format(target=bob),
        json=body,
        headers={**ann.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 403, response.text
    assert problem_code(response) == "permission_denied"
    assert await listed_ids(client, owner) == {owner.user_id, ann.user_id, bob}
    bob_now = await client.get(f"{API}/users/{bob}", headers=owner.headers)
    assert bob_now.json()["is_active"] is True
    assert bob_now.headers["etag"] == '"1"'


async def test_an_assistant_reads_the_user_list_and_its_profile(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    ann = await add_user(client, owner, "ann@acme.example.com")
    users = await client.get(f"{API}/users", headers=ann.headers)
    assert users.status_code == 200
    assert {item["id"] for item in users.json()["items"]} == {str(owner.user_id), str(ann.user_id)}
    me = await client.get(f"{API}/users/me", headers=ann.headers)
    assert me.status_code == 200
    assert me.json()["id"] == str(ann.user_id)
    assert me.json()["role"] == "ASSISTANT"


# --- one's own profile and password -----------------------------------------------------


async def test_patching_my_profile_needs_if_match(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    response = await client.patch(
        f"{API}/users/me", json={"full_name": "Olive O."}, headers=owner.headers
    )
    assert response.status_code == 428
    assert problem_code(response) == "if_match_required"


@pytest.mark.parametrize(
    "extra",
    [{"role": "TENANT_OWNER"}, {"email": "x@acme.example.com"}, {"is_active": False}],
)
async def test_patching_my_profile_refuses_fields_other_than_the_name(
    client: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    owner = await signup(client, "acme")
    ann = await add_user(client, owner, "ann@acme.example.com")
    me = await client.get(f"{API}/users/me", headers=ann.headers)
    response = await client.patch(
        f"{API}/users/me",
        json={"full_name": "Ann", **extra},
        headers={**ann.headers, "If-Match": me.headers["etag"]},
    )
    assert response.status_code == 422
    assert problem_code(response) == "validation_failed"
    after = await client.get(f"{API}/users/me", headers=ann.headers)
    assert after.json() == me.json()


async def test_patching_my_profile_with_the_current_etag_changes_my_name(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    ann = await add_user(client, owner, "ann@acme.example.com")
    me = await client.get(f"{API}/users/me", headers=ann.headers)
    read = me.headers["etag"]
    changed = await client.patch(
        f"{API}/users/me",
        json={"full_name": "Ann Archer"},
        headers={**ann.headers, "If-Match": read},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["full_name"] == "Ann Archer"
    assert changed.json()["role"] == "ASSISTANT"
    assert changed.json()["email"] == "ann@acme.example.com"
    assert changed.headers["etag"] == f'"{int(read.strip(chr(34))) + 1}"'

    stale = await client.patch(
        f"{API}/users/me", json={"full_name": "Again"}, headers={**ann.headers, "If-Match": read}
    )
    assert stale.status_code == 412
    assert problem_code(stale) == "version_conflict"


async def test_a_wrong_current_password_is_403(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    response = await client.post(
        f"{API}/users/me/password",
        json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        headers=owner.headers,
    )
    assert response.status_code == 403
    assert problem_code(response) == "current_password_wrong"
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200
    assert (await login(client, owner.tenant_id, owner.email, NEW_PASSWORD)).status_code == 401


async def test_changing_my_password_signs_out_my_other_sessions(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    other = (await login(client, owner.tenant_id, owner.email)).json()
    other_headers = bearer(other["access_token"], owner.tenant_id)
    assert (await client.get(f"{API}/users/me", headers=other_headers)).status_code == 200

    response = await client.post(
        f"{API}/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=owner.headers,
    )
    assert response.status_code == 204, response.text

    assert (await login(client, owner.tenant_id, owner.email)).status_code == 401
    assert (await login(client, owner.tenant_id, owner.email, NEW_PASSWORD)).status_code == 200
    assert (await client.get(f"{API}/users/me", headers=owner.headers)).status_code == 200

    refresh = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert (await client.get(f"{API}/users/me", headers=other_headers)).status_code == 401


async def test_a_weak_new_password_is_422(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    response = await client.post(
        f"{API}/users/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=owner.headers,
    )
    assert response.status_code == 422
    assert problem_code(response) == "weak_password"
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 200


# --- the audit trail --------------------------------------------------------------------


async def test_every_user_change_is_audited_without_secrets(client: httpx.AsyncClient) -> None:
    owner = await signup(client, "acme")
    ann = await add_user(client, owner, "ann@acme.example.com")

    for _ in range(5):
        await login(client, owner.tenant_id, ann.email, WRONG_PASSWORD)
    unlock = await client.post(
        f"{API}/users/{ann.user_id}/unlock",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, ann.user_id)},
    )
    assert unlock.status_code == 204
    changed = await client.post(
        f"{API}/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=ann.headers,
    )
    assert changed.status_code == 204, changed.text
    gone = await client.delete(
        f"{API}/users/{ann.user_id}",
        headers={**owner.headers, "If-Match": await etag_of(client, owner, ann.user_id)},
    )
    assert gone.status_code == 204

    events = await audit_events(client, owner)
    about_ann = [event for event in events if event["target_id"] == str(ann.user_id)]
    by_action = {event["action"]: event for event in about_ann}

    created = by_action["user.created"]
    assert created["actor_type"] == "user"
    assert created["actor_id"] == str(owner.user_id)
    assert created["target_type"] == "user"
    assert created["changes"]["email"] == "ann@acme.example.com"
    assert created["changes"]["role"] == "ASSISTANT"

    unlocked = by_action["user.unlocked"]
    assert unlocked["actor_id"] == str(owner.user_id)

    password_changed = by_action["user.password_changed"]
    assert password_changed["actor_id"] == str(ann.user_id)

    updated = [event for event in about_ann if event["action"] == "user.updated"]
    assert len(updated) == 1
    assert updated[0]["actor_id"] == str(owner.user_id)
    assert updated[0]["changes"] == {"is_active": {"before": True, "after": False}}

    filtered = await audit_events(client, owner, action="user.updated")
    assert [event["id"] for event in filtered] == [updated[0]["id"]]

    text = json.dumps(events)
    assert "argon2" not in text
    assert PASSWORD not in text
    assert NEW_PASSWORD not in text
    assert WRONG_PASSWORD not in text


async def test_a_patch_is_audited_with_the_before_and_after_of_changed_fields(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "acme")
    zoe = await created_id(client, owner, "zoe@acme.example.com", full_name="Zoe")
    response = await patch_user(
        client, owner, zoe, {"full_name": "Zoe Zed", "role": "TENANT_OWNER", "is_active": True}
    )
    assert response.status_code == 200, response.text
    events = await audit_events(client, owner, action="user.updated", target_id=str(zoe))
    assert len(events) == 1
    assert events[0]["actor_id"] == str(owner.user_id)
    assert events[0]["changes"] == {
        "full_name": {"before": "Zoe", "after": "Zoe Zed"},
        "role": {"before": "ASSISTANT", "after": "TENANT_OWNER"},
    }
