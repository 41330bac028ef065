"""Sign-in codes, password reset and email verification, through the mailbox (outbox)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.mail.service import MailSender
from tests.helpers.database import owner_sql
from tests.helpers.http import API, problem_code
from tests.helpers.identity import PASSWORD, Account, bearer, login, signup

NEW_PASSWORD = "a fresh and unusual passphrase 3"


async def mails(settings: Settings, tenant_id: UUID) -> list[dict[str, str]]:
    rows = await owner_sql(
        settings,
        tenant_id,
        "SELECT to_address, subject, body, status FROM mail_outbox ORDER BY created_at, id",
    )
    return [dict(row) for row in rows]


async def last_code(settings: Settings, owner: Account) -> str:
    body = (await mails(settings, owner.tenant_id))[-1]["body"]
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)


async def last_token(settings: Settings, owner: Account) -> str:
    body = (await mails(settings, owner.tenant_id))[-1]["body"]
    match = re.search(r"token=(\S+)", body)
    assert match, body
    return match.group(1)


async def request_code(client: httpx.AsyncClient, tenant: object, email: str) -> httpx.Response:
    return await client.post(
        f"{API}/auth/otp/request", json={"email": email}, headers={"X-Tenant-ID": str(tenant)}
    )


async def verify_code(
    client: httpx.AsyncClient, tenant: object, email: str, code: str
) -> httpx.Response:
    return await client.post(
        f"{API}/auth/otp/verify",
        json={"email": email, "code": code},
        headers={"X-Tenant-ID": str(tenant)},
    )


@pytest.fixture
def owner_slug() -> str:
    """The tests below name the owner's tenant by its slug in X-Tenant-ID."""
    return "mailco"


