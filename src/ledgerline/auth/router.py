"""Sign-up, login (JSON, or the OAuth2 password form at /token), refresh, sign-out."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ledgerline.access import TENANT_HEADER, ClaimsDep, request_meta
from ledgerline.auth import email_flows, service
from ledgerline.auth.schemas import (
    Accepted,
    CodeLogin,
    EmailOnly,
    LinkToken,
    LoginRequest,
    PasswordResetConfirm,
    RefreshRequest,
    SignupRequest,
    SignupResponse,
    TokenResponse,
)
from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.deps import DatabaseDep, PasswordsDep, SettingsDep
from ledgerline.problems import Problem
from ledgerline.ratelimit import limit_sign_in
from ledgerline.security.passwords import Passwords
from ledgerline.tenants.schemas import TenantOut
from ledgerline.users.schemas import UserOut

router = APIRouter(prefix="/auth", tags=["auth"], dependencies=[Depends(limit_sign_in)])


def _tokens(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


@router.post(
    "/signup",
    operation_id="signup",
    status_code=201,
    responses={409: {"description": "Slug taken"}},
)
async def signup(
    body: SignupRequest,
    request: Request,
    response: Response,
    database: DatabaseDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
) -> SignupResponse:
    """Create a tenant and its first TENANT_OWNER; answers with tokens for the owner
    (`Location`: the owner's user)."""
    tenant, user, tokens = await service.signup(
        database,
        settings,
        passwords,
        tenant_name=body.tenant.name,
        slug=body.tenant.slug,
        email=body.owner.email,
        password=body.owner.password,
        full_name=body.owner.full_name,
        meta=request_meta(request),
    )
    response.headers["Location"] = request.app.url_path_for("get_user", user_id=str(user.id))
    return SignupResponse(
        tenant=TenantOut.model_validate(tenant),
        user=UserOut.model_validate(user),
        tokens=_tokens(tokens),
    )


# The tenant a sign-in flow acts in, by UUID or slug (sign-in happens before the caller
# knows the tenant's UUID).
_TENANT_REFERENCE = {
    "name": TENANT_HEADER,
    "in": "header",
    "description": "The tenant's UUID or slug.",
    "schema": {"type": "string", "minLength": 1},
}
_NAMES_TENANT = {"parameters": [{**_TENANT_REFERENCE, "required": True}]}
_LOGIN_JSON = {
    "parameters": [
        {
            **_TENANT_REFERENCE,
            "required": False,
            "description": "The tenant's UUID or slug; without it, a platform ADMIN logs in.",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": LoginRequest.model_json_schema()}},
    },
}
# The OAuth2 password grant (RFC 6749, 4.3) as Swagger's Authorize sends it.
_LOGIN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "title": "PasswordGrant",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string", "description": "The email."},
                        "password": {"type": "string"},
                        "client_id": {
                            "type": "string",
                            "description": "The tenant's UUID or slug (or in HTTP Basic "
                            "authentication); empty for a platform ADMIN.",
                        },
                        "client_secret": {"type": "string", "description": "Ignored."},
                        "scope": {"type": "string", "description": "Ignored."},
                    },
                }
            }
        },
    }
}
_FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
# What a sign-in answers when it does not give tokens.
_SIGN_IN_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong credentials, an unknown account or a locked one: one answer."},
    403: {"description": "The tenant is suspended, or the address is not verified yet."},
}


