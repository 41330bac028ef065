"""What `/metrics` reads from the database at each scrape: the background job queues
(document reading, the mail outbox) across every tenant, on the platform connection.

Only unfinished rows are counted (sent mail and read documents are left out), through
partial indexes that hold just those rows (migration 0013), so a scrape stays cheap
however long the tenants' history grows.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text

from ledgerline.config import Settings
from ledgerline.db import outage
from ledgerline.db.engine import Database
from ledgerline.db.outage import DatabaseUnavailable
from ledgerline.problems import Problem, Unauthorized

DOCUMENT_READING = "document_reading"
MAIL = "mail"

# Per kind of job and state: how many, and how old the oldest is (created_at to now).
# queued: waiting for a worker (retries included); running: claimed under a lease;
# failed: given up after the last attempt.
_QUEUE = text(
    """
    SELECT 'document_reading' AS kind,
           CASE WHEN processing_status = 'processing' THEN 'running'
                WHEN processing_status = 'failed' AND attempts >= :document_attempts
                    THEN 'failed'
                ELSE 'queued' END AS state,
           count(*) AS jobs,
           coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_seconds
    FROM invoice_documents
    WHERE processing_status IN ('queued', 'processing', 'failed')
    GROUP BY 1, 2
    UNION ALL
    SELECT 'mail',
           CASE status WHEN 'sending' THEN 'running' WHEN 'failed' THEN 'failed'
                ELSE 'queued' END,
           count(*),
           coalesce(extract(epoch FROM now() - min(created_at)), 0)
    FROM mail_outbox
    WHERE status IN ('pending', 'sending', 'failed')
    GROUP BY 1, 2
    """
)
STATES = ("queued", "running", "failed")


# A scrape waits this long for the queue figures, then answers without them.
QUEUE_FIGURES_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """(kind, state) -> (jobs, age of the oldest in seconds); absent pairs are zero.
    `answered` is False when the database did not answer: the figures are then left out
    of the scrape, and the process's own metrics still go out."""

    answered: bool
    jobs: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)


async def queue_figures(database: Database, settings: Settings) -> QueueFigures:
    try:
        async with asyncio.timeout(QUEUE_FIGURES_TIMEOUT_SECONDS):
            async with database.platform_sessions() as session:
                rows = await session.execute(
                    _QUEUE, {"document_attempts": settings.document_max_attempts}
                )
                jobs = {(r.kind, r.state): (int(r.jobs), float(r.oldest_seconds)) for r in rows}
    except (DatabaseUnavailable, TimeoutError) as error:
        outage.report(getattr(error, "kind", "metrics_timeout"), error)
        return QueueFigures(answered=False)
    return QueueFigures(answered=True, jobs=jobs)


class QueueCollector(Collector):
    """The figures read for one scrape, as Prometheus gauges."""

    def __init__(self, figures: QueueFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "ledgerline_database_up",
            "1 when the database answered this scrape's queries, else 0 (no queue figures).",
        )
        up.add_metric([], 1 if self.figures.answered else 0)
        yield up
        if not self.figures.answered:
            return
        jobs = GaugeMetricFamily(
            "ledgerline_jobs",
            "Background jobs not finished, by kind and state (queued, running, failed).",
            labels=["kind", "state"],
        )
        oldest = GaugeMetricFamily(
            "ledgerline_job_oldest_age_seconds",
            "Age of the oldest job in a state, by kind (0 when there is none).",
            labels=["kind", "state"],
        )
        outbox = GaugeMetricFamily(
            "ledgerline_mail_outbox_messages",
            "Mail not yet delivered: pending, sending, or failed for good.",
            labels=["status"],
        )
        mail_status = {"queued": "pending", "running": "sending", "failed": "failed"}
        for kind in (DOCUMENT_READING, MAIL):
            for state in STATES:
                count, age = self.figures.jobs.get((kind, state), (0, 0.0))
                jobs.add_metric([kind, state], count)
                oldest.add_metric([kind, state], age)
                if kind == MAIL:
                    outbox.add_metric([mail_status[state]], count)
        yield from (jobs, oldest, outbox)


def check_metrics_access(settings: Settings, authorization: str | None, port: int | None) -> None:
    """Who may read `/metrics`: 404 unless METRICS_TOKEN or METRICS_ADDRESS is set, and
    on the METRICS_ADDRESS listener only when that is set; 401 without the token when
    METRICS_TOKEN is set."""
    address = settings.metrics_listener
    token = settings.metrics_token.get_secret_value()
    if (address is None and not token) or (address is not None and port != address[1]):
        raise Problem(404, "not_found", "No resource at /metrics.")
    if token:
        scheme, _, sent = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.encode(), token.encode()):
            raise Unauthorized("metrics_token_required", "Send the metrics token as a Bearer.")
