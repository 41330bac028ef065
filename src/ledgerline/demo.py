"""`ledgerline demo`: a tenant to look around in, made through the API itself.

Every row is made by the app's own HTTP routes, in process (rate limits off), so the
demo is what people would have made: validated, audited, versioned, with the invoices'
PDFs read by the document worker. Dates are relative to today, so payments are never in
the future and due dates fall on both sides of it. A second run finds the tenant and
changes nothing. Refused in production: its passwords are printed.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.invoices.textpdf import text_pdf
from ledgerline.values import cents

API = "/api/v1"
SLUG = "demo"
TENANT_NAME = "Demo Trading GmbH"
PASSWORD = "demo passphrase, never for production"  # noqa: S105 - printed on purpose
OWNER_EMAIL = "olivia.owner@demo.example.com"
ASSISTANT_EMAIL = "arthur.assistant@demo.example.com"
ADMIN_EMAIL = "admin@demo.example.com"
DOCUMENT_WAIT_SECONDS = 60.0


class DemoFailed(RuntimeError):
    """A request of the demo got an answer it did not expect."""


@dataclass
class DemoReport:
    tenant_id: str
    created: bool
    invoices: dict[str, str] = field(default_factory=dict)  # number -> status
    assets: dict[str, str] = field(default_factory=dict)  # name -> depreciation method


def months_before(day: date, months: int) -> date:
    """The first day of the month `months` before `day`'s."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


