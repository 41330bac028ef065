"""The spec and the server agree: a property-based HTTP fuzz over `/openapi.json`.

For every operation the app's OpenAPI document lists, schemathesis generates requests,
valid ones and ones that break the spec, and each goes in-process through the app's real
lifespan, engines, sessions and transactions (the `client` fixture) three times: as a
TENANT_OWNER, as an ASSISTANT and as an API key holding every grantable scope, all of one
tenant. A request fails the test when it is answered with a 5xx, or with a body that
does not match the schema the spec documents for its status.

Generated ids name nothing, so in half of the examples every id the request carries (in
its path, query or top-level body) is replaced by the id of a real row of the tenant,
made for it; and half of the generated dates lie in the years the server takes
(1900-2199): requests reach past the 404 and the 422 into the services and the database.

Generation starts from a fixed seed (FUZZ_SEED, 0 unless set) and is bounded:
FUZZ_MAX_EXAMPLES generated requests per operation (20 unless set), each sent as the
three callers and answered within REQUEST_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
)

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.security.permissions import API_KEY_SCOPES
from tests.helpers import assets, invoices
from tests.helpers.api_keys import by_header, issue
from tests.helpers.documents import PNG, upload
from tests.helpers.http import API
from tests.helpers.identity import Account, add_user, signup

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
REQUEST_TIMEOUT_SECONDS = 10.0
CALLER_KINDS = ("owner", "assistant", "api_key")
# Set by the fuzz on every request, whatever was generated: the caller's credential and
# tenant, and `If-Match: *` so that updates and state changes reach their rules.
FUZZ_HEADERS = frozenset({"authorization", "x-api-key", "x-tenant-id", "if-match"})

schemathesis.openapi.format(
    "date",
    st.one_of(st.dates(date(1900, 1, 1), date(2199, 12, 31)), st.dates()).map(date.isoformat),
)


def _operation_ids() -> list[str]:
    """Every operation of the spec, read from an app that is built but never started,
    except endless streams (`text/event-stream`: a fuzzed request would wait forever;
    tests/test_live_events.py tests them against a real server)."""
    spec = create_app(Settings(_env_file=None, environment="test")).openapi()  # type: ignore[call-arg]
    return [
        operation["operationId"]
        for path_item in spec["paths"].values()
        for operation in path_item.values()
        if "text/event-stream" not in operation["responses"].get("200", {}).get("content", {})
    ]


@pytest.fixture(scope="session")
async def api_schema(app: FastAPI) -> schemathesis.BaseSchema:
    """The spec as the running app serves it at /openapi.json."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json())


@dataclass
class Caller:
    kind: str
    headers: dict[str, str]
    user_id: str | None = None
    key_id: str | None = None


