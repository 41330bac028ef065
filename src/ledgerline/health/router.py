"""Probes and metrics: /health (alive), /ready (database and schema), /metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from ledgerline.db.migrate import head_revision
from ledgerline.db.outage import outage_kind
from ledgerline.deps import DatabaseDep
from ledgerline.errors import database_unavailable
from ledgerline.health.operations import QueueCollector, check_metrics_access, queue_figures
from ledgerline.metrics import exposition, sample_pools
from ledgerline.problems import Problem

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

# Shorter than the database timeouts: a probe must answer before its caller gives up.
READINESS_TIMEOUT_SECONDS = 3.0
# Before the first migration (or after a downgrade to base) the table is missing or not
# granted to the runtime role: that is "migrations pending", not "database down".
_VERSION_TABLE_READABLE = text(
    "SELECT coalesce(has_table_privilege(to_regclass('public.alembic_version'), 'SELECT'), false)"
)


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    migration: str


@router.get("/health", operation_id="health")
async def health() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get(
    "/ready",
    operation_id="ready",
    responses={503: {"description": "Database unreachable or migrations not at head"}},
)
async def ready(database: DatabaseDep) -> Readiness:
    """The database answers and its schema is at the head migration."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with database.runtime_sessions() as session:
                current = None
                if await session.scalar(_VERSION_TABLE_READABLE):
                    current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except TimeoutError as error:  # ours, from asyncio.timeout
        raise database_unavailable("readiness_timeout", error) from error
    except Exception as error:
        kind = outage_kind(error)
        if kind is None:
            logger.warning("readiness: database check failed", exc_info=True)
            kind = "readiness_check_failed"
        raise database_unavailable(kind, error) from error
    head = head_revision()
    if current != head:
        raise Problem(
            503,
            "migrations_pending",
            f"The database is at migration {current or 'none'}, not at head {head}.",
        )
    return Readiness(status="ready", migration=current)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus's text format: this service's requests, pools, sign-in failures and
    lockouts (every worker's), and the job queues read from the database now. Off
    unless METRICS_TOKEN or METRICS_ADDRESS is set (see `check_metrics_access`)."""
    settings = request.app.state.settings
    server = request.scope.get("server")
    check_metrics_access(
        settings, request.headers.get("authorization"), server[1] if server else None
    )
    database = request.app.state.database
    sample_pools({"runtime": database.runtime_engine, "platform": database.platform_engine})
    figures = await queue_figures(database, settings)
    return Response(exposition([QueueCollector(figures)]), media_type=CONTENT_TYPE_LATEST)
