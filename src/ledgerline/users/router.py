"""One's own account, and the tenant owner's management of users.

Each endpoint makes one `service` call that does its whole step and translates the
answer to HTTP. Changes take If-Match with the user's ETag.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.audit.models import ActorType
from ledgerline.deps import PasswordsDep, SettingsDep
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.problems import Problem
from ledgerline.responses import json_with_etag
from ledgerline.security.permissions import Permission
from ledgerline.users import service
from ledgerline.users.models import TenantRole, User
from ledgerline.users.schemas import (
    PasswordChange,
    ProfileUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)

router = APIRouter(prefix="/users", tags=["users"], route_class=IdempotentRoute)

Profile = Annotated[TenantRequest, tenant_request(Permission.PROFILE)]
ReadUsers = Annotated[TenantRequest, tenant_request(Permission.USERS_READ)]
ManageUsers = Annotated[TenantRequest, tenant_request(Permission.USERS_MANAGE)]
CreateUsers = Annotated[TenantRequest, tenant_request(Permission.USERS_MANAGE, idempotent=True)]


def _my_id(context: TenantRequest) -> UUID:
    """The calling user's id: an API key has no profile here."""
    if context.principal.kind is not ActorType.USER:
        raise Problem(403, "not_a_tenant_user", "Only a tenant user has a profile here.")
    return context.principal.id


def _out(user: User, response: Response, context: TenantRequest | None = None) -> UserOut:
    """The user; with its lock state only for callers who may manage users."""
    set_etag(response, user.version)
    can_manage = context is not None and context.principal.can(Permission.USERS_MANAGE)
    return UserOut.model_validate(user).as_seen_by(can_manage)


@router.get(
    "/me",
    operation_id="get_me",
    response_model=UserOut,
    description="One's own user (`ETag`: its version).",
)
async def get_me(context: Profile) -> Response:
    me = await service.read_profile(context.session, _my_id(context))
    return json_with_etag(UserOut.model_validate(dict(me)), me["version"])


@router.patch("/me", operation_id="update_me")
async def update_me(
    body: ProfileUpdate,
    context: Profile,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    """Takes If-Match with the ETag of one's own user."""
    user = await service.update_user(
        context.session,
        context.audit_context,
        _my_id(context),
        body.model_dump(),
        if_match=sent_if_match(if_match),
    )
    return _out(user, response)


@router.post("/me/password", operation_id="change_my_password", status_code=204)
async def change_my_password(
    body: PasswordChange, context: Profile, passwords: PasswordsDep, settings: SettingsDep
) -> Response:
    """Needs the current password; signs the user out everywhere else. Wrong current
    passwords count toward the account lockout."""
    await service.change_password(
        context.session,
        context.audit_context,
        passwords,
        _my_id(context),
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=context.principal.session_id,
        settings=settings,
    )
    return Response(status_code=204)


@router.post("", operation_id="create_user", status_code=201)
async def create_user(
    body: UserCreate, context: CreateUsers, passwords: PasswordsDep, response: Response
) -> UserOut:
    """A user of this tenant, with a role and an initial password."""
    user = await service.create_user(
        context.session,
        context.audit_context,
        passwords,
        email=body.email,
        full_name=body.full_name,
        role=body.role,
        password=body.password,
    )
    return _out(user, response, context)


@router.get("", operation_id="list_users")
async def list_users(
    context: ReadUsers,
    page: Annotated[PageRequest, Depends(page_request)],
    role: TenantRole | None = None,
    is_active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="in email or name")] = None,
) -> Page[UserOut]:
    """The tenant's users, newest first; lock state only for those who manage users."""
    rows, next_cursor = await service.list_users(
        context.session, page, role=role, is_active=is_active, q=q
    )
    can_manage = context.principal.can(Permission.USERS_MANAGE)
    items = [UserOut.model_validate(u).as_seen_by(can_manage) for u in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{user_id}", operation_id="get_user")
async def get_user(user_id: UUID, context: ReadUsers, response: Response) -> UserOut:
    """One user of this tenant (`ETag`: its version)."""
    return _out(await service.get_user(context.session, user_id), response, context)


@router.patch("/{user_id}", operation_id="update_user")
async def update_user(
    user_id: UUID,
    body: UserUpdate,
    context: ManageUsers,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    """Takes If-Match."""
    user = await service.update_user(
        context.session,
        context.audit_context,
        user_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return _out(user, response, context)


@router.delete("/{user_id}", operation_id="deactivate_user", status_code=204)
async def deactivate_user(
    user_id: UUID, context: ManageUsers, if_match: IfMatch = None
) -> Response:
    """Deactivates (users are never deleted: the audit trail points at them). Takes
    If-Match."""
    await service.deactivate_user(
        context.session, context.audit_context, user_id, if_match=sent_if_match(if_match)
    )
    return Response(status_code=204)


@router.post("/{user_id}/unlock", operation_id="unlock_user", status_code=204)
async def unlock_user(user_id: UUID, context: ManageUsers, if_match: IfMatch = None) -> Response:
    """Lifts a lockout and starts the failure count afresh. Takes If-Match."""
    await service.unlock_user(
        context.session, context.audit_context, user_id, if_match=sent_if_match(if_match)
    )
    return Response(status_code=204)
