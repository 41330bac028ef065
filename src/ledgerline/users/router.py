"""One's own account, and the tenant owner's management of users."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import or_, select

from ledgerline.access import TenantRequest, tenant_request
from ledgerline.audit.models import ActorType
from ledgerline.deps import PasswordsDep, SettingsDep
from ledgerline.etags import require_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, contains, keyset_page, page_request
from ledgerline.problems import Problem
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


async def _me(context: TenantRequest, *, for_update: bool = False) -> User:
    if context.principal.kind is not ActorType.USER:
        raise Problem(403, "not_a_tenant_user", "Only a tenant user has a profile here.")
    return await service.get_user(context.session, context.principal.id, for_update=for_update)


async def _user(context: TenantRequest, user_id: UUID, *, for_update: bool = False) -> User:
    return await service.get_user(context.session, user_id, for_update=for_update)


def _out(user: User, response: Response, context: TenantRequest | None = None) -> UserOut:
    """The user; with its lock state only for callers who may manage users."""
    set_etag(response, user.version)
    can_manage = context is not None and context.principal.can(Permission.USERS_MANAGE)
    return UserOut.model_validate(user).as_seen_by(can_manage)


@router.get("/me", operation_id="get_me")
async def get_me(context: Profile, response: Response) -> UserOut:
    return _out(await _me(context), response)


@router.patch("/me", operation_id="update_me")
async def update_me(
    body: ProfileUpdate, context: Profile, request: Request, response: Response
) -> UserOut:
    user = await _me(context, for_update=True)
    require_if_match(request, user.version)
    await service.update_user(context.session, context.audit_context, user, body.model_dump())
    return _out(user, response)


@router.post("/me/password", operation_id="change_my_password", status_code=204)
async def change_my_password(
    body: PasswordChange, context: Profile, passwords: PasswordsDep, settings: SettingsDep
) -> Response:
    """Needs the current password; signs the user out everywhere else. Wrong current
    passwords count toward the account lockout."""
    user = await _me(context, for_update=True)
    await service.change_password(
        context.session,
        context.audit_context,
        passwords,
        user,
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
    statement = select(User)
    if role is not None:
        statement = statement.where(User.role == role)
    if is_active is not None:
        statement = statement.where(User.is_active == is_active)
    if q:
        pattern = contains(q)
        statement = statement.where(or_(User.email.ilike(pattern), User.full_name.ilike(pattern)))
    rows, next_cursor = await keyset_page(context.session, statement, User.id, page)
    can_manage = context.principal.can(Permission.USERS_MANAGE)
    items = [UserOut.model_validate(u).as_seen_by(can_manage) for u in rows]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{user_id}", operation_id="get_user")
async def get_user(user_id: UUID, context: ReadUsers, response: Response) -> UserOut:
    return _out(await _user(context, user_id), response, context)


@router.patch("/{user_id}", operation_id="update_user")
async def update_user(
    user_id: UUID, body: UserUpdate, context: ManageUsers, request: Request, response: Response
) -> UserOut:
    user = await _user(context, user_id, for_update=True)
    require_if_match(request, user.version)
    await service.update_user(
        context.session, context.audit_context, user, body.model_dump(exclude_unset=True)
    )
    return _out(user, response, context)


@router.delete("/{user_id}", operation_id="deactivate_user", status_code=204)
async def deactivate_user(user_id: UUID, context: ManageUsers, request: Request) -> Response:
    """Deactivates (users are never deleted: the audit trail points at them). Takes
    If-Match."""
    user = await _user(context, user_id, for_update=True)
    require_if_match(request, user.version)
    await service.deactivate_user(context.session, context.audit_context, user)
    return Response(status_code=204)


@router.post("/{user_id}/unlock", operation_id="unlock_user", status_code=204)
async def unlock_user(user_id: UUID, context: ManageUsers, request: Request) -> Response:
    """Lifts a lockout and starts the failure count afresh. Takes If-Match."""
    user = await _user(context, user_id, for_update=True)
    require_if_match(request, user.version)
    await service.unlock_user(context.session, context.audit_context, user)
    return Response(status_code=204)
