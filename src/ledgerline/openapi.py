"""The OpenAPI document, built once from the routes' own metadata.

FastAPI documents what a route declares itself: path, query and body parameters, the
response model. What every route shares is added here, read from the same routes: the
headers the access hook reads (`X-Tenant-ID` for each route that depends on `Requires`,
`Idempotency-Key` where it is `idempotent`), `If-Match` wherever a handler declares the
`etags.IfMatch` parameter (the server answers 428 without it, so it is required; an
`etags.OptionalIfMatch` is listed as optional, with 412 but no 428), the
problem+json answers (one `Problem` schema; `ValidationProblem` replaces FastAPI's 422),
the response headers, the OAuth2 password flow Swagger's *Authorize* signs in with, and
one tag per operation from the list below. The document is built on the first request
for it and kept: no request pays for any of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.staticfiles import StaticFiles

from ledgerline.access import Requires, access_claims, require_admin
from ledgerline.errors import PROBLEM_MEDIA_TYPE
from ledgerline.etags import OPTIONAL_IF_MATCH
from ledgerline.idempotency import HEADER as IDEMPOTENCY_HEADER
from ledgerline.ratelimit import limit_financing_accept, limit_sign_in

# Where Swagger's Authorize posts the OAuth2 password form (`auth/router.py`).
OAUTH2_SIGN_IN_URL = "/api/v1/auth/token"
OAUTH2_SCHEME = "OAuth2Password"

# One tag per operation, in the order the docs show them.
TAGS: tuple[dict[str, str], ...] = (
    {"name": "auth", "description": "Sign-up, sign-in (password or mailed code), tokens, "
     "sign-out, password reset and email verification."},
    {"name": "users", "description": "One's own account, and the tenant owner's users."},
    {"name": "api keys", "description": "Integration keys with scopes, shown once."},
    {"name": "audit", "description": "The tenant's audit trail."},
    {"name": "vendors", "description": "Suppliers: tax ids, currencies, bank details."},
    {"name": "invoices", "description": "Supplier invoices: drafts, approval, payment, "
     "history, CSV export and import."},
    {"name": "payments", "description": "Payments of invoices: listed, read, reversed."},
    {"name": "tax codes", "description": "Tax codes: kinds, rates, recoverable shares, "
     "GST components and the accounts they post to."},
    {"name": "approvals", "description": "The approval policy (thresholds, segregation of "
     "duties) and each invoice's approvals."},
    {"name": "credit notes", "description": "Credit notes set against open invoices."},
    {"name": "documents", "description": "Uploaded invoice files, their reading in the "
     "background, and batches of them."},
    {"name": "assets", "description": "Fixed assets: categories, locations, custodians, "
     "the register, depreciation, movements, maintenance and disposal."},
    {"name": "ledger", "description": "The double-entry ledger: chart of accounts, journal, "
     "periods, transfers, trial balance and reports."},
    {"name": "financing", "description": "Early payment of approved invoices: programs "
     "with a budget, offers mailed to vendors, acceptance by link, settlement and repayment."},
    {"name": "dashboard", "description": "Figures at a glance: invoices by status, aging, "
     "vendor risk, document processing, assets and cash, as JSON and CSV."},
    {"name": "purchasing", "description": "Purchase orders, their approval, goods receipts "
     "and their accruals, the matching settings invoices are matched under, open "
     "commitments and what was received but not invoiced."},
    {"name": "platform console", "description": "Tenants and their users, for platform "
     "ADMINs."},
    {"name": "comments", "description": "Discussion threads on invoices and assets: "
     "comments, their edit history, mentions and the caller's notifications."},
    {"name": "events", "description": "Live events as Server-Sent Events (the WebSocket "
     "/api/v1/ws, outside OpenAPI, carries the same)."},
    {"name": "health", "description": "Liveness and readiness probes."},
)  # fmt: skip

# Response bodies of versioned rows: their answers carry the row's version as ETag.
ETAG_BODIES = frozenset(
    {
        "InvoiceOut",
        "VendorOut",
        "UserOut",
        "AssetOut",
        "TenantOut",
        "ProgramOut",
        "OfferOut",
        "TaxCodeOut",
        "ApprovalPolicyOut",
        "CommentOut",
    }
)
# Pydantic writes a field's bounds under its own names on schemas where JSON Schema has
# none for them (a date's `ge`, a decimal string's `max_digits`): not part of the contract.
_PYDANTIC_KEYWORDS = frozenset({"ge", "gt", "le", "lt", "max_digits", "decimal_places"})

_ERROR_ITEM = {
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "Where: `body`, `query`, `path` or `header`, then the field.",
        },
        "msg": {"type": "string"},
        "type": {"type": "string", "description": "What kind of error (pydantic's type)."},
    },
}
_PROBLEM_PROPERTIES: dict[str, Any] = {
    "type": {"type": "string", "examples": ["urn:ledgerline:problem:not_found"]},
    "title": {"type": "string", "examples": ["Not Found"]},
    "status": {"type": "integer", "minimum": 400, "maximum": 599},
    "detail": {"type": "string"},
    "code": {"type": "string", "description": "Stable, for programs to act on."},
}
SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem document. Some problems add members of their "
        "own (`current_status`, `current_etag`, `allowed`, `rows`, ...).",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": _PROBLEM_PROPERTIES,
    },
    "ValidationProblem": {
        "type": "object",
        "description": "A problem with the request's values. `errors` lists each field "
        "that failed validation (the submitted values are never echoed); problems found "
        "by a business rule name it in `code` and `detail`.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            **_PROBLEM_PROPERTIES,
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        },
    },
    "FieldError": _ERROR_ITEM,
}

_REQUEST_ID = {
    "description": "This request's id; the log files every line of it under this id.",
    "required": True,
    "schema": {"type": "string"},
}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
_RATE_LIMIT = {
    "RateLimit-Limit": "Requests allowed in the window.",
    "RateLimit-Remaining": "Requests left in the window.",
    "RateLimit-Reset": "Seconds until the window has room again.",
}

# Problem answers: when each applies to an operation, and what it means there.
_PROBLEMS: dict[int, str] = {
    400: "Malformed request: a missing or invalid header, unreadable JSON, a bad cursor.",
    401: "No valid credential (`WWW-Authenticate: Bearer`).",
    403: "The credential may not do this here: another tenant, a missing permission, "
    "a suspended or read-only tenant.",
    404: "Not found (in this tenant).",
    408: "The request body stopped arriving.",
    409: "Conflicts with the current state (a duplicate, an illegal step).",
    412: "If-Match does not match the current ETag: read it again.",
    413: "The request body is too large.",
    415: "A file of a type the API does not take.",
    422: "The request's values are not valid.",
    428: "Send If-Match with the ETag you read.",
    429: "Too many requests; see Retry-After.",
    500: "An unexpected error; the log has it under X-Request-ID.",
    503: "The database is not available right now; see Retry-After.",
}


DOCS_URL = "/docs"
_DOCS_ASSETS = "/docs/assets"


def install(app: FastAPI) -> None:
    """Serve the document `build` makes, built once on first use, and Swagger UI at
    /docs from files shipped with the package (`fastapi-offline`'s Swagger UI 5): the
    docs work without reaching a CDN."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    assets = Path(str(resources.files("fastapi_offline") / "static"))
    app.mount(_DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect",
        )

    @app.get(f"{DOCS_URL}/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def build(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        openapi_version=app.openapi_version,
        routes=app.routes,
        tags=list(TAGS),
        separate_input_output_schemas=app.separate_input_output_schemas,
        servers=[{"url": "/", "description": "This server"}],
    )
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(SCHEMAS)
    components.setdefault("securitySchemes", {})[OAUTH2_SCHEME] = {
        "type": "oauth2",
        "description": "Swagger's Authorize: the email as username, the password, and the "
        "tenant's slug or UUID as client_id (empty for a platform ADMIN).",
        "flows": {"password": {"tokenUrl": OAUTH2_SIGN_IN_URL, "scopes": {}}},
    }
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                operation = spec["paths"][route.path_format].get(method.lower())
                if operation is not None:
                    _complete(operation, route, method)
    _strip_pydantic_keywords(spec)
    return spec


def _file_bodies(operation: dict[str, Any]) -> None:
    """Bodies that are files (CSV, PDF, images) are strings: text, or binary."""
    bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
    for body in bodies:
        content = body.get("content", {})
        for media_type, media in content.items():
            if "json" not in media_type and not media.get("schema"):
                text = media_type.startswith("text/")
                media["schema"] = (
                    {"type": "string"} if text else {"type": "string", "format": "binary"}
                )


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _complete(operation: dict[str, Any], route: RouteContext, method: str) -> None:
    """The shared headers, security, problem responses and response headers of one
    operation, read from what its route depends on and declares."""
    calls = list(_calls(route.dependant))
    tenant = next((call for call in calls if isinstance(call, Requires)), None)
    admin = require_admin in calls
    bearer = tenant is not None or admin or access_claims in calls
    sign_in = limit_sign_in in calls or limit_financing_accept in calls  # limited by address
    if_match = any(param.alias == "If-Match" for param in route.dependant.header_params)
    has_body = "requestBody" in operation
    _file_bodies(operation)
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    for parameter in parameters:
        _tidy_parameter(parameter)
    if tenant is not None:
        parameters.insert(0, _tenant_parameter())
        if tenant.idempotent:
            parameters.append(_idempotency_parameter())
        operation["description"] = (
            f"{operation.get('description', '').rstrip()}\n\n"
            f"Needs the `{tenant.permission}` permission."
        ).lstrip()
    if bearer:
        operation.setdefault("security", [{"HTTPBearer": []}]).append({OAUTH2_SCHEME: []})
    else:
        operation["security"] = []  # public: sign-in flows and probes
    if not parameters:
        del operation["parameters"]

    statuses = {500}
    if route.path_format != "/health":
        statuses |= {400, 503}
    if bearer:
        statuses |= {401, 403}
    if tenant is not None or sign_in:
        statuses.add(429)
    if route.dependant.path_params or tenant is not None:
        statuses.add(404)
    if has_body:
        statuses |= {408, 413}
    if (tenant is not None or admin) and method != "GET":
        statuses.add(409)
    if if_match:
        statuses.add(412)
        if any(p["name"] == "If-Match" and p["required"] for p in parameters):
            statuses.add(428)
    if parameters or has_body:
        statuses.add(422)
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)
    for code, response in responses.items():
        if code.startswith("2"):
            _success_headers(response, code, tenant, sign_in)
        elif int(code) >= 400:
            statuses.add(int(code))
    for status in sorted(statuses):
        responses[str(status)] = _problem_response(
            status, responses.get(str(status), {}).get("description")
        )


