"""Uploaded invoice documents: checked by content, stored, one draft invoice each.

A file's type is what its first bytes say (PDF, PNG or JPEG), never its name or the
client's Content-Type. Its SHA-256 finds a file the tenant uploaded before: the answer
names that invoice instead of making a second one, which also makes a retried upload
harmless. Each new file becomes a draft invoice and a queued processing job (the
document row) in the request's transaction; `processing` reads it in the background.

The documents and batches endpoints each make one call here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db.rows import row_by_id
from ledgerline.events.catalog import batch_progress, document_changed
from ledgerline.invoices import service
from ledgerline.invoices.models import (
    Invoice,
    InvoiceBatch,
    InvoiceDocument,
    InvoiceStatus,
    ProcessingStatus,
)
from ledgerline.invoices.storage import DocumentStorage
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem

SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
# Control characters, path separators, and the bidirectional controls that make
# "invoice\u202efdp.exe" read as "invoiceexe.pdf".
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f/\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def content_type_of(content: bytes) -> str | None:
    """The document type its first bytes announce, or None for anything else."""
    for signature, content_type in SIGNATURES:
        if content.startswith(signature):
            return content_type
    return None


def clean_filename(name: str | None) -> str:
    """The client's file name as a label: its last path part, no control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_IN_NAME.sub("", base).strip()[:255] or "document"


class Readable(Protocol):
    """An uploaded file as the web framework holds it (spooled to disk when large)."""

    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


@dataclass(frozen=True, slots=True)
class IncomingFile:
    filename: str
    size: int
    source: Readable


def too_large(filename: str, max_bytes: int) -> Problem:
    return Problem(
        413,
        "file_too_large",
        f"{filename} is larger than {max_bytes} bytes, the most accepted.",
        extra={"filename": filename, "max_bytes": max_bytes},
    )


async def check_files(files: list[IncomingFile], *, max_files: int, max_bytes: int) -> list[str]:
    """Each file's content type, from its first bytes; the whole upload is refused when
    it has too many files or one file is wrong, before any is read whole."""
    if len(files) > max_files:
        raise Problem(
            413,
            "too_many_files",
            f"At most {max_files} files per upload.",
            extra={"max_files": max_files},
        )
    types = []
    for file in files:
        if file.size > max_bytes:
            raise too_large(file.filename, max_bytes)
        head = await file.source.read(16)
        await file.source.seek(0)
        content_type = content_type_of(head)
        if content_type is None:
            raise Problem(
                415,
                "unsupported_document_type",
                f"{file.filename} is not a PDF, PNG or JPEG file (judged by its content).",
                extra={"filename": file.filename},
            )
        types.append(content_type)
    return types


async def get_batch(session: AsyncSession, batch_id: UUID) -> InvoiceBatch:
    return await row_by_id(session, InvoiceBatch, batch_id, what="batch")


async def create_batch(
    session: AsyncSession, audit: AuditContext, *, name: str, created_by: UUID
) -> InvoiceBatch:
    """A named batch to upload documents into."""
    batch = InvoiceBatch(tenant_id=audit.tenant_id, name=name, created_by=created_by)
    session.add(batch)
    await session.flush()
    audit.record(session, "batch.created", target_type="batch", target_id=batch.id)
    return batch


async def list_batches(
    session: AsyncSession, page: PageRequest
) -> tuple[Sequence[InvoiceBatch], str | None]:
    return await keyset_page(session, select(InvoiceBatch), InvoiceBatch.id, page)


async def batch_with_counts(
    session: AsyncSession, batch_id: UUID
) -> tuple[InvoiceBatch, dict[str, dict[str, int]]]:
    """The batch, and how many of its documents are in each processing status and how
    many of their invoices in each invoice status (see `batch_counts`)."""
    return await get_batch(session, batch_id), await batch_counts(session, batch_id)


async def list_documents(
    session: AsyncSession,
    page: PageRequest,
    *,
    batch_id: UUID | None,
    processing_status: ProcessingStatus | None,
) -> tuple[Sequence[InvoiceDocument], str | None]:
    statement = select(InvoiceDocument)
    if batch_id is not None:
        statement = statement.where(InvoiceDocument.batch_id == batch_id)
    if processing_status is not None:
        statement = statement.where(InvoiceDocument.processing_status == processing_status)
    return await keyset_page(session, statement, InvoiceDocument.id, page)


async def get_document(session: AsyncSession, document_id: UUID) -> InvoiceDocument:
    return await row_by_id(session, InvoiceDocument, document_id, what="document")


