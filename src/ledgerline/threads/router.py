"""Discussion-thread endpoints: threads of invoices and assets, one comment, its edits
and history, and the caller's notifications. Each makes one `thread_service` call."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.events.catalog import comment_subject
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.security.permissions import Permission
from ledgerline.threads import service as thread_service
from ledgerline.threads.models import Comment, Notification
from ledgerline.threads.schemas import (
    CommentAuthor,
    CommentCreate,
    CommentEditOut,
    CommentOut,
    CommentUpdate,
    NotificationOut,
)
from ledgerline.threads.service import Subject

router = APIRouter(tags=["comments"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.COMMENTS_READ)]
Write = Annotated[TenantRequest, tenant_request(Permission.COMMENTS_WRITE)]
Create = Annotated[TenantRequest, tenant_request(Permission.COMMENTS_WRITE, idempotent=True)]
Pages = Annotated[PageRequest, Depends(page_request)]


def _out(comment: Comment, *, edited: bool, response: Response | None = None) -> CommentOut:
    subject_type, subject_id = comment_subject(comment)
    author = (
        CommentAuthor(type="user", id=comment.author_user_id)
        if comment.author_user_id is not None
        else CommentAuthor(type="api_key", id=comment.author_api_key_id)
    )
    if response is not None:
        set_etag(response, comment.version)
    return CommentOut(
        id=comment.id,
        subject_type=subject_type,
        subject_id=subject_id,
        author=author,
        body=comment.body,
        deleted_at=comment.deleted_at,
        edited=edited,
        version=comment.version,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )


async def _thread(subject: Subject, context: TenantRequest, page: PageRequest) -> Page[CommentOut]:
    rows, edited, cursor = await thread_service.list_comments(context.session, subject, page)
    return Page(items=[_out(row, edited=row.id in edited) for row in rows], next_cursor=cursor)


async def _post(
    subject: Subject,
    body: CommentCreate,
    context: TenantRequest,
    response: Response,
) -> CommentOut:
    comment = await thread_service.post_comment(
        context.session, context.audit_context, subject, body.body
    )
    return _out(comment, edited=False, response=response)


@router.get("/invoices/{invoice_id}/comments", operation_id="list_invoice_comments")
async def list_invoice_comments(invoice_id: UUID, context: Read, page: Pages) -> Page[CommentOut]:
    """The invoice's discussion, newest first; deleted comments stay as tombstones."""
    return await _thread(Subject("invoice", invoice_id), context, page)


@router.post("/invoices/{invoice_id}/comments", operation_id="comment_on_invoice", status_code=201)
async def comment_on_invoice(
    invoice_id: UUID, body: CommentCreate, context: Create, response: Response
) -> CommentOut:
    """A comment on the invoice (Markdown); each `@email` of a user of the tenant
    notifies that user."""
    return await _post(Subject("invoice", invoice_id), body, context, response)


@router.get("/assets/{asset_id}/comments", operation_id="list_asset_comments")
async def list_asset_comments(asset_id: UUID, context: Read, page: Pages) -> Page[CommentOut]:
    """The asset's discussion, newest first; deleted comments stay as tombstones."""
    return await _thread(Subject("asset", asset_id), context, page)


@router.post("/assets/{asset_id}/comments", operation_id="comment_on_asset", status_code=201)
async def comment_on_asset(
    asset_id: UUID, body: CommentCreate, context: Create, response: Response
) -> CommentOut:
    """A comment on the asset (Markdown); each `@email` of a user of the tenant notifies
    that user."""
    return await _post(Subject("asset", asset_id), body, context, response)


async def _one(
    subject: Subject, comment_id: UUID, context: TenantRequest, response: Response
) -> CommentOut:
    comment, edited = await thread_service.get_comment(context.session, comment_id, subject)
    return _out(comment, edited=edited, response=response)


@router.get("/invoices/{invoice_id}/comments/{comment_id}", operation_id="get_invoice_comment")
async def get_invoice_comment(
    invoice_id: UUID, comment_id: UUID, context: Read, response: Response
) -> CommentOut:
    """One comment of the invoice's thread (`ETag`: its version)."""
    return await _one(Subject("invoice", invoice_id), comment_id, context, response)


@router.get("/assets/{asset_id}/comments/{comment_id}", operation_id="get_asset_comment")
async def get_asset_comment(
    asset_id: UUID, comment_id: UUID, context: Read, response: Response
) -> CommentOut:
    """One comment of the asset's thread (`ETag`: its version)."""
    return await _one(Subject("asset", asset_id), comment_id, context, response)


@router.get("/comments/{comment_id}", operation_id="get_comment")
async def get_comment(comment_id: UUID, context: Read, response: Response) -> CommentOut:
    """One comment (`ETag`: its version)."""
    comment, edited = await thread_service.get_comment(context.session, comment_id)
    return _out(comment, edited=edited, response=response)


@router.patch("/comments/{comment_id}", operation_id="edit_comment")
async def edit_comment(
    comment_id: UUID,
    body: CommentUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> CommentOut:
    """Its author changes the body; the earlier one is kept in the history. Takes If-Match."""
    comment = await thread_service.edit_comment(
        context.session,
        context.audit_context,
        comment_id,
        body.body,
        if_match=sent_if_match(if_match),
    )
    return _out(comment, edited=True, response=response)


@router.delete("/comments/{comment_id}", operation_id="delete_comment", status_code=204)
async def delete_comment(comment_id: UUID, context: Write, if_match: IfMatch = None) -> Response:
    """Its author deletes it: a tombstone stays in the thread. Takes If-Match."""
    await thread_service.delete_comment(
        context.session, context.audit_context, comment_id, if_match=sent_if_match(if_match)
    )
    return Response(status_code=204)


@router.get("/comments/{comment_id}/history", operation_id="comment_history")
async def comment_history(comment_id: UUID, context: Read, page: Pages) -> Page[CommentEditOut]:
    """The comment's earlier bodies, newest first (append-only)."""
    rows, cursor = await thread_service.comment_history(context.session, comment_id, page)
    return Page(items=[CommentEditOut.model_validate(row) for row in rows], next_cursor=cursor)


def _notification(row: Notification) -> NotificationOut:
    return NotificationOut.model_validate(row)


@router.get("/notifications", operation_id="list_notifications")
async def list_notifications(
    context: Read, page: Pages, unread: bool | None = None
) -> Page[NotificationOut]:
    """The caller's own notifications (mentions), newest first; `unread=true` for those
    not yet read. API keys have none."""
    rows, cursor = await thread_service.list_notifications(
        context.session, context.principal.actor, page, unread=unread
    )
    return Page(items=[_notification(row) for row in rows], next_cursor=cursor)


@router.post("/notifications/{notification_id}/read", operation_id="read_notification")
async def read_notification(notification_id: UUID, context: Write) -> NotificationOut:
    """Marks the caller's own notification read (again: no change)."""
    row = await thread_service.mark_read(context.session, context.audit_context, notification_id)
    return _notification(row)