def _basic_client_id(request: Request) -> str | None:
    """The client id of an `Authorization: Basic` header (RFC 6749, 2.3.1), which is
    how Swagger sends it unless told to put it in the body."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return None
    return unquote_plus(client_id) or None


async def _read_login_form(request: Request) -> tuple[LoginRequest, str | None]:
    form = await request.form()
    data = {"email": form.get("username"), "password": form.get("password")}
    client_id = str(form["client_id"]) if form.get("client_id") else _basic_client_id(request)
    try:
        return LoginRequest.model_validate(data), request.headers.get(TENANT_HEADER) or client_id
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from error


async def _read_login(request: Request) -> tuple[LoginRequest, str | None]:
    if request.headers.get("content-type", "").startswith(_FORM_MEDIA_TYPE):
        return await _read_login_form(request)
    try:
        body = LoginRequest.model_validate_json(await request.body())
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        ) from error
    return body, request.headers.get(TENANT_HEADER)


async def _sign_in(
    request: Request,
    database: Database,
    settings: Settings,
    passwords: Passwords,
    body: LoginRequest,
    tenant: str | None,
) -> TokenResponse:
    meta = request_meta(request)
    if tenant:
        pair = await service.login_tenant_user(
            database,
            settings,
            passwords,
            tenant_reference=tenant,
            email=body.email,
            password=body.password,
            meta=meta,
        )
    else:
        pair = await service.login_admin(
            database, settings, passwords, email=body.email, password=body.password, meta=meta
        )
    return _tokens(pair)


@router.post("/login", operation_id="login", openapi_extra=_LOGIN_JSON, responses=_SIGN_IN_REFUSALS)
async def login(
    request: Request, database: DatabaseDep, settings: SettingsDep, passwords: PasswordsDep
) -> TokenResponse:
    """Log in. With X-Tenant-ID (UUID or slug): a tenant user; without: a platform ADMIN.

    Wrong password, unknown email and locked account all answer the same 401. (The
    OAuth2 form of `/auth/token` is taken here too.)
    """
    body, tenant = await _read_login(request)
    return await _sign_in(request, database, settings, passwords, body, tenant)


@router.post(
    "/token",
    operation_id="login_with_password_grant",
    openapi_extra=_LOGIN_FORM,
    responses={**_SIGN_IN_REFUSALS, 415: {"description": "The body is not the form."}},
)
async def login_with_password_grant(
    request: Request, database: DatabaseDep, settings: SettingsDep, passwords: PasswordsDep
) -> TokenResponse:
    """The OAuth2 password grant Swagger's *Authorize* uses: the email as `username`, the
    tenant's UUID or slug as `client_id` (in the form or HTTP Basic; X-Tenant-ID wins),
    none for a platform ADMIN. Answers as `/auth/login` does."""
    if not request.headers.get("content-type", "").startswith(_FORM_MEDIA_TYPE):
        raise Problem(415, "unsupported_media_type", f"Send the form as {_FORM_MEDIA_TYPE}.")
    body, tenant = await _read_login_form(request)
    return await _sign_in(request, database, settings, passwords, body, tenant)


@router.post("/refresh", operation_id="refresh", responses=_SIGN_IN_REFUSALS)
async def refresh(
    body: RefreshRequest, request: Request, database: DatabaseDep, settings: SettingsDep
) -> TokenResponse:
    """Spend a refresh token for a new pair. A reused token revokes its whole family."""
    pair = await service.refresh(
        database, settings, refresh_token=body.refresh_token, meta=request_meta(request)
    )
    return _tokens(pair)


@router.post("/logout", operation_id="logout", status_code=204)
async def logout(claims: ClaimsDep, database: DatabaseDep, request: Request) -> Response:
    """Revoke this login's refresh family and deny this access token until it expires."""
    await service.logout(database, claims, everywhere=False, meta=request_meta(request))
    return Response(status_code=204)


@router.post("/logout-all", operation_id="logout_all", status_code=204)
async def logout_all(claims: ClaimsDep, database: DatabaseDep, request: Request) -> Response:
    """Revoke every refresh family of the caller, and deny this access token."""
    await service.logout(database, claims, everywhere=True, meta=request_meta(request))
    return Response(status_code=204)


def _tenant_reference(request: Request) -> str:
    reference = request.headers.get(TENANT_HEADER)
    if not reference:
        raise Problem(
            400, "tenant_header_missing", f"Send {TENANT_HEADER}: the tenant's id or slug."
        )
    return reference


_SENT_IF_KNOWN = "If the address belongs to an account here, a mail is on its way."


@router.post(
    "/otp/request", operation_id="request_login_code", openapi_extra=_NAMES_TENANT, status_code=202
)
async def request_login_code(
    body: EmailOnly,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    after_response: BackgroundTasks,
) -> Accepted:
    """Mail a 6-digit sign-in code (5 minutes, single use). Always 202.

    The work happens after the response: its time says nothing about the address."""
    after_response.add_task(
        email_flows.request_login_code,
        database,
        settings,
        tenant_reference=_tenant_reference(request),
        email=body.email,
        meta=request_meta(request),
    )
    return Accepted(detail=_SENT_IF_KNOWN)


@router.post(
    "/otp/verify",
    operation_id="verify_login_code",
    openapi_extra=_NAMES_TENANT,
    responses=_SIGN_IN_REFUSALS,
)
async def verify_login_code(
    body: CodeLogin, request: Request, database: DatabaseDep, settings: SettingsDep
) -> TokenResponse:
    """Tokens for a right code. Wrong codes count toward the account lockout."""
    pair = await email_flows.verify_login_code(
        database,
        settings,
        tenant_reference=_tenant_reference(request),
        email=body.email,
        code=body.code,
        meta=request_meta(request),
    )
    return _tokens(pair)


@router.post(
    "/password-reset/request",
    operation_id="request_password_reset",
    openapi_extra=_NAMES_TENANT,
    status_code=202,
)
async def request_password_reset(
    body: EmailOnly,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    after_response: BackgroundTasks,
) -> Accepted:
    """Mail a reset link (30 minutes, single use). Always 202, answered before the work."""
    after_response.add_task(
        email_flows.request_password_reset,
        database,
        settings,
        tenant_reference=_tenant_reference(request),
        email=body.email,
        meta=request_meta(request),
    )
    return Accepted(detail=_SENT_IF_KNOWN)


@router.post("/password-reset/confirm", operation_id="confirm_password_reset", status_code=204)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
) -> Response:
    """Set a new password with the mailed token; every session of the user ends."""
    await email_flows.confirm_password_reset(
        database,
        settings,
        passwords,
        token=body.token,
        new_password=body.new_password,
        meta=request_meta(request),
    )
    return Response(status_code=204)


@router.post("/verify-email", operation_id="verify_email", status_code=204)
async def verify_email(
    body: LinkToken, request: Request, database: DatabaseDep, settings: SettingsDep
) -> Response:
    """Confirm the address with the token mailed at sign-up."""
    await email_flows.verify_email(database, settings, token=body.token, meta=request_meta(request))
    return Response(status_code=204)
