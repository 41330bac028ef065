"""Optimistic concurrency: a row's version is its ETag; updates need If-Match."""

from __future__ import annotations

from fastapi import Request, Response

from ledgerline.problems import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def require_if_match(request: Request, version: int) -> None:
    """428 without If-Match, 412 when it names another version than the current one."""
    sent = request.headers.get("if-match")
    if sent is None:
        raise Problem(
            428, "if_match_required", "Send If-Match with the ETag of the version you read."
        )
    if sent.strip().removeprefix("W/") != etag(version):
        raise Problem(
            412,
            "version_conflict",
            "The resource changed since you read it; read it again.",
            extra={"current_etag": etag(version)},
        )
