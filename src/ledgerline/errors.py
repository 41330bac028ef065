"""RFC 9457 problem details: the one place that turns errors into responses.

Every 4xx and 5xx answers `application/problem+json` with `type`, `title`, `status`,
`detail` and a stable `code`. Nothing internal (tracebacks, SQL) ever reaches a body.
A database outage (db/outage.py) is 503 `database_unavailable` with `Retry-After`, logged
as one line per kind per interval, never a traceback per request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledgerline.db import outage
from ledgerline.db.outage import DatabaseUnavailable, outage_kind
from ledgerline.problems import Problem

logger = logging.getLogger("ledgerline.errors")

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "database_unavailable",
    "install_error_handlers",
    "outage_response",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Long enough for a restarting database or a drained pool, short enough to matter.
RETRY_AFTER_SECONDS = 5

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        **problem.extra,
        "type": f"urn:ledgerline:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    }
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_MEDIA_TYPE
    )


def code_for_status(status: int) -> str:
    return _CODES_BY_STATUS.get(status, f"http_{status}")


def internal_error_response() -> JSONResponse:
    return problem_response(Problem(500, "internal_error", "An unexpected error occurred."))


def database_unavailable(kind: str, error: BaseException) -> Problem:
    """The 503 of a database outage; the log gets one line per kind per interval."""
    outage.report(kind, error)
    return Problem(
        503,
        "database_unavailable",
        "The database is not available right now; retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def outage_response(error: BaseException) -> JSONResponse | None:
    """For the last resort (an error no handler took, or one raised after the response
    started): the 503 when `error` is a database outage, else None."""
    kind = outage_kind(error)
    return None if kind is None else problem_response(database_unavailable(kind, error))


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Location, message and type of each error; never the submitted input."""
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in errors
    ]


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    else:
        detail = str(exc.detail)
    return problem_response(
        Problem(exc.status_code, code_for_status(exc.status_code), detail, headers=exc.headers)
    )


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc.errors())
    extra = {"errors": errors}
    if any(error["type"] == "json_invalid" for error in errors):
        return problem_response(
            Problem(400, "malformed_json", "The request body is not valid JSON.", extra=extra)
        )
    return problem_response(
        Problem(422, "validation_failed", "The request is not valid.", extra=extra)
    )


# PostgreSQL ended the transaction to break a cycle of waits (deadlock_detected) or
# because a concurrent change made it unsafe (serialization_failure).
_TRANSIENT_CONFLICTS = frozenset({"40P01", "40001"})


async def _on_database_error(_: Request, exc: Exception) -> JSONResponse:
    """A value PostgreSQL refuses as data (SQLSTATE class 22: a number out of range, a NUL
    in text, ...) is the client's bad input: 422. A transaction PostgreSQL ended because
    of a concurrent one is 409 `concurrent_change`: nothing was saved (the transaction
    rolled back, an Idempotency-Key with it) and the same request may be sent again.
    Anything else is ours: 500. (An outage arrives as `DatabaseUnavailable`: the engines
    convert it.)"""
    assert isinstance(exc, sa_exc.DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if sqlstate.startswith("22"):
        return problem_response(
            Problem(422, "invalid_value", "A value is out of range or not storable.")
        )
    if sqlstate in _TRANSIENT_CONFLICTS:
        logger.warning("transaction ended by a concurrent one", extra={"sqlstate": sqlstate})
        return problem_response(
            Problem(
                409,
                "concurrent_change",
                "A concurrent change to the same records ended this one; nothing was saved."
                " Send the request again.",
            )
        )
    raise exc


async def _on_database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    kind = outage_kind(exc)
    assert kind is not None
    return problem_response(database_unavailable(kind, exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(sa_exc.DBAPIError, _on_database_error)
    app.add_exception_handler(DatabaseUnavailable, _on_database_unavailable)
    app.add_exception_handler(sa_exc.TimeoutError, _on_database_unavailable)  # pool timeout
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
