"""Access tokens (JWT, PyJWT) and opaque refresh tokens.

Access tokens carry iss, aud, sub, tid, role, jti, typ, sid (the refresh family), iat and
exp; HS256 only, the algorithm pinned when decoding; `kid` names the key. Refresh tokens
are random, prefixed with what they belong to (`llr_<tenant>_...` for a tenant user,
`lla_...` for a platform admin), and stored only as an HMAC-SHA256 under SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from ledgerline.config import Settings
from ledgerline.db.base import new_id

ALGORITHM = "HS256"
ACCESS = "access"
TENANT_REFRESH_PREFIX = "llr_"
ADMIN_REFRESH_PREFIX = "lla_"
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "typ", "iat", "exp", "role", "sid"]


class InvalidToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: UUID
    tenant_id: UUID | None
    role: str
    jti: UUID
    session_id: UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    jti: UUID
    expires_in: int


def issue_access_token(
    settings: Settings, *, subject: UUID, tenant_id: UUID | None, role: str, session_id: UUID
) -> IssuedAccessToken:
    now = datetime.now(UTC)
    jti = new_id()
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(subject),
        "tid": str(tenant_id) if tenant_id else None,
        "role": role,
        "jti": str(jti),
        "sid": str(session_id),
        "typ": ACCESS,
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_seconds),
    }
    token = jwt.encode(
        claims,
        settings.secret_key.get_secret_value(),
        algorithm=ALGORITHM,
        headers={"kid": settings.jwt_key_id},
    )
    return IssuedAccessToken(token, jti, settings.access_token_ttl_seconds)


def _verification_key(settings: Settings, token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken("malformed token") from error
    kid = header.get("kid")
    if kid == settings.jwt_key_id:
        return settings.secret_key.get_secret_value()
    previous = settings.jwt_previous_keys.get(str(kid))
    if previous is None:
        raise InvalidToken("unknown signing key")
    return previous.get_secret_value()


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature (HS256 only), issuer, audience, expiry and type."""
    try:
        claims = jwt.decode(
            token,
            _verification_key(settings, token),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": _REQUIRED_CLAIMS},
        )
        if claims["typ"] != ACCESS:
            raise InvalidToken("not an access token")
        return AccessClaims(
            subject=UUID(claims["sub"]),
            tenant_id=UUID(claims["tid"]) if claims.get("tid") else None,
            role=str(claims["role"]),
            jti=UUID(claims["jti"]),
            session_id=UUID(claims["sid"]),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise InvalidToken(str(error)) from error


class VerifiedAccessTokens:
    """Access tokens this process has verified, by their exact text, while unexpired.

    PyJWT's decode measured about 0.2 ms a token (more than the rest of an authenticated
    read's own work), and a client sends one token many times. So each distinct token is
    verified once per process and its claims reused until its `exp`, checked on every
    use. What a token says never changes; whether it still holds (user active, session
    live, jti not signed out, role now) is read from the database on every request, and
    a restart with other keys starts from nothing. Bounded: the least recently used
    token goes first.
    """

    def __init__(self, settings: Settings, capacity: int = 10_000) -> None:
        self._settings = settings
        self._capacity = capacity
        self._claims: OrderedDict[str, tuple[AccessClaims, float]] = OrderedDict()

    def decode(self, token: str) -> AccessClaims:
        known = self._claims.get(token)
        if known is not None:
            claims, expires_at = known
            if time.time() < expires_at:
                self._claims.move_to_end(token)
                return claims
            del self._claims[token]
            raise InvalidToken("expired")
        claims = decode_access_token(self._settings, token)
        self._claims[token] = (claims, claims.expires_at.timestamp())
        if len(self._claims) > self._capacity:
            self._claims.popitem(last=False)
        return claims


PASSWORD_RESET_PREFIX = "llp_"  # noqa: S105 - a token prefix
EMAIL_VERIFICATION_PREFIX = "llv_"


def new_tenant_token(prefix: str, tenant_id: UUID) -> str:
    """A random secret that names its tenant: `<prefix><tenant hex>_<secret>`."""
    return f"{prefix}{tenant_id.hex}_{secrets.token_urlsafe(32)}"


def tenant_of_token(token: str, prefix: str) -> UUID:
    if token.startswith(prefix) and len(token) < 200:
        tenant_hex, _, secret = token[len(prefix) :].partition("_")
        if secret:
            try:
                return UUID(hex=tenant_hex)
            except ValueError:
                pass
    raise InvalidToken("malformed token")


def new_refresh_token(tenant_id: UUID | None) -> str:
    if tenant_id is None:
        return f"{ADMIN_REFRESH_PREFIX}{secrets.token_urlsafe(32)}"
    return new_tenant_token(TENANT_REFRESH_PREFIX, tenant_id)


def refresh_token_tenant(token: str) -> UUID | None:
    """The tenant a refresh token belongs to (None: a platform admin's)."""
    if token.startswith(ADMIN_REFRESH_PREFIX):
        return None
    return tenant_of_token(token, TENANT_REFRESH_PREFIX)


def token_digest(settings: Settings, token: str) -> bytes:
    """Keyed hash of a secret token: what the database stores and looks up."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, token.encode(), hashlib.sha256).digest()
