"""Optimistic concurrency: a row's version is its ETag; changes need If-Match.

A handler that changes a versioned row declares the header as a parameter
(`if_match: IfMatch`): that declaration is what the OpenAPI document reads to list it as
required (`openapi.py`). It passes `sent_if_match(if_match)` to its service, which checks
it on the row it has just locked (`db/rows.locked_at_version` calls `check_if_match`).
A step that may go without declares `OptionalIfMatch` instead and checks it only when
sent (412 when stale, never 428).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Header

from ledgerline.problems import Problem

if TYPE_CHECKING:
    from starlette.responses import Response

# Every If-Match line of the request (several lines form one list, RFC 9110, 5.3).
IfMatch = Annotated[list[str] | None, Header(alias="If-Match")]
# The mark of an If-Match a step checks when it is sent and does without otherwise (a
# goods receipt: what it must never break is held by conditional statements, so
# concurrent receipts are safe without one); the OpenAPI document lists it as optional.
OPTIONAL_IF_MATCH = "x-if-match-optional"
OptionalIfMatch = Annotated[
    list[str] | None, Header(alias="If-Match", json_schema_extra={OPTIONAL_IF_MATCH: True})
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def sent_if_match(lines: list[str] | None) -> str | None:
    """The request's If-Match lines as one list, or None when none was sent."""
    return ", ".join(lines) if lines else None


def if_match_matches(if_match: str, version: int) -> bool:
    """RFC 9110, 13.1.1: `*` matches any current representation (the row exists);
    otherwise a member of the list must equal the current ETag by the strong
    comparison, so a weak tag (`W/"3"`) never matches."""
    if if_match.strip() == "*":
        return True
    current = etag(version)
    return any(member.strip() == current for member in if_match.split(","))


def check_if_match(if_match: str | None, version: int) -> None:
    """428 without If-Match, 412 when it does not match the current version."""
    if if_match is None:
        raise Problem(
            428, "if_match_required", "Send If-Match with the ETag of the version you read."
        )
    if not if_match_matches(if_match, version):
        raise Problem(
            412,
            "version_conflict",
            "The resource changed since you read it; read it again.",
            extra={"current_etag": etag(version)},
        )
