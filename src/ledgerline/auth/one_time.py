"""One-time secrets: email login codes, password-reset and email-verification tokens.

Stored only as HMAC-SHA256 under SECRET_KEY; single use; short-lived. A user has at most
one live secret per purpose: a new one replaces the old.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    func,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.config import Settings
from ledgerline.db.base import Base, TenantScoped, new_id
from ledgerline.mail.service import queue_mail
from ledgerline.security.tokens import EMAIL_VERIFICATION_PREFIX, new_tenant_token, token_digest
from ledgerline.users.models import User


class Purpose(StrEnum):
    LOGIN_CODE = "login_code"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a password
    EMAIL_VERIFICATION = "email_verification"


class OneTimeSecret(TenantScoped, Base):
    __tablename__ = "one_time_secrets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        CheckConstraint(
            "purpose IN ('login_code', 'password_reset', 'email_verification')",
            name="purpose_allowed",
        ),
        Index(None, "tenant_id", "user_id", "purpose"),
        Index(None, "tenant_id", "secret_hash"),
    )

    user_id: Mapped[UUID]
    purpose: Mapped[Purpose] = mapped_column(String(32))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


EMAIL_VERIFICATION_TTL = timedelta(days=7)


async def replace_secret(
    session: AsyncSession, user: User, purpose: Purpose, ttl: timedelta
) -> OneTimeSecret:
    """Retire the user's live secret of this purpose; the caller fills the new one's hash."""
    await session.execute(
        update(OneTimeSecret)
        .where(
            OneTimeSecret.user_id == user.id,
            OneTimeSecret.purpose == purpose,
            OneTimeSecret.consumed_at.is_(None),
        )
        .values(consumed_at=func.now())
    )
    secret = OneTimeSecret(
        tenant_id=user.tenant_id,
        id=new_id(),
        user_id=user.id,
        purpose=purpose,
        secret_hash=b"",
        expires_at=datetime.now(UTC) + ttl,
    )
    session.add(secret)
    return secret


async def send_email_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    """In the caller's transaction: a verification link to the user's address."""
    secret = await replace_secret(session, user, Purpose.EMAIL_VERIFICATION, EMAIL_VERIFICATION_TTL)
    token = new_tenant_token(EMAIL_VERIFICATION_PREFIX, user.tenant_id)
    secret.secret_hash = token_digest(settings, token)
    queue_mail(
        session,
        tenant_id=user.tenant_id,
        to=user.email,
        subject="Confirm your email address for Ledgerline",
        body="To confirm this address, open this link within 7 days:\n"
        f"{settings.portal_base_url}/verify-email?token={token}\n",
    )
