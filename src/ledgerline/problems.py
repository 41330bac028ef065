"""The error a service or router raises to answer with an RFC 9457 problem document.

Plain Python (no FastAPI), so services raise it too; `errors.py` renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class Problem(Exception):
    """An error a service or router raises to answer with a problem document.

    A problem rolls back the transaction it is raised in, unless it `keep_writes`: the
    failure it reports was written down and must stay (a wrong password counted
    toward the lockout); then the transaction commits before the answer.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        keep_writes: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or _phrase(status)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        self.keep_writes = keep_writes


class Unauthorized(Problem):
    """A 401 that tells the client which scheme to use."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(401, code, detail, headers={"WWW-Authenticate": "Bearer"})
