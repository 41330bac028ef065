from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from ledgerline.db.migrate import head_revision
from ledgerline.db.outage import outage_kind
from ledgerline.deps import DatabaseDep
from ledgerline.errors import database_unavailable
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