async def _existing(session: AsyncSession, sha256: str) -> InvoiceDocument | None:
    found: InvoiceDocument | None = await session.scalar(
        select(InvoiceDocument).where(InvoiceDocument.sha256 == sha256)
    )
    return found


async def upload(
    session: AsyncSession,
    audit: AuditContext,
    storage: DocumentStorage,
    files: list[IncomingFile],
    *,
    max_files: int,
    max_bytes: int,
    batch_id: UUID | None = None,
) -> list[dict[str, Any]]:
    """Store each file and make its draft; a file seen before reports its invoice.
    One file is in memory at a time."""
    types = await check_files(files, max_files=max_files, max_bytes=max_bytes)
    if batch_id is not None:
        await get_batch(session, batch_id)
    results: list[dict[str, Any]] = []
    queued: list[InvoiceDocument] = []
    for file, content_type in zip(files, types, strict=True):
        content = await file.source.read(max_bytes + 1)
        if len(content) > max_bytes:  # larger than it said
            raise too_large(file.filename, max_bytes)
        sha256 = hashlib.sha256(content).hexdigest()
        existing = await _existing(session, sha256)
        if existing is None:
            key = await storage.put(audit.tenant_id, sha256, content)
            try:
                async with session.begin_nested():
                    invoice = await service.new_document_draft(session, audit)
                    document = InvoiceDocument(
                        tenant_id=audit.tenant_id,
                        invoice_id=invoice.id,
                        batch_id=batch_id,
                        filename=file.filename,
                        content_type=content_type,
                        size_bytes=len(content),
                        sha256=sha256,
                        storage_key=key,
                    )
                    session.add(document)
                    await session.flush()
            except IntegrityError:  # the same file, uploaded at the same moment
                existing = await _existing(session, sha256)
                if existing is None:
                    raise
            else:
                audit.record(
                    session,
                    "invoice.document_uploaded",
                    target_type="invoice",
                    target_id=invoice.id,
                    changes={"document_id": str(document.id), "sha256": sha256},
                )
                results.append(_result(file.filename, "created", document))
                queued.append(document)
                continue
        results.append(_result(file.filename, "duplicate", existing))
    await announce_documents(session, queued)
    return results


async def announce_documents(session: AsyncSession, documents: list[InvoiceDocument]) -> None:
    """The documents' events, then each batch's progress: the step's last writes."""
    await session.flush()
    for document in documents:
        await document_changed(session, document)
    for batch_id in dict.fromkeys(d.batch_id for d in documents if d.batch_id is not None):
        tenant_id = documents[0].tenant_id
        await batch_progress(session, tenant_id, batch_id, await batch_counts(session, batch_id))


def _result(filename: str, outcome: str, document: InvoiceDocument) -> dict[str, Any]:
    return {
        "filename": filename,
        "outcome": outcome,
        "invoice_id": str(document.invoice_id),
        "document_id": str(document.id),
        "sha256": document.sha256,
        "processing_status": document.processing_status,
    }


async def document_file(
    session: AsyncSession, storage: DocumentStorage, invoice_id: UUID
) -> tuple[InvoiceDocument, bytes]:
    """The invoice's uploaded document and its content, as it was uploaded."""
    await service.get_invoice(session, invoice_id)
    document = await session.scalar(
        select(InvoiceDocument).where(InvoiceDocument.invoice_id == invoice_id)
    )
    if document is None:
        raise Problem(404, "document_not_found", "This invoice has no uploaded document.")
    return document, await storage.get(document.storage_key)


async def batch_counts(session: AsyncSession, batch_id: UUID) -> dict[str, dict[str, int]]:
    """How many of the batch's documents are in each processing and invoice status."""
    processing = dict(
        (
            await session.execute(
                select(InvoiceDocument.processing_status, func.count())
                .where(InvoiceDocument.batch_id == batch_id)
                .group_by(InvoiceDocument.processing_status)
            )
        ).all()
    )
    invoices = dict(
        (
            await session.execute(
                select(Invoice.status, func.count())
                .join(
                    InvoiceDocument,
                    and_(
                        InvoiceDocument.tenant_id == Invoice.tenant_id,
                        InvoiceDocument.invoice_id == Invoice.id,
                    ),
                )
                .where(InvoiceDocument.batch_id == batch_id)
                .group_by(Invoice.status)
            )
        ).all()
    )
    return {
        "processing": {str(s): processing.get(s, 0) for s in ProcessingStatus},
        "invoices": {str(s): invoices.get(s, 0) for s in InvoiceStatus},
    }
