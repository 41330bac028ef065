"""Discussion-thread rules: who may comment where, authors alone change their comments,
every edit keeps the earlier body, mentions notify users of the tenant.

Each endpoint makes one call here that does its whole step (read or lock, check, change,
audit, events last).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets.models import Asset
from ledgerline.audit.models import ActorType
from ledgerline.audit.service import Actor, AuditContext
from ledgerline.db.rows import locked_at_version, not_found, row_by_id
from ledgerline.events.catalog import comment_changed, comment_mention
from ledgerline.invoices.models import Invoice
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem
from ledgerline.threads.models import Comment, CommentEdit, Notification
from ledgerline.users.models import User

SubjectType = Literal["invoice", "asset"]
# `@` followed by an e-mail address; the address is compared in lower case.
_MENTION = re.compile(
    r"(?<![\w@])@([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
MAX_MENTIONS = 20


@dataclass(frozen=True, slots=True)
class Subject:
    """What a thread is about."""

    type: SubjectType
    id: UUID


def mentioned_emails(body: str) -> list[str]:
    """The distinct addresses `body` mentions, in order (at most MAX_MENTIONS)."""
    found: list[str] = []
    for match in _MENTION.finditer(body):
        email = match.group(1).lower()
        if email not in found:
            found.append(email)
    return found[:MAX_MENTIONS]


def _subject_column(subject_type: SubjectType) -> Any:
    return Comment.invoice_id if subject_type == "invoice" else Comment.asset_id


async def _check_subject(session: AsyncSession, subject: Subject) -> None:
    """404 unless the tenant has the subject (another tenant's is absent too)."""
    model: Any = Invoice if subject.type == "invoice" else Asset
    if await session.scalar(select(model.id).where(model.id == subject.id)) is None:
        raise not_found(subject.type)


def _author(actor: Actor) -> dict[str, UUID | None]:
    """The author columns of a comment by `actor`; platform ADMINs do not comment."""
    if actor.type == ActorType.USER:
        return {"author_user_id": actor.id, "author_api_key_id": None}
    if actor.type == ActorType.API_KEY:
        return {"author_user_id": None, "author_api_key_id": actor.id}
    raise Problem(403, "permission_denied", "Comments are written by the tenant's users and keys.")


def _own(comment: Comment, actor: Actor) -> None:
    author = _author(actor)
    if (comment.author_user_id, comment.author_api_key_id) != (
        author["author_user_id"],
        author["author_api_key_id"],
    ):
        raise Problem(403, "not_comment_author", "Only its author changes a comment.")


def _live(comment: Comment) -> None:
    if comment.deleted_at is not None:
        raise Problem(409, "comment_deleted", "This comment was deleted.")


async def edited_ids(session: AsyncSession, comment_ids: Sequence[UUID]) -> set[UUID]:
    """Which of the comments have an edit history."""
    if not comment_ids:
        return set()
    rows = await session.scalars(
        select(CommentEdit.comment_id).where(CommentEdit.comment_id.in_(comment_ids)).distinct()
    )
    return set(rows.all())


async def list_comments(
    session: AsyncSession, subject: Subject, page: PageRequest
) -> tuple[Sequence[Comment], set[UUID], str | None]:
    """A page of the subject's thread, newest first (tombstones included), which of them
    were edited, and the next page's cursor."""
    await _check_subject(session, subject)
    statement = select(Comment).where(_subject_column(subject.type) == subject.id)
    rows, cursor = await keyset_page(session, statement, Comment.id, page)
    return rows, await edited_ids(session, [row.id for row in rows]), cursor


async def get_comment(
    session: AsyncSession, comment_id: UUID, subject: Subject | None = None
) -> tuple[Comment, bool]:
    """The comment (of `subject`'s thread when given, else 404) and whether it was edited."""
    comment = await row_by_id(session, Comment, comment_id, what="comment")
    if subject is not None and getattr(comment, f"{subject.type}_id") != subject.id:
        raise not_found("comment")
    return comment, bool(await edited_ids(session, [comment.id]))


async def _notify(session: AsyncSession, comment: Comment, body: str, author: Actor) -> list[UUID]:
    """A notification for each user of the tenant the body mentions (not the author, and
    once per comment): the ids of the users newly notified."""
    emails = mentioned_emails(body)
    if not emails:
        return []
    users = await session.scalars(
        select(User.id).where(User.email.in_(emails), User.is_active.is_(True))
    )
    wanted = [user_id for user_id in users.all() if user_id != author.id]
    if not wanted:
        return []
    inserted = await session.scalars(
        insert(Notification)
        .values(
            [
                {"tenant_id": comment.tenant_id, "user_id": user_id, "comment_id": comment.id}
                for user_id in wanted
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "comment_id"])
        .returning(Notification.user_id)
    )
    return list(inserted.all())


async def _mentions_announced(
    session: AsyncSession, audit: AuditContext, comment: Comment, notified: list[UUID]
) -> None:
    for user_id in notified:
        audit.record(
            session,
            "notification.created",
            target_type="comment",
            target_id=comment.id,
            changes={"user_id": str(user_id), "kind": "mention"},
        )


async def post_comment(
    session: AsyncSession, audit: AuditContext, subject: Subject, body: str
) -> Comment:
    """A comment on the subject; mentioned users are notified, the thread hears of it."""
    await _check_subject(session, subject)
    comment = Comment(
        tenant_id=audit.tenant_id,
        invoice_id=subject.id if subject.type == "invoice" else None,
        asset_id=subject.id if subject.type == "asset" else None,
        body=body,
        **_author(audit.actor),
    )
    session.add(comment)
    await session.flush()
    notified = await _notify(session, comment, body, audit.actor)
    audit.record(
        session,
        "comment.created",
        target_type="comment",
        target_id=comment.id,
        changes={"subject_type": subject.type, "subject_id": str(subject.id), "body": body},
    )
    await _mentions_announced(session, audit, comment, notified)
    await comment_changed(session, comment, "create")
    for user_id in notified:
        await comment_mention(session, comment, user_id)
    return comment


async def edit_comment(
    session: AsyncSession, audit: AuditContext, comment_id: UUID, body: str, *, if_match: str | None
) -> Comment:
    """The author's new body; the earlier one goes to the history. Newly mentioned users
    are notified."""
    comment = await locked_at_version(session, Comment, comment_id, if_match, what="comment")
    _own(comment, audit.actor)
    _live(comment)
    previous = comment.body or ""
    session.add(
        CommentEdit(
            tenant_id=comment.tenant_id,
            comment_id=comment.id,
            version=comment.version,
            body=previous,
        )
    )
    comment.body = body
    await session.flush()
    notified = await _notify(session, comment, body, audit.actor)
    audit.record(
        session,
        "comment.edited",
        target_type="comment",
        target_id=comment.id,
        changes={"body": {"old": previous, "new": body}},
    )
    await _mentions_announced(session, audit, comment, notified)
    await comment_changed(session, comment, "edit")
    for user_id in notified:
        await comment_mention(session, comment, user_id)
    return comment


async def delete_comment(
    session: AsyncSession, audit: AuditContext, comment_id: UUID, *, if_match: str | None
) -> None:
    """The author's comment becomes a tombstone: its body cleared, its place in the thread
    kept. The earlier body goes to the history like an edit's."""
    comment = await locked_at_version(session, Comment, comment_id, if_match, what="comment")
    _own(comment, audit.actor)
    _live(comment)
    session.add(
        CommentEdit(
            tenant_id=comment.tenant_id,
            comment_id=comment.id,
            version=comment.version,
            body=comment.body or "",
        )
    )
    comment.body = None
    comment.deleted_at = datetime.now(UTC)
    await session.flush()
    audit.record(session, "comment.deleted", target_type="comment", target_id=comment.id)
    await comment_changed(session, comment, "delete")


async def comment_history(
    session: AsyncSession, comment_id: UUID, page: PageRequest
) -> tuple[Sequence[CommentEdit], str | None]:
    """The comment's earlier bodies, newest first."""
    await row_by_id(session, Comment, comment_id, what="comment")
    statement = select(CommentEdit).where(CommentEdit.comment_id == comment_id)
    return await keyset_page(session, statement, CommentEdit.id, page)


async def list_notifications(
    session: AsyncSession, actor: Actor, page: PageRequest, *, unread: bool | None
) -> tuple[Sequence[Notification], str | None]:
    """A page of the caller's own notifications, newest first (keys and ADMINs have none)."""
    statement = select(Notification).where(Notification.user_id == _recipient(actor))
    if unread is not None:
        statement = statement.where(
            Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None)
        )
    return await keyset_page(session, statement, Notification.id, page)


def _recipient(actor: Actor) -> UUID | None:
    return actor.id if actor.type == ActorType.USER else None


async def mark_read(
    session: AsyncSession, audit: AuditContext, notification_id: UUID
) -> Notification:
    """The caller's notification, read (a second time changes nothing); another user's
    answers 404 like a missing one."""
    notification = await session.scalar(
        select(Notification)
        .where(
            Notification.id == notification_id,
            Notification.user_id == _recipient(audit.actor),
        )
        .with_for_update()
    )
    if notification is None:
        raise not_found("notification")
    if notification.read_at is None:
        notification.read_at = await session.scalar(select(func.now()))
        audit.record(
            session, "notification.read", target_type="notification", target_id=notification.id
        )
    return notification