def _tidy_parameter(parameter: dict[str, Any]) -> None:
    """A query or header parameter is absent or has a value, never null: `T | None`
    becomes `T`. If-Match is required wherever it is read (428 without it), unless it
    is declared `etags.OptionalIfMatch`."""
    schema = parameter.get("schema", {})
    optional_if_match = bool(schema.pop(OPTIONAL_IF_MATCH, False))
    variants = schema.get("anyOf")
    if isinstance(variants, list):
        kept = [v for v in variants if v != {"type": "null"}]
        if len(kept) == 1:
            del schema["anyOf"]
            parameter["schema"] = {**kept[0], **schema}
    if parameter["name"] == "If-Match":
        parameter["required"] = not optional_if_match
        parameter["schema"] = {"type": "string", "examples": ['"3"']}
        parameter["description"] = (
            "The ETag of the version you read (RFC 9110: `*` matches any current version, "
            "a list matches when one of its ETags is current, a weak ETag never matches)."
            + (" Optional here: checked when sent." if optional_if_match else "")
        )
    if "description" not in parameter and "description" in parameter["schema"]:
        parameter["description"] = parameter["schema"]["description"]


_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _tenant_parameter() -> dict[str, Any]:
    return {
        "name": "X-Tenant-ID",
        "in": "header",
        "required": True,
        "description": "The UUID of the tenant this request acts in: the caller's own (a "
        "platform ADMIN may name any tenant, and is audited there).",
        # A plain string with the UUID's shape: generated clients then send what they are
        # given (openapi-python-client would type a `uuid` format as UUID and fail to
        # send it as a header).
        "schema": {"type": "string", "pattern": _UUID_PATTERN},
    }