async def test_a_code_request_answers_alike_for_known_and_unknown_emails(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    known = await request_code(client, "mailco", owner.email)
    unknown = await request_code(client, "mailco", "nobody@mailco.example.com")
    no_tenant = await request_code(client, "no-such-co", owner.email)
    assert known.status_code == unknown.status_code == no_tenant.status_code == 202
    assert known.json() == unknown.json() == no_tenant.json()
    codes = [m for m in await mails(settings, owner.tenant_id) if "code" in m["subject"]]
    assert [m["to_address"] for m in codes] == [owner.email]


async def test_a_code_logs_in_once(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await request_code(client, owner.tenant_id, owner.email)
    code = await last_code(settings, owner)
    first = await verify_code(client, "mailco", owner.email, code)
    assert first.status_code == 200, first.text
    me = await client.get(
        f"{API}/users/me", headers=bearer(first.json()["access_token"], owner.tenant_id)
    )
    assert me.status_code == 200
    assert (await verify_code(client, "mailco", owner.email, code)).status_code == 401


async def test_a_code_expires(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await request_code(client, owner.tenant_id, owner.email)
    code = await last_code(settings, owner)
    await owner_sql(
        settings, owner.tenant_id, "UPDATE one_time_secrets SET expires_at = now() - interval '1 s'"
    )
    assert (await verify_code(client, "mailco", owner.email, code)).status_code == 401


async def test_a_new_request_replaces_the_old_code(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await request_code(client, owner.tenant_id, owner.email)
    old = await last_code(settings, owner)
    await request_code(client, owner.tenant_id, owner.email)
    new = await last_code(settings, owner)
    if old != new:
        assert (await verify_code(client, "mailco", owner.email, old)).status_code == 401
    assert (await verify_code(client, "mailco", owner.email, new)).status_code == 200


async def test_five_wrong_codes_spend_the_code_and_count_toward_lockout(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await request_code(client, owner.tenant_id, owner.email)
    code = await last_code(settings, owner)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        response = await verify_code(client, "mailco", owner.email, wrong)
        assert response.status_code == 401
        assert problem_code(response) == "invalid_credentials"
    assert (await verify_code(client, "mailco", owner.email, code)).status_code == 401
    # Five failures reached the lockout threshold: the password no longer works either.
    assert (await login(client, owner.tenant_id, owner.email)).status_code == 401
    rows = await owner_sql(settings, owner.tenant_id, "SELECT locked_until > now() AS l FROM users")
    assert rows[0]["l"] is True


async def test_a_password_reset_sets_the_password_and_ends_every_session(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    other = (await login(client, owner.tenant_id, owner.email)).json()
    requested = await client.post(
        f"{API}/auth/password-reset/request",
        json={"email": owner.email},
        headers={"X-Tenant-ID": "mailco"},
    )
    unknown = await client.post(
        f"{API}/auth/password-reset/request",
        json={"email": "nobody@mailco.example.com"},
        headers={"X-Tenant-ID": "mailco"},
    )
    assert requested.status_code == unknown.status_code == 202
    assert requested.json() == unknown.json()
    token = await last_token(settings, owner)
    assert token.startswith(f"llp_{owner.tenant_id.hex}_")

    weak = await client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )
    assert weak.status_code == 422
    done = await client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 204, done.text
    again = await client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert again.status_code == 400
    assert problem_code(again) == "invalid_link"

    assert (await login(client, owner.tenant_id, owner.email)).status_code == 401
    assert (await login(client, owner.tenant_id, owner.email, NEW_PASSWORD)).status_code == 200
    for access, refresh in (
        (owner.access_token, owner.refresh_token),
        (other["access_token"], other["refresh_token"]),
    ):
        me = await client.get(f"{API}/users/me", headers=bearer(access, owner.tenant_id))
        assert me.status_code == 401
        assert (
            await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh})
        ).status_code == 401


async def test_an_expired_reset_link_is_refused(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await client.post(
        f"{API}/auth/password-reset/request",
        json={"email": owner.email},
        headers={"X-Tenant-ID": str(owner.tenant_id)},
    )
    token = await last_token(settings, owner)
    await owner_sql(
        settings, owner.tenant_id, "UPDATE one_time_secrets SET expires_at = now() - interval '1 s'"
    )
    response = await client.post(
        f"{API}/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400


async def test_codes_and_links_are_stored_only_hashed(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    await request_code(client, owner.tenant_id, owner.email)
    code = await last_code(settings, owner)
    rows = await owner_sql(settings, owner.tenant_id, "SELECT secret_hash FROM one_time_secrets")
    assert all(len(bytes(r["secret_hash"])) == 32 for r in rows)
    assert all(code.encode() not in bytes(r["secret_hash"]) for r in rows)


async def test_signup_mails_a_verification_link_that_confirms_the_address(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    first = (await mails(settings, owner.tenant_id))[0]
    assert first["subject"].startswith("Confirm your email")
    token = re.search(r"token=(\S+)", first["body"]).group(1)  # type: ignore[union-attr]
    response = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert response.status_code == 204
    rows = await owner_sql(
        settings, owner.tenant_id, "SELECT email_verified_at IS NOT NULL AS v FROM users"
    )
    assert rows[0]["v"] is True
    assert (await client.post(f"{API}/auth/verify-email", json={"token": token})).status_code == 400


@pytest.fixture(scope="module")
async def strict_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"require_email_verification": True}))
    async with LifespanManager(app):
        yield app


async def test_a_setting_can_require_verification_before_login(
    strict_app: FastAPI, empty_tables: None, settings: Settings
) -> None:
    transport = httpx.ASGITransport(app=strict_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        owner = await signup(client, "strict")
        refused = await login(client, owner.tenant_id, owner.email)
        assert refused.status_code == 403
        assert problem_code(refused) == "email_not_verified"
        body = (await mails(settings, owner.tenant_id))[0]["body"]
        token = re.search(r"token=(\S+)", body).group(1)  # type: ignore[union-attr]
        await client.post(f"{API}/auth/verify-email", json={"token": token})
        assert (await login(client, owner.tenant_id, owner.email)).status_code == 200


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_the_sender_sends_and_retries_failures_with_backoff(
    client: httpx.AsyncClient, owner: Account, settings: Settings, database: Database
) -> None:
    await request_code(client, owner.tenant_id, owner.email)  # queued in the request
    unreachable = settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": closed_port(),
            "smtp_tls": "none",
            "mail_max_attempts": 2,
        }
    )
    failing = MailSender(unreachable, database)
    assert await failing.run_once() == 2  # the verification mail and the code
    rows = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT status, attempts, last_error, next_attempt_at > now() AS later FROM mail_outbox",
    )
    assert all(r["status"] == "pending" and r["attempts"] == 1 and r["later"] for r in rows)
    assert all(r["last_error"] for r in rows)
    assert await failing.run_once() == 0  # not due yet: backing off
    await owner_sql(settings, owner.tenant_id, "UPDATE mail_outbox SET next_attempt_at = now()")
    await failing.run_once()
    rows = await owner_sql(settings, owner.tenant_id, "SELECT status FROM mail_outbox")
    assert {r["status"] for r in rows} == {"failed"}  # given up after MAIL_MAX_ATTEMPTS

    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = now()",
    )
    assert await MailSender(settings, database).run_once() == 2  # the console backend
    rows = await owner_sql(settings, owner.tenant_id, "SELECT status, body FROM mail_outbox")
    assert {r["status"] for r in rows} == {"sent"}
    assert PASSWORD not in str(rows)


async def test_concurrent_requests_leave_one_live_link(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    import asyncio

    await asyncio.gather(
        *(
            client.post(
                f"{API}/auth/password-reset/request",
                json={"email": owner.email},
                headers={"X-Tenant-ID": "mailco"},
            )
            for _ in range(5)
        )
    )
    live = await owner_sql(
        settings,
        owner.tenant_id,
        "SELECT count(*) AS n FROM one_time_secrets"
        " WHERE purpose = 'password_reset' AND consumed_at IS NULL",
    )
    assert live[0]["n"] == 1


async def test_a_claim_whose_sender_died_is_taken_again(
    client: httpx.AsyncClient, owner: Account, settings: Settings, database: Database
) -> None:
    await owner_sql(
        settings,
        owner.tenant_id,
        "UPDATE mail_outbox SET status = 'sending', attempts = 1,"
        " next_attempt_at = now() - interval '1 s'",
    )
    assert await MailSender(settings, database).run_once() == 1
    rows = await owner_sql(settings, owner.tenant_id, "SELECT status, attempts FROM mail_outbox")
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2)]
