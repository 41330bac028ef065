"""Comment and notification bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ledgerline.values import NonBlankStr

COMMENT_MAX_LENGTH = 10_000

CommentBody = Annotated[
    NonBlankStr,
    Field(
        max_length=COMMENT_MAX_LENGTH,
        description="Markdown, stored as sent (clients render it); `@email` mentions a user "
        "of the tenant.",
    ),
]


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: CommentBody


class CommentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: CommentBody


class CommentAuthor(BaseModel):
    type: Literal["user", "api_key"]
    id: UUID


class CommentOut(BaseModel):
    id: UUID
    subject_type: Literal["invoice", "asset"]
    subject_id: UUID
    author: CommentAuthor
    body: str | None = Field(description="null once the comment is deleted")
    deleted_at: datetime | None
    edited: bool = Field(description="whether its body was ever changed")
    version: int
    created_at: datetime
    updated_at: datetime


class CommentEditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    version: int = Field(description="the version this body had before the edit")
    body: str
    edited_at: datetime


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: Literal["mention"]
    comment_id: UUID
    read_at: datetime | None
    created_at: datetime
