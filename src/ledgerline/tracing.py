"""OpenTelemetry tracing, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Off, nothing here imports the SDK, the exporter or an instrumentation (a test checks in
a fresh process; FastAPI itself imports the small `opentelemetry` API package, which
stays idle without a provider). On, spans go by OTLP/HTTP to
`<endpoint>/v1/traces` in batches: requests from FastAPI's own telemetry (given this
tracer provider; no middleware of ours), SQL statements from the SQLAlchemy
instrumentation and driver calls from the asyncpg one. The SDK's other OTEL_* variables
(OTEL_SERVICE_NAME, OTEL_BSP_*, OTEL_TRACES_SAMPLER ...) apply as usual.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ledgerline.config import Settings

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.sdk.trace import TracerProvider

    from ledgerline.db.engine import Database

MISSING_PACKAGES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT is set, but the tracing packages are not installed:"
    " install ledgerline[tracing]"
)


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting to the configured collector, or None when tracing is off."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        raise RuntimeError(MISSING_PACKAGES) from error
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or "ledgerline"}
    )
    provider = TracerProvider(resource=resource)
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def fastapi_telemetry(provider: TracerProvider | None) -> TelemetryConfig:
    """FastAPI's native telemetry: request spans through `provider`, else all of it off
    (its metrics and logs too: /metrics and the JSON log cover those). Never its own
    exporters (FASTAPI_OTEL_AUTO_CONFIGURE), which would send every span twice."""
    if provider is None:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {"tracer_provider": provider, "metrics": False, "logs": False, "auto_configure": False}


def instrument_database(provider: TracerProvider | None, database: Database) -> None:
    """Spans for SQL statements (both engines) and asyncpg calls."""
    if provider is None:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The instrumentation declares SQLAlchemy < 2.1 and would otherwise refuse 2.1, whose
    # engine events it hooks are unchanged (the operations test sees its spans).
    SQLAlchemyInstrumentor().instrument(
        engines=[database.runtime_engine.sync_engine, database.platform_engine.sync_engine],
        tracer_provider=provider,
        skip_dep_check=True,
    )
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