class Client:
    """JSON over the in-process app as one caller; any unexpected status raises."""

    def __init__(self, http: httpx.AsyncClient, headers: Mapping[str, str]) -> None:
        self.http = http
        self.headers = dict(headers)

    async def request(
        self, method: str, path: str, *, expect: int = 200, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.http.request(method, API + path, headers=headers, **kwargs)
        if response.status_code != expect:
            raise DemoFailed(f"{method} {path}: {response.status_code} {response.text}")
        return response

    async def post(self, path: str, body: object = None, *, expect: int = 201) -> Any:
        response = await self.request("POST", path, json=body, expect=expect)
        return response.json() if response.content else None

    async def get(self, path: str) -> Any:
        return (await self.request("GET", path)).json()

    async def etag(self, path: str) -> str:
        return (await self.request("GET", path)).headers["etag"]

    async def change(
        self, row: str, method: str, path: str, body: object = None, *, expect: int = 200
    ) -> Any:
        """A change of the versioned row at `row`, at the version read just now."""
        headers = {"If-Match": await self.etag(row)}
        response = await self.request(method, path, json=body, headers=headers, expect=expect)
        return response.json() if response.content else None


@dataclass(frozen=True)
class InvoiceSpec:
    vendor: str
    number: str
    issued_days_ago: int
    lines: tuple[tuple[str, str, str, str], ...]  # description, quantity, unit price, tax
    status: str  # what the demo leaves it as
    paid_parts: int = 0

    def total(self) -> Decimal:
        total = Decimal("0")
        for _, quantity, unit_price, tax_rate in self.lines:
            subtotal = cents(Decimal(quantity) * Decimal(unit_price))
            total += subtotal + cents(subtotal * Decimal(tax_rate))
        return total


VENDORS: dict[str, dict[str, Any]] = {
    "paper": {
        "name": "Paper & Print GmbH",
        "tax_id": "DE 123 456 789",
        "default_currency": "EUR",
        "payment_terms_days": 14,
        "bank_account": "DE89370400440532013000",
        "email": "billing@paper-print.example.com",
    },
    "northwind": {
        "name": "Northwind Office Supplies Ltd",
        "tax_id": "GB 987 654 321",
        "default_currency": "GBP",
        "payment_terms_days": 30,
    },
    "contoso": {
        "name": "Contoso Cloud Inc.",
        "tax_id": "DE 811 907 980",
        "default_currency": "EUR",
        "payment_terms_days": 30,
    },
}

INVOICES = (
    InvoiceSpec(
        "paper", "PP-1001", 75, (("Copy paper A4, box", "40", "24.50", "0.19"),), "paid", 2
    ),
    InvoiceSpec(
        "contoso",
        "CC-2026-11",
        40,
        (("Cloud hosting", "1", "1000.00", "0.19"), ("Support plan", "1", "250.00", "0.19")),
        "approved",
        1,
    ),
    InvoiceSpec("northwind", "NW-5531", 20, (("Desk chairs", "6", "145.00", "0.20"),), "approved"),
    InvoiceSpec("paper", "PP-1002", 12, (("Business cards", "500", "0.12", "0.19"),), "submitted"),
    InvoiceSpec(
        "northwind", "NW-5540", 9, (("Whiteboard markers", "30", "2.10", "0.20"),), "rejected"
    ),
    InvoiceSpec("contoso", "CC-2026-12", 6, (("Domain renewal", "2", "15.00", "0.19"),), "void"),
    InvoiceSpec("paper", "PP-1003", 2, (("Envelopes C4", "200", "0.35", "0.19"),), "draft"),
)


def invoice_pdf(spec: InvoiceSpec, vendor: Mapping[str, Any], today: date) -> bytes:
    issued = today - timedelta(days=spec.issued_days_ago)
    due = issued + timedelta(days=vendor["payment_terms_days"])
    currency = vendor["default_currency"]
    lines = [
        vendor["name"],
        f"VAT ID: {vendor['tax_id']}",
        "",
        f"Invoice No: {spec.number}",
        f"Invoice date: {issued.isoformat()}",
        f"Due date: {due.isoformat()}",
        "",
    ]
    for description, quantity, unit_price, tax_rate in spec.lines:
        lines.append(f"{description}: {quantity} x {unit_price} {currency}, VAT {tax_rate}")
    lines += ["", f"Total: {spec.total():,.2f} {currency}"]
    return text_pdf(lines)


async def _signup(http: httpx.AsyncClient) -> dict[str, Any] | None:
    """The owner's sign-up, or None when the demo tenant exists."""
    response = await http.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": TENANT_NAME, "slug": SLUG},
            "owner": {"email": OWNER_EMAIL, "password": PASSWORD, "full_name": "Olivia Owner"},
        },
    )
    if response.status_code == 409:
        return None
    if response.status_code != 201:
        raise DemoFailed(f"sign-up: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


async def _tenant_id(http: httpx.AsyncClient) -> str:
    response = await http.post(
        f"{API}/auth/login",
        headers={"X-Tenant-ID": SLUG},
        json={"email": OWNER_EMAIL, "password": PASSWORD},
    )
    if response.status_code != 200:
        raise DemoFailed(
            f"a tenant {SLUG!r} exists, but its demo owner cannot log in"
            f" ({response.status_code}); it was not made by `ledgerline demo`"
        )
    # The token names its tenant (`tid`); it was issued just now by this very app.
    payload = response.json()["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["tid"])


async def _wait_for_documents(owner: Client, document_ids: list[str]) -> None:
    deadline = asyncio.get_running_loop().time() + DOCUMENT_WAIT_SECONDS
    for document_id in document_ids:
        while True:
            document = await owner.get(f"/documents/{document_id}")
            if document["processing_status"] not in ("queued", "processing"):
                break
            if asyncio.get_running_loop().time() > deadline:
                raise DemoFailed(f"document {document_id} was not read within a minute")
            await asyncio.sleep(0.2)


async def _invoices(
    owner: Client, assistant: Client, vendor_ids: dict[str, str], today: date
) -> dict[str, str]:
    batch = await owner.post("/batches", {"name": "Demo post"})
    files = [
        (
            "files",
            (
                f"{spec.number}.pdf",
                invoice_pdf(spec, VENDORS[spec.vendor], today),
                "application/pdf",
            ),
        )
        for spec in INVOICES
    ]
    uploaded = (
        await owner.request(
            "POST", "/invoices/upload", files=files, data={"batch_id": batch["id"]}, expect=201
        )
    ).json()["files"]
    await _wait_for_documents(owner, [item["document_id"] for item in uploaded])
    statuses = {}
    for spec, item in zip(INVOICES, uploaded, strict=True):
        row = f"/invoices/{item['invoice_id']}"
        vendor = VENDORS[spec.vendor]
        issued = today - timedelta(days=spec.issued_days_ago)
        await owner.change(
            row,
            "PATCH",
            row,
            {
                "vendor_id": vendor_ids[spec.vendor],
                "number": spec.number,
                "issue_date": issued.isoformat(),
                "due_date": (issued + timedelta(days=vendor["payment_terms_days"])).isoformat(),
                "currency": vendor["default_currency"],
                "lines": [
                    {
                        "description": description,
                        "quantity": quantity,
                        "unit_price": unit_price,
                        "tax_rate": tax_rate,
                    }
                    for description, quantity, unit_price, tax_rate in spec.lines
                ],
            },
        )
        if spec.status == "void":
            await owner.change(row, "POST", f"{row}/void")
        elif spec.status != "draft":
            await assistant.change(row, "POST", f"{row}/submit")
        if spec.status == "rejected":
            reason = {"reason": "Not ordered by us: the markers went to another customer."}
            await owner.change(row, "POST", f"{row}/reject", reason)
        if spec.status in ("approved", "paid"):
            await owner.change(row, "POST", f"{row}/approve")
        total = spec.total()
        first = cents(total * Decimal("0.4"))
        # Two parts settle the invoice; one part leaves it approved, partly paid.
        for part, amount in enumerate([first, total - first][: spec.paid_parts], start=1):
            paid_on = min(today, issued + timedelta(days=10 * part))
            payment = {
                "paid_on": paid_on.isoformat(),
                "amount": str(amount),
                "reference": f"SEPA-{spec.number}-{part}",
            }
            await owner.change(row, "POST", f"{row}/pay", payment)
        statuses[spec.number] = (await owner.get(row))["status"]
    return statuses


async def _assets(owner: Client, assistant_user_id: str, today: date) -> dict[str, str]:
    categories = {}
    for name, method, months, extra in (
        ("IT equipment", "straight_line", 36, {"salvage_percent": "10"}),
        ("Vehicles", "declining_balance", 60, {"declining_rate": "0.25"}),
        ("Machinery", "double_declining_balance", 120, {"convention": "mid_month"}),
        ("Furniture", "sum_of_years_digits", 84, {}),
        ("Printing presses", "units_of_production", 120, {}),
    ):
        body = {"name": name, "depreciation_method": method, "useful_life_months": months}
        categories[method] = (await owner.post("/asset-categories", body | extra))["id"]
    berlin = await owner.post("/locations", {"name": "Berlin", "kind": "site"})
    office = await owner.post(
        "/locations", {"name": "Headquarters", "kind": "building", "parent_id": berlin["id"]}
    )
    room_101, room_204 = [
        (await owner.post("/locations", {"name": room, "kind": "room", "parent_id": office["id"]}))[
            "id"
        ]
        for room in ("Room 101", "Room 204")
    ]
    hamburg = await owner.post("/locations", {"name": "Hamburg warehouse", "kind": "site"})
    kim = await owner.post("/custodians", {"name": "Kim Lee", "email": "kim@demo.example.com"})
    arthur = await owner.post(
        "/custodians", {"name": "Arthur Assistant", "user_id": assistant_user_id}
    )

    async def asset(name: str, method: str, months_ago: int, cost: str, **more: Any) -> str:
        acquired = months_before(today, months_ago) + timedelta(days=4)
        body = {
            "name": name,
            "category_id": categories[method],
            "acquisition_date": acquired.isoformat(),
            "in_service_date": (acquired + timedelta(days=5)).isoformat(),
            "cost": cost,
            "currency": "EUR",
        }
        created = await owner.post("/assets", body | more)
        return str(created["id"])

    laptops = await asset(
        "Laptop fleet",
        "straight_line",
        14,
        "12000.00",
        location_id=room_101,
        custodian_id=kim["id"],
    )
    await owner.change(
        f"/assets/{laptops}",
        "POST",
        f"/assets/{laptops}/transfer",
        {
            "location_id": room_204,
            "on": months_before(today, 3).isoformat(),
            "note": "Team moved upstairs",
        },
    )
    van = await asset(
        "Delivery van", "declining_balance", 20, "38500.00", location_id=hamburg["id"]
    )
    service = await owner.change(
        f"/assets/{van}",
        "POST",
        f"/assets/{van}/maintenance",
        {
            "started_on": months_before(today, 2).isoformat(),
            "cost": "420.00",
            "vendor": "Hamburg Motors",
            "note": "Annual service",
        },
        expect=201,
    )
    await owner.change(
        f"/assets/{van}",
        "POST",
        f"/assets/{van}/maintenance/{service['id']}/close",
        {"ended_on": (months_before(today, 2) + timedelta(days=2)).isoformat()},
    )
    mill = await asset(
        "CNC mill", "double_declining_balance", 26, "84000.00", location_id=hamburg["id"]
    )
    await owner.change(
        f"/assets/{mill}",
        "POST",
        f"/assets/{mill}/maintenance",
        {"started_on": today.isoformat(), "vendor": "Mill Service AG", "note": "Spindle repair"},
        expect=201,
    )
    furniture = await asset(
        "Meeting room furniture", "sum_of_years_digits", 30, "6400.00", location_id=room_101
    )
    await owner.change(
        f"/assets/{furniture}",
        "POST",
        f"/assets/{furniture}/dispose",
        {"on": months_before(today, 1).isoformat(), "method": "sale", "proceeds": "2500.00"},
    )
    press = await asset(
        "Offset press", "units_of_production", 4, "150000.00", total_units="1000000"
    )
    for months_ago, units in ((3, "42000"), (2, "51000"), (1, "47500")):
        period = months_before(today, months_ago).isoformat()
        await owner.post(f"/assets/{press}/usage", {"period": period, "units": units}, expect=204)
    await owner.post(
        "/assets",
        {
            "name": "Spare server (not yet in service)",
            "category_id": categories["straight_line"],
            "acquisition_date": (today - timedelta(days=3)).isoformat(),
            "cost": "4200.00",
            "currency": "EUR",
            "custodian_id": arthur["id"],
        },
    )
    listed = await owner.get("/assets?limit=100")
    return {item["name"]: item["depreciation_method"] for item in listed["items"]}


async def seed(settings: Settings, today: date | None = None) -> DemoReport:
    """Make the demo tenant unless it exists; `settings` name a migrated database."""
    today = today or datetime.now(UTC).date()
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
            signed_up = await _signup(http)
            if signed_up is None:
                return DemoReport(tenant_id=await _tenant_id(http), created=False)
            tenant_id = signed_up["tenant"]["id"]
            owner = Client(
                http,
                {
                    "Authorization": f"Bearer {signed_up['tokens']['access_token']}",
                    "X-Tenant-ID": tenant_id,
                },
            )
            assistant_user = await owner.post(
                "/users",
                {
                    "email": ASSISTANT_EMAIL,
                    "full_name": "Arthur Assistant",
                    "role": "ASSISTANT",
                    "password": PASSWORD,
                },
            )
            login = await http.post(
                f"{API}/auth/login",
                headers={"X-Tenant-ID": SLUG},
                json={"email": ASSISTANT_EMAIL, "password": PASSWORD},
            )
            assistant = Client(
                http,
                {
                    "Authorization": f"Bearer {login.json()['access_token']}",
                    "X-Tenant-ID": tenant_id,
                },
            )
            vendor_ids = {
                key: (await owner.post("/vendors", body))["id"] for key, body in VENDORS.items()
            }
            report = DemoReport(tenant_id=tenant_id, created=True)
            report.invoices = await _invoices(owner, assistant, vendor_ids, today)
            report.assets = await _assets(owner, assistant_user["id"], today)
            return report


def describe(report: DemoReport, settings: Settings) -> str:
    """What the demo holds and how to sign in to it."""
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        (
            f"Made the demo tenant {SLUG!r} ({TENANT_NAME}, id {report.tenant_id})."
            if report.created
            else f"The demo tenant {SLUG!r} (id {report.tenant_id}) is already there: unchanged."
        ),
        "",
        f"Every account's password: {PASSWORD}",
        f"  TENANT_OWNER  {OWNER_EMAIL}",
        f"  ASSISTANT     {ASSISTANT_EMAIL}",
        f"  ADMIN         {ADMIN_EMAIL}  (platform console; no tenant)",
        "",
        f"Start the server (make run), then open {base}/docs: Authorize with an email as",
        f"username, the password, and {SLUG!r} as client_id. Or with curl:",
        f"  curl -s {base}{API}/auth/login -H 'X-Tenant-ID: {SLUG}' \\",
        "    -H 'Content-Type: application/json' \\",
        f'    -d \'{{"email": "{OWNER_EMAIL}", "password": "{PASSWORD}"}}\'',
    ]
    if report.created:
        lines += ["", "Invoices (each from its PDF):"]
        lines += [f"  {number:<12} {status}" for number, status in report.invoices.items()]
        lines += ["Assets:"]
        lines += [f"  {name:<34} {method}" for name, method in report.assets.items()]
    return "\n".join(lines)
