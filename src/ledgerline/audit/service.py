"""The one audit writer: every mutation records through an audit context, in the
transaction it changes.

`AuditContext` writes a tenant's trail; `PlatformAuditContext` the platform's, for what
happens outside any tenant (an ADMIN's sign-in, sign-out, refresh). Both record alike:
`context.record(session, action, target_type=..., target_id=..., changes=...)`.
`list_events` reads a tenant's trail for `GET /audit`. Sign-in failures and lockouts are
counted for `/metrics` here too, where every flow records them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline import metrics
from ledgerline.audit.models import ActorType, AuditEvent, PlatformAuditEvent
from ledgerline.pagination import PageRequest, keyset_page

# Never written to the trail, whatever a caller passes in `changes`.
_SECRET_FIELDS = frozenset({"password", "password_hash", "token", "token_hash", "secret"})


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: UUID | None


ANONYMOUS = Actor(ActorType.ANONYMOUS, None)


@dataclass(frozen=True, slots=True)
class RequestMeta:
    request_id: str | None
    ip: str | None
    user_agent: str | None


def _scrub(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {key: "[redacted]" if key in _SECRET_FIELDS else value for key, value in changes.items()}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """{field: {"before": x, "after": y}} for the fields that changed."""
    return {
        key: {"before": before.get(key), "after": value}
        for key, value in after.items()
        if before.get(key) != value
    }


def _columns(
    meta: RequestMeta,
    action: str,
    target_type: str | None,
    target_id: UUID | None,
    changes: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "changes": _scrub(changes) if changes else None,
        "request_id": meta.request_id,
        "ip": meta.ip,
        "user_agent": meta.user_agent[:512] if meta.user_agent else None,
    }


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who acts, in which tenant, from which request: what services record with."""

    tenant_id: UUID
    actor: Actor
    meta: RequestMeta

    def record(
        self,
        session: AsyncSession,
        action: str,
        *,
        target_type: str | None = None,
        target_id: UUID | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> None:
        columns = _columns(self.meta, action, target_type, target_id, changes)
        metrics.count_audited("tenant", action, changes)
        session.add(
            AuditEvent(
                tenant_id=self.tenant_id,
                actor_type=self.actor.type,
                actor_id=self.actor.id,
                **columns,
            )
        )


@dataclass(frozen=True, slots=True)
class PlatformAuditContext:
    """Who acts outside any tenant (an ADMIN, or nobody yet), on the platform connection."""

    actor: Actor
    meta: RequestMeta

    def record(
        self,
        session: AsyncSession,
        action: str,
        *,
        target_type: str | None = None,
        target_id: UUID | None = None,
        changes: Mapping[str, Any] | None = None,
    ) -> None:
        columns = _columns(self.meta, action, target_type, target_id, changes)
        metrics.count_audited("platform", action, changes)
        session.add(PlatformAuditEvent(actor_id=self.actor.id, **columns))


async def list_events(
    session: AsyncSession,
    page: PageRequest,
    *,
    actor_id: UUID | None,
    action: str | None,
    target_type: str | None,
    target_id: UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """A page of the tenant's trail, newest first: the events that match every filter
    given, from `since` (included) to `until` (excluded)."""
    statement = select(AuditEvent)
    for column, value in (
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.action, action),
        (AuditEvent.target_type, target_type),
        (AuditEvent.target_id, target_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.occurred_at < until)
    return await keyset_page(session, statement, AuditEvent.id, page)
