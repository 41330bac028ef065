"""The application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from ledgerline import __version__
from ledgerline.access import StreamCaller
from ledgerline.api_keys.router import router as api_keys_router
from ledgerline.assets.router import router as assets_router
from ledgerline.audit.router import router as audit_router
from ledgerline.auth.router import router as auth_router
from ledgerline.client_ip import parse_networks
from ledgerline.config import Settings
from ledgerline.dashboard.router import router as dashboard_router
from ledgerline.db import outage
from ledgerline.db.engine import Database
from ledgerline.db.outage import DatabaseUnavailable
from ledgerline.db.roles import verify_runtime_role
from ledgerline.errors import install_error_handlers
from ledgerline.events.hub import Hub
from ledgerline.events.live import SharedRereads
from ledgerline.events.router import router as events_router
from ledgerline.financing.router import router as financing_router
from ledgerline.health.router import router as health_router
from ledgerline.invoices.approvals_router import router as approvals_router
from ledgerline.invoices.documents_router import router as documents_router
from ledgerline.invoices.payments_router import router as payments_router
from ledgerline.invoices.router import router as invoices_router
from ledgerline.invoices.storage import LocalDocumentStorage
from ledgerline.invoices.tax_codes_router import router as tax_codes_router
from ledgerline.ledger.router import router as ledger_router
from ledgerline.log import configure_logging
from ledgerline.metrics import multiprocess_mode, name_routes, process_exited, sample_pools
from ledgerline.middleware import RequestContextMiddleware
from ledgerline.openapi import install as install_openapi
from ledgerline.purchasing.router import router as purchasing_router
from ledgerline.ratelimit import RateLimits
from ledgerline.security.passwords import Passwords
from ledgerline.security.tokens import VerifiedAccessTokens
from ledgerline.tenants.router import router as tenants_router
from ledgerline.threads.router import router as threads_router
from ledgerline.tracing import fastapi_telemetry, instrument_database, tracer_provider
from ledgerline.users.router import router as users_router
from ledgerline.vendors.router import router as vendors_router
from ledgerline.worker import BackgroundJobs

API_PREFIX = "/api/v1"
STARTUP_RETRY_SECONDS = 1.0
# With several workers each one writes its pool figures this often for the others' scrapes.
POOL_SAMPLE_SECONDS = 5.0


async def verify_once_reachable(database: Database) -> None:
    """The start-up check of the runtime role, repeated while the database is unavailable.

    A worker process that (re)starts during an outage waits for the database instead of
    failing its start-up, which would make uvicorn's supervisor stop every worker. An
    unsafe role is still refused at once. (`serve` checks once before any worker starts.)
    """
    while True:
        try:
            await verify_runtime_role(database)
            return
        except DatabaseUnavailable as error:
            outage.report(error.kind, error)
        await asyncio.sleep(STARTUP_RETRY_SECONDS)


async def sample_pools_forever(database: Database) -> None:
    """Multiprocess metrics: keep this worker's pool figures fresh for any worker's scrape."""
    while True:
        sample_pools({"runtime": database.runtime_engine, "platform": database.platform_engine})
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


def create_app(settings: Settings) -> FastAPI:
    tracing = tracer_provider(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        instrument_database(tracing, database)
        try:
            await verify_once_reachable(database)
            app.state.database = database
            app.state.passwords = Passwords(settings)
            jobs = BackgroundJobs(settings, database, app.state.document_storage)
            app.state.mail_sender = jobs.mail_sender
            app.state.document_processor = jobs.document_processor
            if settings.serve_runs_jobs:
                jobs.start()
            # Every API process listens for the events it streams; pruning old ones is
            # a scheduled job of BackgroundJobs (`ledgerline worker`, or here when told).
            app.state.hub = Hub(settings, database)
            # The live streams of one credential share their periodic re-reads of it.
            app.state.caller_rereads = SharedRereads[StreamCaller](
                settings.events_liveness_seconds / 2
            )
            tasks = [asyncio.create_task(app.state.hub.run())]
            if multiprocess_mode():
                tasks.append(asyncio.create_task(sample_pools_forever(database)))
            try:
                yield
            finally:
                await jobs.stop()
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            if hasattr(app.state, "passwords"):
                app.state.passwords.close()
            await app.state.rate_limits.close()
            await database.dispose()
            process_exited()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title="Ledgerline",
        version=__version__,
        summary="Multi-tenant finance operations: supplier invoices, a double-entry ledger and"
        " fixed assets.",
        lifespan=lifespan,
        docs_url=None,  # openapi.install serves /docs
        redoc_url=None,
        openapi_url="/openapi.json",
        telemetry=fastapi_telemetry(tracing),
    )
    app.state.settings = settings
    app.state.rate_limits = RateLimits(settings)
    app.state.access_tokens = VerifiedAccessTokens(settings)
    app.state.document_storage = LocalDocumentStorage(settings.documents_dir)
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Bearer tokens travel in headers, never cookies: no credentials, so "*" is safe.
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-API-Key",
                "X-Request-ID",
                "X-Tenant-ID",
            ],
            expose_headers=[
                "ETag",
                "Location",
                "Idempotent-Replayed",
                "Retry-After",
                "X-Request-ID",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        max_body_bytes=settings.max_request_body_bytes,
        body_timeout=settings.request_body_timeout_seconds,
        larger_bodies={f"{API_PREFIX}/invoices/upload": settings.upload_max_body_bytes},
        metrics_port=settings.metrics_listener[1] if settings.metrics_listener else None,
    )
    app.include_router(health_router)
    name_routes(health_router.routes)
    for router in (
        auth_router,
        users_router,
        api_keys_router,
        audit_router,
        tenants_router,
        assets_router,
        documents_router,  # before /invoices/{invoice_id}: its paths are more specific
        vendors_router,
        invoices_router,
        approvals_router,
        tax_codes_router,
        payments_router,
        ledger_router,
        financing_router,
        dashboard_router,
        purchasing_router,
        threads_router,
        events_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
        name_routes(router.routes, API_PREFIX)
    install_openapi(app)
    return app


def app_from_environment() -> FastAPI:
    """Entry point for uvicorn (`--factory`): settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
