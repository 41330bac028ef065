"""Discussion threads through HTTP: comments on invoices and assets, authors alone edit
and delete, edits keep their history, mentions notify users of the tenant only, keyset
pages, audit, and what the database itself refuses."""

from __future__ import annotations

from uuid import UUID

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.engine import Database
from tests.helpers import assets
from tests.helpers.api_keys import by_bearer, issue
from tests.helpers.audit import audit_events
from tests.helpers.http import API, all_pages, problem_code
from tests.helpers.identity import Account, add_user, signup
from tests.helpers.invoices import invoice, vendor


async def an_invoice(client: httpx.AsyncClient, who: Account) -> str:
    created = await invoice(client, who, await vendor(client, who))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def comment(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: str
) -> httpx.Response:
    return await client.post(f"{API}{path}/comments", json={"body": body}, headers=headers)


async def edit(
    client: httpx.AsyncClient, who: dict[str, str], comment_id: str, body: str
) -> httpx.Response:
    etag = (await client.get(f"{API}/comments/{comment_id}", headers=who)).headers["etag"]
    return await client.patch(
        f"{API}/comments/{comment_id}", json={"body": body}, headers=who | {"If-Match": etag}
    )


async def test_a_comment_on_an_invoice_is_listed_newest_first_in_keyset_pages(
    client: httpx.AsyncClient, owner: Account
) -> None:
    invoice_id = await an_invoice(client, owner)
    for n in range(5):
        made = await comment(client, owner.headers, f"/invoices/{invoice_id}", f"**note** {n}")
        assert made.status_code == 201, made.text
    location = f"{API}/invoices/{invoice_id}/comments/{made.json()['id']}"
    assert made.headers["location"] == location
    assert (await client.get(location, headers=owner.headers)).json() == made.json()
    assert made.headers["etag"] == '"1"'
    assert made.json()["author"] == {"type": "user", "id": str(owner.user_id)}
    pages = await all_pages(client, f"{API}/invoices/{invoice_id}/comments", owner.headers, limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    bodies = [item["body"] for page in pages for item in page]
    assert bodies == [f"**note** {n}" for n in reversed(range(5))]


async def test_an_asset_has_its_own_thread(client: httpx.AsyncClient, owner: Account) -> None:
    category_id = await assets.category(client, owner)
    asset_id = (await assets.asset(client, owner, category_id))["id"]
    made = await comment(client, owner.headers, f"/assets/{asset_id}", "Moved to rack 3")
    assert made.status_code == 201, made.text
    assert made.json()["subject_type"] == "asset"
    listed = await client.get(f"{API}/assets/{asset_id}/comments", headers=owner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [made.json()["id"]]


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
async def test_empty_blank_and_overlong_bodies_are_refused(
    client: httpx.AsyncClient, owner: Account, body: str
) -> None:
    invoice_id = await an_invoice(client, owner)
    refused = await comment(client, owner.headers, f"/invoices/{invoice_id}", body)
    assert refused.status_code == 422


async def test_an_edit_keeps_the_earlier_body_and_only_the_author_edits_or_deletes(
    client: httpx.AsyncClient, owner: Account
) -> None:
    assistant = await add_user(client, owner, "ann@ownerco.example.com")
    invoice_id = await an_invoice(client, owner)
    made = await comment(client, assistant.headers, f"/invoices/{invoice_id}", "first")
    comment_id = made.json()["id"]

    edited = await edit(client, assistant.headers, comment_id, "second")
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == "second"
    assert edited.json()["edited"] is True
    assert edited.headers["etag"] == '"2"'
    assert (await edit(client, assistant.headers, comment_id, "third")).status_code == 200

    history = await client.get(f"{API}/comments/{comment_id}/history", headers=owner.headers)
    assert [(h["version"], h["body"]) for h in history.json()["items"]] == [
        (2, "second"),
        (1, "first"),
    ]

    stale = await client.patch(
        f"{API}/comments/{comment_id}",
        json={"body": "late"},
        headers=assistant.headers | {"If-Match": '"1"'},
    )
    assert stale.status_code == 412
    not_theirs = await edit(client, owner.headers, comment_id, "owner's words")
    assert not_theirs.status_code == 403
    assert problem_code(not_theirs) == "not_comment_author"
    etag = (await client.get(f"{API}/comments/{comment_id}", headers=owner.headers)).headers["etag"]
    refused = await client.delete(
        f"{API}/comments/{comment_id}", headers=owner.headers | {"If-Match": etag}
    )
    assert refused.status_code == 403

    deleted = await client.delete(
        f"{API}/comments/{comment_id}", headers=assistant.headers | {"If-Match": etag}
    )
    assert deleted.status_code == 204
    tombstone = (await client.get(f"{API}/comments/{comment_id}", headers=owner.headers)).json()
    assert tombstone["body"] is None
    assert tombstone["deleted_at"] is not None
    listed = await client.get(f"{API}/invoices/{invoice_id}/comments", headers=owner.headers)
    assert [item["body"] for item in listed.json()["items"]] == [None]
    after = await edit(client, assistant.headers, comment_id, "back again")
    assert after.status_code == 409
    assert problem_code(after) == "comment_deleted"

    trail = await audit_events(client, owner, target_id=comment_id)
    actions = [event["action"] for event in trail]
    assert actions == ["comment.deleted", "comment.edited", "comment.edited", "comment.created"]


async def test_mentions_notify_users_of_the_tenant_once_and_only_them(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ann = await add_user(client, owner, "ann@ownerco.example.com")
    bob = await add_user(client, owner, "bob@ownerco.example.com")
    stranger = await signup(client, "elsewhere", "carl@elsewhere.example.com")
    invoice_id = await an_invoice(client, owner)
    made = await comment(
        client,
        owner.headers,
        f"/invoices/{invoice_id}",
        "@Ann@ownerco.example.com please check; @carl@elsewhere.example.com cannot see "
        "this, nor can @nobody@ownerco.example.com; mail ann@ownerco.example.com",
    )
    comment_id = made.json()["id"]
    ann_sees = (await client.get(f"{API}/notifications", headers=ann.headers)).json()["items"]
    assert [(n["comment_id"], n["kind"], n["read_at"]) for n in ann_sees] == [
        (comment_id, "mention", None)
    ]
    for unseen in (bob, stranger, owner):
        listed = await client.get(f"{API}/notifications", headers=unseen.headers)
        assert listed.json()["items"] == []

    await edit(
        client, owner.headers, comment_id, "@ann@ownerco.example.com and @bob@ownerco.example.com"
    )
    ann_now = (await client.get(f"{API}/notifications", headers=ann.headers)).json()["items"]
    assert len(ann_now) == 1
    bob_now = (await client.get(f"{API}/notifications", headers=bob.headers)).json()["items"]
    assert len(bob_now) == 1

    notification_id = ann_now[0]["id"]
    not_hers = await client.post(f"{API}/notifications/{notification_id}/read", headers=bob.headers)
    assert not_hers.status_code == 404
    read = await client.post(f"{API}/notifications/{notification_id}/read", headers=ann.headers)
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    unread = await client.get(
        f"{API}/notifications", params={"unread": "true"}, headers=ann.headers
    )
    assert unread.json()["items"] == []


async def test_another_tenants_comments_and_notifications_are_404(
    client: httpx.AsyncClient, owner: Account
) -> None:
    ann = await add_user(client, owner, "ann@ownerco.example.com")
    invoice_id = await an_invoice(client, owner)
    made = await comment(
        client, owner.headers, f"/invoices/{invoice_id}", "@ann@ownerco.example.com"
    )
    comment_id = made.json()["id"]
    notification_id = (await client.get(f"{API}/notifications", headers=ann.headers)).json()[
        "items"
    ][0]["id"]
    other = await signup(client, "otherco")
    for method, path in (
        ("GET", f"/invoices/{invoice_id}/comments"),
        ("POST", f"/invoices/{invoice_id}/comments"),
        ("GET", f"/comments/{comment_id}"),
        ("GET", f"/comments/{comment_id}/history"),
        ("PATCH", f"/comments/{comment_id}"),
        ("DELETE", f"/comments/{comment_id}"),
        ("POST", f"/notifications/{notification_id}/read"),
    ):
        answer = await client.request(
            method,
            f"{API}{path}",
            json={"body": "hello"} if method in ("POST", "PATCH") else None,
            headers=other.headers | {"If-Match": '"1"'},
        )
        assert answer.status_code == 404, (method, path, answer.text)


async def test_api_keys_need_comments_scopes(client: httpx.AsyncClient, owner: Account) -> None:
    invoice_id = await an_invoice(client, owner)
    reader = by_bearer((await issue(client, owner, ["comments:read"])).json()["key"], owner)
    writer = by_bearer((await issue(client, owner, ["comments:write"])).json()["key"], owner)
    refused = await comment(client, reader, f"/invoices/{invoice_id}", "from the ERP")
    assert refused.status_code == 403
    made = await comment(client, writer, f"/invoices/{invoice_id}", "from the ERP")
    assert made.status_code == 201, made.text
    assert made.json()["author"]["type"] == "api_key"
    listed = await client.get(f"{API}/invoices/{invoice_id}/comments", headers=reader)
    assert listed.status_code == 200
    assert (
        await client.get(f"{API}/invoices/{invoice_id}/comments", headers=writer)
    ).status_code == 403


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE comment_edits SET body = 'rewritten'",
        "DELETE FROM comment_edits",
        "DELETE FROM comments",
    ],
)
async def test_the_runtime_role_cannot_rewrite_history_or_remove_a_comment(
    client: httpx.AsyncClient, database: Database, owner: Account, statement: str
) -> None:
    """Sent directly as the runtime role, past every rule in Python."""
    invoice_id = await an_invoice(client, owner)
    comment_id = (await comment(client, owner.headers, f"/invoices/{invoice_id}", "a")).json()["id"]
    assert (await edit(client, owner.headers, comment_id, "b")).status_code == 200
    with pytest.raises(DBAPIError, match="permission denied"):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(text(statement))


async def test_a_comment_cannot_point_at_another_tenants_invoice(
    client: httpx.AsyncClient, database: Database, owner: Account
) -> None:
    """The composite foreign key refuses it, sent directly as the runtime role."""
    other = await signup(client, "otherco")
    foreign_invoice = await an_invoice(client, other)
    with pytest.raises(DBAPIError):
        async with database.tenant_transaction(owner.tenant_id) as session:
            await session.execute(
                text(
                    "INSERT INTO comments (tenant_id, id, invoice_id, author_user_id, body,"
                    " version) VALUES (:tenant, gen_random_uuid(), :invoice, :user, 'x', 1)"
                ),
                {
                    "tenant": owner.tenant_id,
                    "invoice": UUID(foreign_invoice),
                    "user": owner.user_id,
                },
            )