@dataclass
class FuzzTenant:
    """A tenant, its callers, its rows, and its steward: the owner who makes the callers
    and the rows and never is a caller, so a caller that signed itself out, was
    deactivated or revoked is replaced."""

    client: httpx.AsyncClient
    steward: Account
    callers: dict[str, Caller] = field(default_factory=dict)
    rows: dict[str, list[str]] = field(default_factory=dict)
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    async def new_caller(self, kind: str) -> None:
        if kind == "api_key":
            response = await issue(self.client, self.steward, sorted(API_KEY_SCOPES))
            assert response.status_code == 201, response.text
            key = response.json()
            self.callers[kind] = Caller(kind, by_header(key["key"], self.steward), key_id=key["id"])
            return
        role = "TENANT_OWNER" if kind == "owner" else "ASSISTANT"
        email = f"{kind}{next(self._serial)}@fuzzco.example.com"
        account = await add_user(self.client, self.steward, email, role)
        self.callers[kind] = Caller(kind, account.headers, user_id=str(account.user_id))

    async def real_ids(self, name: str) -> list[str]:
        """Ids of real rows for a parameter or field called `name`; none for other names."""
        if name in ("user_id", "actor_id"):
            return [caller.user_id for caller in self.callers.values() if caller.user_id]
        if name == "key_id":
            return [caller.key_id for caller in self.callers.values() if caller.key_id]
        if name == "tenant_id":
            return [str(self.steward.tenant_id)]
        if name in ROW_MAKERS and name not in self.rows:
            await ROW_MAKERS[name](self)
        return self.rows.get(name, [])

    async def _post(self, path: str, body: dict[str, Any]) -> str:
        response = await self.client.post(f"{API}{path}", json=body, headers=self.steward.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def make_vendor(self) -> None:
        self.rows["vendor_id"] = [await invoices.vendor(self.client, self.steward)]

    async def make_invoices(self) -> None:
        """A typed invoice, complete, and a document's draft, lacking what a scan lacks."""
        vendor_id = (await self.real_ids("vendor_id"))[0]
        typed = await invoices.invoice(self.client, self.steward, vendor_id)
        batch_id = (await self.real_ids("batch_id"))[0]
        uploaded = await upload(self.client, self.steward, ("scan.png", PNG), batch_id=batch_id)
        created = uploaded.json()["files"][0]
        self.rows["invoice_id"] = [typed.json()["id"], created["invoice_id"]]
        self.rows["document_id"] = [created["document_id"]]

    async def make_batch(self) -> None:
        self.rows["batch_id"] = [await self._post("/batches", {"name": "Post"})]

    async def make_assets(self) -> None:
        category_id = await assets.category(self.client, self.steward)
        asset_id = (await assets.asset(self.client, self.steward, category_id))["id"]
        opened = await self.client.post(
            f"{API}/assets/{asset_id}/maintenance",
            json={"started_on": "2026-02-01"},
            headers=await assets.at_current_version(self.client, self.steward, asset_id),
        )
        assert opened.status_code == 201, opened.text
        record_id = str(opened.json()["id"])
        self.rows |= {
            "category_id": [category_id],
            "asset_id": [asset_id],
            "record_id": [record_id],
        }

    async def make_location(self) -> None:
        location_id = await self._post("/locations", {"name": "Berlin", "kind": "site"})
        self.rows |= {"location_id": [location_id], "parent_id": [location_id]}

    async def make_custodian(self) -> None:
        custodian = {"name": "Kim", "email": "kim@fuzzco.example.com"}
        self.rows["custodian_id"] = [await self._post("/custodians", custodian)]


# What makes the rows a parameter or field of each name refers to.
ROW_MAKERS: dict[str, Callable[[FuzzTenant], Awaitable[None]]] = {
    "vendor_id": FuzzTenant.make_vendor,
    "invoice_id": FuzzTenant.make_invoices,
    "document_id": FuzzTenant.make_invoices,
    "batch_id": FuzzTenant.make_batch,
    "category_id": FuzzTenant.make_assets,
    "asset_id": FuzzTenant.make_assets,
    "record_id": FuzzTenant.make_assets,
    "location_id": FuzzTenant.make_location,
    "parent_id": FuzzTenant.make_location,
    "custodian_id": FuzzTenant.make_custodian,
}


async def _use_real_ids(case: Case, tenant: FuzzTenant, data: st.DataObject) -> None:
    """Every id in the case's path, query and (top-level) body becomes a real row's id."""
    for values in (case.path_parameters, case.query, case.body):
        if not isinstance(values, dict):
            continue
        for name in list(values):
            ids = await tenant.real_ids(name)
            if ids:
                values[name] = data.draw(st.sampled_from(ids), label=name)


@dataclass
class FuzzTarget:
    tenant: FuzzTenant
    secured: bool
    cases: st.SearchStrategy[Case]


@pytest.fixture
async def fuzz_target(
    client: httpx.AsyncClient, api_schema: schemathesis.BaseSchema, operation_id: str
) -> FuzzTarget:
    """The operation's tenant with its callers, and the cases to send: valid ones and,
    where there is something to break, ones that break the spec."""
    operation = api_schema.find_operation_by_id(operation_id)
    tenant = FuzzTenant(client, await signup(client, "fuzzco"))
    for kind in CALLER_KINDS:
        await tenant.new_caller(kind)
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if operation.path_parameters or operation.query or operation.body:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    secured = bool(operation.definition.raw.get("security"))
    return FuzzTarget(tenant, secured, st.one_of(strategies))


def _wire_request(case: Case, caller: Caller) -> requests.PreparedRequest:
    """The request schemathesis would send for `case`, with the caller's headers."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {
        name: value for name, value in kwargs["headers"].items() if name.lower() not in FUZZ_HEADERS
    }
    headers |= {**caller.headers, "If-Match": "*"}
    return requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        cookies=kwargs.get("cookies"),
        data=kwargs.get("data"),
        json=kwargs.get("json"),
        files=kwargs.get("files"),
    ).prepare()


def _checks_for(response: httpx.Response) -> list[Callable[..., Any]]:
    """No 5xx; a body that matches the schema documented for its status and media type
    (problem+json answers included: `Problem` or `ValidationProblem`); and a success in a
    media type the spec documents, carrying every header the spec says it sends (ETag,
    Location on a 201, X-Request-ID, Content-Disposition)."""
    checks: list[Callable[..., Any]] = [not_a_server_error, response_schema_conformance]
    if response.is_success:
        checks += [content_type_conformance, response_headers_conformance]
    return checks


@pytest.mark.parametrize("operation_id", _operation_ids())
@settings(
    max_examples=MAX_EXAMPLES,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
@seed(SEED)
@given(data=st.data())
async def test_every_answer_stays_inside_the_spec(
    data: st.DataObject, operation_id: str, fuzz_target: FuzzTarget
) -> None:
    case = data.draw(fuzz_target.cases, label="case")
    tenant = fuzz_target.tenant
    if data.draw(st.booleans(), label="real ids"):
        await _use_real_ids(case, tenant, data)
    for kind in CALLER_KINDS:
        request = _wire_request(case, tenant.callers[kind])
        async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
            response = await tenant.client.request(
                request.method or "GET",
                request.url or "",
                headers=dict(request.headers),
                content=request.body,
            )
        if fuzz_target.secured and response.status_code == 401:
            # The credential has ended (signed out, deactivated, revoked, locked out) or
            # does not fit (a key where only a bearer token does): the next example gets
            # a fresh one.
            await tenant.new_caller(kind)
        try:
            case.validate_response(response, checks=_checks_for(response))
        except Exception as failure:
            failure.add_note(f"The caller: {kind}.")
            raise
