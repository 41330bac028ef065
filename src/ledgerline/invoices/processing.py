"""The background reading of uploaded documents: a job queue on PostgreSQL.

The job is the document row, queued in the upload's own transaction, so a job exists
exactly when its upload committed and survives restarts. Workers (one per serving
process, as many processes as wanted) claim due rows with `FOR UPDATE SKIP LOCKED`,
marking them `processing` under a lease; the claim commits before the work, so no
transaction stays open while a document is read, and a worker that dies leaves its
claim to expire and be taken again. Results are written in the tenant's own
transaction (runtime role, RLS): a worker can only fill in the draft of the tenant
whose document it read. A failed attempt is retried with exponential backoff up to
DOCUMENT_MAX_ATTEMPTS; the upload and its draft are never removed. A document whose last
attempt ran past its lease is given up: the claim finds it across tenants, and it is
marked failed, with its `document.failed` event, in its own tenant's transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.leases import backoff, claim_due
from ledgerline.invoices.documents import announce_documents
from ledgerline.invoices.extraction import Extraction, read_document
from ledgerline.invoices.models import (
    Invoice,
    InvoiceDocument,
    InvoiceStatus,
    ProcessingStatus,
)
from ledgerline.invoices.storage import DocumentStorage
from ledgerline.vendors.models import Vendor

logger = logging.getLogger(__name__)

BATCH_SIZE = 5
MAX_BACKOFF = timedelta(hours=1)
# How long a claimed document is left to its worker before another may take it.
PROCESSING_LEASE = timedelta(minutes=10)
# A document taking longer to read is a failed attempt (its thread is left to finish).
READ_TIMEOUT = timedelta(minutes=2)
GAVE_UP = "Every attempt ran out of time; enter the fields by hand."


@dataclass(frozen=True, slots=True)
class Job:
    tenant_id: UUID
    document_id: UUID
    invoice_id: UUID
    storage_key: str
    content_type: str
    attempt: int


class DocumentProcessor:
    def __init__(self, settings: Settings, database: Database, storage: DocumentStorage) -> None:
        self.settings = settings
        self.database = database
        self.storage = storage

    async def run_once(self) -> int:
        """Process what is due now; return how many documents were tried."""
        jobs = await self._claim()
        for job in jobs:
            try:
                content = await self.storage.get(job.storage_key)
                extraction = await asyncio.wait_for(
                    asyncio.to_thread(read_document, content, job.content_type),
                    READ_TIMEOUT.total_seconds(),
                )
                await self._record_result(job, extraction)
            except Exception as error:
                logger.warning(
                    "document not processed",
                    exc_info=True,
                    extra={"document_id": str(job.document_id), "attempt": job.attempt},
                )
                await self._record_failure(job, f"{type(error).__name__}: {error}")
        return len(jobs)

    def _given_up(self, now: datetime) -> tuple[ColumnElement[bool], ...]:
        """A document whose every attempt ran past its lease (it stalls or kills its
        worker): given up, not claimed again forever."""
        return (
            InvoiceDocument.processing_status == ProcessingStatus.PROCESSING,
            InvoiceDocument.attempts >= self.settings.document_max_attempts,
            InvoiceDocument.next_attempt_at <= now,
        )

    async def _claim(self) -> list[Job]:
        now = datetime.now(UTC)
        async with self.database.platform_sessions() as session, session.begin():
            given_up = (
                await session.execute(
                    select(InvoiceDocument.tenant_id, InvoiceDocument.id).where(
                        *self._given_up(now)
                    )
                )
            ).all()
            due = await claim_due(
                session,
                InvoiceDocument,
                ready=or_(
                    InvoiceDocument.processing_status == ProcessingStatus.QUEUED,
                    and_(
                        InvoiceDocument.processing_status.in_(
                            [ProcessingStatus.PROCESSING, ProcessingStatus.FAILED]
                        ),
                        InvoiceDocument.attempts < self.settings.document_max_attempts,
                    ),
                ),
                status=("processing_status", ProcessingStatus.PROCESSING),
                now=now,
                lease=PROCESSING_LEASE,
                limit=BATCH_SIZE,
            )
            for document in due:
                document.started_at = now
                document.finished_at = None
        for tenant_id, document_id in given_up:
            await self._give_up(tenant_id, document_id, now)
        return [
            Job(d.tenant_id, d.id, d.invoice_id, d.storage_key, d.content_type, d.attempts)
            for d in due
        ]

    async def _give_up(self, tenant_id: UUID, document_id: UUID, now: datetime) -> None:
        """Mark a given-up document failed and emit its `document.failed`, in one
        transaction of the document's own tenant: row security then admits the event
        only as that tenant's. Of two workers giving up one document, the second finds
        it failed already and writes nothing."""
        async with self.database.tenant_transaction(tenant_id) as session:
            document = await session.scalar(
                update(InvoiceDocument)
                .where(InvoiceDocument.id == document_id, *self._given_up(now))
                .values(
                    processing_status=ProcessingStatus.FAILED,
                    failure_reason=GAVE_UP,
                    finished_at=now,
                )
                .returning(InvoiceDocument)
            )
            if document is not None:
                await announce_documents(session, [document])

    async def _record_result(self, job: Job, extraction: Extraction) -> None:
        async with self.database.tenant_transaction(job.tenant_id) as session:
            document = await self._still_mine(session, job)
            if document is None:
                return
            invoice = await session.scalar(
                select(Invoice).where(Invoice.id == job.invoice_id).with_for_update()
            )
            note = extraction.note
            if invoice is not None and invoice.status == InvoiceStatus.DRAFT:
                conflict = await _fill_draft(session, invoice, extraction.fields)
                note = " ".join(filter(None, [note, conflict])) or None
            complete = extraction.complete and note is None
            document.processing_status = (
                ProcessingStatus.EXTRACTED if complete else ProcessingStatus.NEEDS_REVIEW
            )
            document.extracted_fields = extraction.fields
            document.failure_reason = note
            document.finished_at = datetime.now(UTC)
            await announce_documents(session, [document])

    async def _record_failure(self, job: Job, error: str) -> None:
        """Failed, to be retried; the tenant sees a plain reason, the log the error."""
        retry_in = backoff(job.attempt, first=timedelta(seconds=10), cap=MAX_BACKOFF)
        async with self.database.tenant_transaction(job.tenant_id) as session:
            document = await self._still_mine(session, job)
            if document is None:
                return
            document.processing_status = ProcessingStatus.FAILED
            document.failure_reason = (
                f"Attempt {job.attempt} failed ({error.split(':', 1)[0]}); it is retried."
            )
            document.finished_at = datetime.now(UTC)
            document.next_attempt_at = datetime.now(UTC) + retry_in
            await announce_documents(session, [document])

    @staticmethod
    async def _still_mine(session: AsyncSession, job: Job) -> InvoiceDocument | None:
        """The document, locked, if this worker's claim still holds (the lease did not
        run out and pass it to another worker)."""
        document: InvoiceDocument | None = await session.scalar(
            select(InvoiceDocument)
            .where(
                InvoiceDocument.id == job.document_id,
                InvoiceDocument.processing_status == ProcessingStatus.PROCESSING,
                InvoiceDocument.attempts == job.attempt,
            )
            .with_for_update()
        )
        return document


async def _fill_draft(
    session: AsyncSession, invoice: Invoice, fields: dict[str, str]
) -> str | None:
    """Fill the draft's empty fields from the document; what a person entered stays,
    and nothing is filled that would clash with it. Returns a note for the reviewer."""
    notes: list[str] = []
    read = {
        name: date.fromisoformat(fields[name])
        for name in ("issue_date", "due_date")
        if name in fields
    }
    issue = invoice.issue_date or read.get("issue_date")
    due = invoice.due_date or read.get("due_date")
    if issue and due and due < issue:
        notes.append("The dates read do not fit the draft's; they were not used.")
    else:
        invoice.issue_date, invoice.due_date = issue, due
    number = invoice.number or fields.get("number")
    if invoice.vendor_id is None and "vendor_tax_id" in fields:
        vendor = await session.scalar(
            select(Vendor).where(Vendor.tax_id == fields["vendor_tax_id"], Vendor.is_active)
        )
        if vendor is not None and not await _taken(session, vendor.id, number, invoice.id):
            invoice.vendor_id = vendor.id
            invoice.currency = invoice.currency or vendor.default_currency
        elif vendor is not None:
            notes.append(f"This vendor's invoice {number} exists already.")
    if "currency" in fields and invoice.currency is None:
        invoice.currency = fields["currency"]
    if invoice.number is None and number is not None:
        if await _taken(session, invoice.vendor_id, number, invoice.id):
            notes.append(f"This vendor's invoice {number} exists already.")
        else:
            invoice.number = number
    await session.flush()
    return " ".join(dict.fromkeys(notes)) or None


async def _taken(
    session: AsyncSession, vendor_id: UUID | None, number: str | None, own: UUID
) -> bool:
    if vendor_id is None or number is None:
        return False
    found = await session.scalar(
        select(Invoice.id).where(
            Invoice.vendor_id == vendor_id, Invoice.number == number, Invoice.id != own
        )
    )
    return found is not None
