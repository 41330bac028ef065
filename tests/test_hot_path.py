"""What keeps the request path lean, checked on the app as it is built (the speed itself
is measured by `make bench BENCH=http`, never timed here)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import SecretStr

from ledgerline.config import Settings
from tests.helpers import invoices
from tests.helpers.http import API
from tests.helpers.identity import Account


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _runs_on_the_event_loop(call: object) -> bool:
    """Whether FastAPI awaits `call` rather than handing it to the thread pool."""
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    dunder_call = getattr(type(call), "__call__", None)  # noqa: B004 - instances of classes
    return inspect.iscoroutinefunction(dunder_call) or inspect.isasyncgenfunction(dunder_call)


def test_no_endpoint_or_dependency_runs_in_the_thread_pool(settings: Settings) -> None:
    """A sync endpoint or dependency costs every request a hand-over to a worker thread
    and back (it measured about 10% of a read's time)."""
    from ledgerline.app import create_app

    app: FastAPI = create_app(settings)
    offenders = sorted(
        f"{route.path} {sorted(route.methods or ())}: {getattr(d.call, '__qualname__', d.call)}"
        for route in app.routes
        if isinstance(route, APIRoute)
        for d in _dependants(route.dependant)
        if d.call is not None and not _runs_on_the_event_loop(d.call)
    )
    assert offenders == []


def test_safe_methods_are_not_wrapped_for_idempotency(settings: Settings) -> None:
    """Idempotency-Key is for creating POSTs: a GET gets FastAPI's own handler."""
    from ledgerline.app import create_app
    from ledgerline.idempotency import IdempotentRoute

    app = create_app(settings)
    wrapped = [
        route.path
        for route in app.routes
        if isinstance(route, IdempotentRoute)
        and (route.methods or set()) <= {"GET", "HEAD"}
        and getattr(route.get_route_handler(), "stores_idempotent_responses", False)
    ]
    assert wrapped == []


def _token(settings: Settings, ttl_seconds: int = 600) -> str:
    from uuid import uuid4

    from ledgerline.security.tokens import issue_access_token

    return issue_access_token(
        settings.model_copy(update={"access_token_ttl_seconds": ttl_seconds}),
        subject=uuid4(),
        tenant_id=uuid4(),
        role="TENANT_OWNER",
        session_id=uuid4(),
    ).token


def test_a_verified_token_is_reused_only_until_it_expires(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerline.security import tokens

    verified = tokens.VerifiedAccessTokens(settings)
    token = _token(settings, ttl_seconds=60)
    first = verified.decode(token)
    calls = []
    monkeypatch.setattr(tokens, "decode_access_token", lambda *a: calls.append(a))
    assert verified.decode(token) is first
    assert calls == []  # not verified again
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(tokens.InvalidToken):
        verified.decode(token)


def test_only_tokens_that_verify_are_kept_and_the_oldest_go_first(settings: Settings) -> None:
    from ledgerline.security import tokens

    verified = tokens.VerifiedAccessTokens(settings, capacity=2)
    forged = _token(settings.model_copy(update={"secret_key": SecretStr("another key " * 4)}))
    for _ in range(2):
        with pytest.raises(tokens.InvalidToken):
            verified.decode(forged)
    first, second, third = (_token(settings) for _ in range(3))
    for token in (first, second, third):
        verified.decode(token)
    assert list(verified._claims) == [second, third]


async def test_the_reads_answered_from_asyncpg_equal_the_orm_answers(
    client: httpx.AsyncClient, owner: Account
) -> None:
    """GET of an invoice, a vendor and oneself are read with hand-written statements
    (db/driver.py); each must show exactly what the ORM path shows of the same row."""
    created_vendor = await client.post(
        f"{API}/vendors",
        json={"name": "Hot Path Ltd", "default_currency": "EUR", "bank_account": "DE0012345678"},
        headers=owner.headers,
    )
    vendor_id = created_vendor.json()["id"]
    created_invoice = await invoices.invoice(client, owner, vendor_id)
    invoice_id = created_invoice.json()["id"]
    me = (await client.get(f"{API}/users/me", headers=owner.headers)).json()
    by_id = (await client.get(f"{API}/users/{me['id']}", headers=owner.headers)).json()
    pairs = [
        (created_vendor, await client.get(f"{API}/vendors/{vendor_id}", headers=owner.headers)),
        (created_invoice, await client.get(f"{API}/invoices/{invoice_id}", headers=owner.headers)),
    ]
    for orm, driver in pairs:
        assert driver.json() == orm.json()
        assert driver.headers["etag"] == orm.headers["etag"]
    assert me == by_id
