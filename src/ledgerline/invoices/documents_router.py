"""Uploaded documents, their processing state, and batches of them.

Each endpoint makes one `documents` call and translates the answer to HTTP.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.deps import SettingsDep
from ledgerline.idempotency import IdempotentRoute
from ledgerline.invoices import documents
from ledgerline.invoices.models import ProcessingStatus
from ledgerline.invoices.schemas import BatchCreate, BatchOut, DocumentOut, UploadOut
from ledgerline.invoices.storage import DocumentStorage
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.security.permissions import Permission

router = APIRouter(tags=["documents"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.INVOICES_READ)]
Write = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE)]
Create = Annotated[TenantRequest, tenant_request(Permission.INVOICES_WRITE, idempotent=True)]


async def document_storage(request: Request) -> DocumentStorage:
    storage: DocumentStorage = request.app.state.document_storage
    return storage


StorageDep = Annotated[DocumentStorage, Depends(document_storage)]


@router.post(
    "/invoices/upload",
    operation_id="upload_invoice_documents",
    status_code=201,
    responses={
        200: {"model": UploadOut, "description": "Every file was uploaded before."},
        415: {"description": "A file is not a PDF, PNG or JPEG."},
    },
)
async def upload_invoice_documents(
    request: Request,
    context: Write,
    storage: StorageDep,
    settings: SettingsDep,
    response: Response,
    files: Annotated[list[UploadFile], File(description="PDF, PNG or JPEG files")],
    batch_id: Annotated[UUID | None, Form()] = None,
) -> UploadOut:
    """One draft invoice per new file, read in the background. A file uploaded before
    (same SHA-256) is reported with its invoice, so a retried upload makes nothing
    twice: 201 when a file was new (`Location`: the first new file's document), 200
    when none was. 413 past UPLOAD_MAX_FILE_BYTES, 415 for anything but PDF, PNG or
    JPEG."""
    incoming = [
        documents.IncomingFile(documents.clean_filename(upload.filename), upload.size or 0, upload)
        for upload in files
    ]
    results = await documents.upload(
        context.session,
        context.audit_context,
        storage,
        incoming,
        max_files=settings.upload_max_files,
        max_bytes=settings.upload_max_file_bytes,
        batch_id=batch_id,
    )
    created = [result for result in results if result["outcome"] == "created"]
    if created:
        document_id = str(created[0]["document_id"])
        response.headers["Location"] = request.app.url_path_for(
            "get_document", document_id=document_id
        )
    else:
        response.status_code = 200
    return UploadOut.model_validate({"files": results})


@router.get(
    "/invoices/{invoice_id}/document",
    operation_id="download_invoice_document",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}}}},
)
async def download_invoice_document(
    invoice_id: UUID, context: Read, storage: StorageDep
) -> Response:
    """The uploaded file, as it was uploaded."""
    document, content = await documents.document_file(context.session, storage, invoice_id)
    ascii_name = document.filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(
        content,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(document.filename)}",
        },
    )


@router.get("/documents", operation_id="list_documents")
async def list_documents(
    context: Read,
    page: Annotated[PageRequest, Depends(page_request)],
    batch_id: UUID | None = None,
    processing_status: ProcessingStatus | None = None,
) -> Page[DocumentOut]:
    """Uploaded documents, newest first, by batch or processing status."""
    rows, cursor = await documents.list_documents(
        context.session, page, batch_id=batch_id, processing_status=processing_status
    )
    return Page(items=[DocumentOut.model_validate(d) for d in rows], next_cursor=cursor)


@router.get("/documents/{document_id}", operation_id="get_document")
async def get_document(document_id: UUID, context: Read) -> DocumentOut:
    """A document's processing: status, attempts, times, failure, extracted fields."""
    return DocumentOut.model_validate(await documents.get_document(context.session, document_id))


@router.post("/batches", operation_id="create_batch", status_code=201)
async def create_batch(body: BatchCreate, context: Create) -> BatchOut:
    """A batch to upload documents into (`batch_id` of the upload)."""
    batch = await documents.create_batch(
        context.session, context.audit_context, name=body.name, created_by=context.principal.id
    )
    return BatchOut.model_validate(batch)


@router.get("/batches", operation_id="list_batches")
async def list_batches(
    context: Read, page: Annotated[PageRequest, Depends(page_request)]
) -> Page[BatchOut]:
    """The tenant's batches, newest first."""
    rows, cursor = await documents.list_batches(context.session, page)
    return Page(items=[BatchOut.model_validate(b) for b in rows], next_cursor=cursor)


@router.get("/batches/{batch_id}", operation_id="get_batch")
async def get_batch(batch_id: UUID, context: Read) -> BatchOut:
    """The batch with how many of its documents are in each processing status and how
    many of their invoices in each invoice status."""
    batch, counts = await documents.batch_with_counts(context.session, batch_id)
    return BatchOut.model_validate(batch).model_copy(update={"counts": counts})
