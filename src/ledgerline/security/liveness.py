"""Whether a caller's credential still holds, read from the rows themselves.

The access hook re-reads its caller on every request with these statements (and sign-out
checks the token it ends with them). Plain SQL over the identity tables: plumbing that
imports no feature.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.config import Settings
from ledgerline.db import driver
from ledgerline.security.api_keys import ParsedApiKey, digest_matches
from ledgerline.security.tokens import AccessClaims

# Sent with asyncpg itself (db/driver.py): every tenant request runs it.
_USER_NOW = """
    SELECT u.role, t.status, t.plan
    FROM users u
    JOIN tenants t ON t.id = u.tenant_id
    JOIN auth_sessions s ON s.tenant_id = u.tenant_id AND s.id = $2 AND s.user_id = u.id
    WHERE u.id = $1 AND u.is_active AND s.revoked_at IS NULL AND s.expires_at > now()
      AND NOT EXISTS (SELECT 1 FROM denied_access_tokens d WHERE d.jti = $3)
"""

_ADMIN_NOW = text(
    """
    SELECT 1
    FROM platform_admins a
    JOIN admin_sessions s ON s.id = :sid AND s.admin_id = a.id
    WHERE a.id = :aid AND a.is_active AND s.revoked_at IS NULL AND s.expires_at > now()
      AND NOT EXISTS (SELECT 1 FROM denied_access_tokens d WHERE d.jti = :jti)
    """
)

_API_KEY = """
    SELECT k.secret_hash, k.scopes, k.revoked_at, k.expires_at, k.last_used_at,
           t.status, t.plan
    FROM api_keys k
    JOIN tenants t ON t.id = k.tenant_id
    WHERE k.id = $1
"""

_API_KEY_USED = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2"

# An API key's last_used_at is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def live_user(session: AsyncSession, claims: AccessClaims) -> asyncpg.Record | None:
    """(role, status, plan: the user's role, the tenant's status and plan) if the user is
    active, the token's session live and the token not signed out; else None. One round
    trip, run in the request's tenant transaction."""
    connection = await driver.driver_connection(session)
    return await connection.fetchrow(_USER_NOW, claims.subject, claims.session_id, claims.jti)


async def admin_is_live(session: AsyncSession, claims: AccessClaims) -> bool:
    """Whether the token's ADMIN is active, its session live and the token not signed out
    (on the platform connection)."""
    row = await session.execute(
        _ADMIN_NOW, {"aid": claims.subject, "sid": claims.session_id, "jti": claims.jti}
    )
    return row.one_or_none() is not None


async def live_api_key(
    session: AsyncSession, settings: Settings, parsed: ParsedApiKey
) -> tuple[list[str], str, str] | None:
    """(scopes, tenant status, plan) when the key is genuine, unrevoked and unexpired.

    Runs in the key's tenant transaction. Records use at most once a minute.
    """
    connection = await driver.driver_connection(session)
    row = await connection.fetchrow(_API_KEY, parsed.key_id)
    if row is None:
        return None
    now = datetime.now(UTC)
    if (
        not digest_matches(settings, parsed.token, row["secret_hash"])
        or row["revoked_at"] is not None
        or (row["expires_at"] is not None and row["expires_at"] <= now)
    ):
        return None
    last_used = row["last_used_at"]
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        await connection.execute(_API_KEY_USED, now, parsed.key_id)
    return list(row["scopes"]), str(row["status"]), str(row["plan"])
