"""`/metrics` through the app in process: off unless configured, the token, requests by
route template, pools, job queues and the mail outbox, sign-in failures and lockouts;
and tracing that stays unimported when it is off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from ledgerline.app import create_app
from ledgerline.config import Settings
from tests.helpers.database import owner_sql
from tests.helpers.documents import invoice_pdf, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import Account, login, signup

TOKEN = "scrape-" + "x" * 32
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
async def metered(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with METRICS_TOKEN set, on the suite's database."""
    application = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}))
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def scraper(metered: FastAPI, empty_tables: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=metered, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_are_off_unless_configured(client: httpx.AsyncClient) -> None:
    answer = await client.get("/metrics")
    assert (answer.status_code, problem_code(answer)) == (404, "not_found")
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_the_token_is_required(scraper: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = await scraper.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert problem_code(refused) == "metrics_token_required"
    assert (await scraper.get("/metrics", headers=SCRAPER)).status_code == 200


async def test_requests_are_counted_by_route_template_and_status(
    scraper: httpx.AsyncClient,
) -> None:
    who = await signup(scraper, "metered")
    route = "/api/v1/vendors/{vendor_id}"
    before = await scrape(scraper)
    missing = [str(uuid.uuid4()) for _ in range(3)]
    for vendor_id in missing:
        answer = await scraper.get(f"{API}/vendors/{vendor_id}", headers=who.headers)
        assert answer.status_code == 404
    await scraper.get(f"{API}/no-such-thing/{missing[0]}")
    for made_up in ("BREW", "PROPFIND", "X-ANYTHING"):
        await scraper.request(made_up, f"{API}/vendors/{missing[0]}", headers=who.headers)
    after = await scrape(scraper)

    counted = "ledgerline_http_requests_total"
    labels = {"method": "GET", "route": route, "status": "404"}
    assert value(after, counted, **labels) - value(before, counted, **labels) == 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, counted, **unmatched) - value(before, counted, **unmatched) == 1
    timed = "ledgerline_http_request_duration_seconds_count"
    assert (
        value(after, timed, method="GET", route=route)
        - value(before, timed, method="GET", route=route)
        == 3
    )
    assert not any(vendor_id in str(key) for key in after for vendor_id in missing)
    # Methods a client makes up share one label: they cannot grow the series.
    other = {"method": "OTHER", "route": route, "status": "405"}
    assert value(after, counted, **other) - value(before, counted, **other) == 3
    assert not any("BREW" in str(key) for key in after)
    assert value(after, "ledgerline_db_pool_connections", pool="runtime", state="idle") >= 1


async def test_job_queues_and_the_mail_outbox_are_read_from_the_database(
    scraper: httpx.AsyncClient, settings: Settings
) -> None:
    who = await signup(scraper, "queues")  # its verification mail is in the outbox
    files = [(f"{n}.pdf", invoice_pdf(f"Invoice No: Q-{n}")) for n in range(3)]
    assert (await upload(scraper, who, *files)).status_code == 201
    # Arranged so that no worker takes them meanwhile: two waiting until tomorrow, one
    # given up an hour ago; the mail given up too.
    await owner_sql(
        settings,
        who.tenant_id,
        "UPDATE invoice_documents SET processing_status = 'queued', attempts = 0,"
        " next_attempt_at = now() + interval '1 day'",
    )
    await owner_sql(
        settings,
        who.tenant_id,
        "UPDATE invoice_documents SET processing_status = 'failed', attempts = $1,"
        " created_at = now() - interval '1 hour'"
        " WHERE id = (SELECT id FROM invoice_documents ORDER BY id LIMIT 1)",
        settings.document_max_attempts,
    )
    await owner_sql(settings, who.tenant_id, "UPDATE mail_outbox SET status = 'failed'")

    samples = await scrape(scraper)
    assert value(samples, "ledgerline_database_up") == 1
    jobs = "ledgerline_jobs"
    assert value(samples, jobs, kind="document_reading", state="queued") == 2
    assert value(samples, jobs, kind="document_reading", state="failed") == 1
    assert value(samples, jobs, kind="document_reading", state="running") == 0
    assert value(samples, jobs, kind="mail", state="failed") == 1
    age = "ledgerline_job_oldest_age_seconds"
    assert 3600 <= value(samples, age, kind="document_reading", state="failed") < 3700
    assert value(samples, age, kind="document_reading", state="queued") < 600
    assert value(samples, "ledgerline_mail_outbox_messages", status="failed") == 1
    assert value(samples, "ledgerline_mail_outbox_messages", status="pending") == 0


async def test_sign_in_failures_and_lockouts_are_counted(
    scraper: httpx.AsyncClient, settings: Settings
) -> None:
    who: Account = await signup(scraper, "guessed")
    before = await scrape(scraper)
    for _ in range(settings.lockout_threshold):
        refused = await login(scraper, who.tenant_id, who.email, "not the password at all")
        assert refused.status_code == 401
    unknown = await login(scraper, who.tenant_id, "nobody@guessed.example.com")
    assert unknown.status_code == 401
    after = await scrape(scraper)

    failures = "ledgerline_login_failures_total"
    for reason, count in (("bad_password", settings.lockout_threshold), ("unknown_or_inactive", 1)):
        labels = {"realm": "tenant", "reason": reason}
        assert value(after, failures, **labels) - value(before, failures, **labels) == count
    lockouts = "ledgerline_account_lockouts_total"
    assert value(after, lockouts, realm="tenant") - value(before, lockouts, realm="tenant") == 1


def test_production_refuses_a_short_metrics_token_and_a_malformed_address() -> None:
    production = {
        "environment": "production",
        "secret_key": "s" * 40,
        "mail_backend": "smtp",
    }
    with pytest.raises(ValueError, match="METRICS_TOKEN must be at least 32"):
        Settings(_env_file=None, metrics_token="short", **production)  # type: ignore[call-arg]
    Settings(_env_file=None, metrics_token=TOKEN, **production)  # type: ignore[call-arg]
    for address in ("9100", "localhost:", "localhost:99999", ":9100"):
        with pytest.raises(ValueError, match="not host:port"):
            Settings(_env_file=None, metrics_address=address)  # type: ignore[call-arg]
    listener = Settings(_env_file=None, metrics_address="[::1]:9100")  # type: ignore[call-arg]
    assert listener.metrics_listener == ("::1", 9100)


def settings_environment(settings: Settings) -> dict[str, str]:
    """`settings` as the environment variables that give them to a fresh process."""
    environment = {}
    for name, field_value in settings.model_dump().items():
        if field_value is None:
            continue
        if isinstance(field_value, SecretStr):
            field_value = field_value.get_secret_value()
        if isinstance(field_value, list | dict):
            field_value = json.dumps(field_value, default=str)
        environment[name.upper()] = str(field_value)
    return environment


TRACING_OFF_PROBE = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from asgi_lifespan import LifespanManager
    from ledgerline.app import create_app
    from ledgerline.config import Settings

    async def main():
        app = create_app(Settings(_env_file=None))
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.get("/ready")).status_code == 200
                assert (await http.post("/api/v1/auth/login", json={})).status_code == 422
        loaded = sorted(
            name for name in sys.modules
            if name.startswith(("opentelemetry.sdk.trace", "opentelemetry.exporter",
                                "opentelemetry.instrumentation"))
        )
        print("loaded:", loaded)
        from opentelemetry import trace
        print("provider:", type(trace.get_tracer_provider()).__name__)

    asyncio.run(main())
    """
)


def test_tracing_off_imports_none_of_its_modules(settings: Settings) -> None:
    """A fresh process that starts the app (engines, workers) and serves requests with
    OTEL_EXPORTER_OTLP_ENDPOINT unset has loaded no tracing SDK, exporter or
    instrumentation, and set no tracer provider. (redis-py imports the SDK's metrics
    part when the SDK is installed, whatever the app does; FastAPI the API package.)"""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "DATABASE_", "PROMETHEUS_"))
    }
    environment |= settings_environment(settings) | {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    probe = subprocess.run(
        [sys.executable, "-c", TRACING_OFF_PROBE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert "loaded: []" in probe.stdout, probe.stdout
    assert "provider: ProxyTracerProvider" in probe.stdout, probe.stdout