def _idempotency_parameter() -> dict[str, Any]:
    return {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": False,
        "description": "Repeating the same request with the same key within 24 hours "
        "replays the first answer (`Idempotent-Replayed: true`) instead of creating "
        "again; the key with another request is 422.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }


def _success_headers(
    response: dict[str, Any], status: str, tenant: Requires | None, sign_in: bool
) -> None:
    headers: dict[str, Any] = response.setdefault("headers", {})
    headers["X-Request-ID"] = _REQUEST_ID
    if tenant is not None or sign_in:
        for name, description in _RATE_LIMIT.items():
            headers[name] = {
                "description": f"{description} Absent when rate limits are off or their "
                "storage is unavailable.",
                "schema": {"type": "integer", "minimum": 0},
            }
    if status == "201":
        headers["Location"] = {
            "description": "Where the created resource lives.",
            "required": True,
            "schema": {"type": "string"},
        }
    if tenant is not None and tenant.idempotent:
        headers["Idempotent-Replayed"] = {
            "description": "`true` when this is the replay of an earlier answer to the "
            "same Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        }
    if _body_schema_name(response) in ETAG_BODIES:
        headers["ETag"] = {
            "description": "The version of what the body shows: send it as If-Match to change it.",
            "required": True,
            "schema": {"type": "string", "examples": ['"3"']},
        }
    content = response.get("content", {})
    if any(media != "application/json" for media in content):
        headers["Content-Disposition"] = {
            "description": "An attachment, with its file name.",
            "required": True,
            "schema": {"type": "string"},
        }


def _body_schema_name(response: dict[str, Any]) -> str | None:
    reference = (
        response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    )
    return reference.rsplit("/", 1)[-1] if isinstance(reference, str) else None


def _problem_response(status: int, description: str | None) -> dict[str, Any]:
    schema = "ValidationProblem" if status in (400, 422) else "Problem"
    headers: dict[str, Any] = {"X-Request-ID": _REQUEST_ID}
    if status in (429, 503):
        headers["Retry-After"] = _RETRY_AFTER
    if status == 401:
        headers["WWW-Authenticate"] = {
            "description": "The scheme to authenticate with.",
            "schema": {"type": "string", "enum": ["Bearer"]},
        }
    return {
        "description": description or _PROBLEMS[status],
        "headers": headers,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _strip_pydantic_keywords(node: Any) -> None:
    if isinstance(node, dict):
        if "type" in node or "anyOf" in node or "$ref" in node:
            for keyword in _PYDANTIC_KEYWORDS & node.keys():
                del node[keyword]
        for value in node.values():
            _strip_pydantic_keywords(value)
    elif isinstance(node, list):
        for value in node:
            _strip_pydantic_keywords(value)
