"""Integration API keys: `llk_<key id>_<tenant>_<secret>_<checksum>`.

The secret is 32 random bytes (256 bits). The CRC-32 checksum lets a typo, or a scanner
looking for leaked keys, tell a real key without a database. Ids in the key find the row
(and its tenant, for row-level security); the database keeps only an HMAC-SHA256 of the
whole key under SECRET_KEY, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import zlib
from dataclasses import dataclass
from uuid import UUID

from ledgerline.config import Settings
from ledgerline.security.tokens import token_digest

API_KEY_PREFIX = "llk_"


class MalformedApiKey(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ParsedApiKey:
    key_id: UUID
    tenant_id: UUID
    token: str

    @property
    def display_prefix(self) -> str:
        return self.token[: len(API_KEY_PREFIX) + 12]


def _checksum(body: str) -> str:
    return format(zlib.crc32(body.encode()), "08x")


def new_api_key(key_id: UUID, tenant_id: UUID) -> ParsedApiKey:
    body = f"{API_KEY_PREFIX}{key_id.hex}_{tenant_id.hex}_{secrets.token_urlsafe(32)}"
    return ParsedApiKey(key_id, tenant_id, f"{body}_{_checksum(body)}")


def parse_api_key(token: str) -> ParsedApiKey:
    """The key's ids, after its shape and checksum are checked (no database needed)."""
    if not token.startswith(API_KEY_PREFIX) or len(token) > 200:
        raise MalformedApiKey("not an API key")
    body, separator, checksum = token.rpartition("_")
    if not separator or not hmac.compare_digest(checksum, _checksum(body)):
        raise MalformedApiKey("checksum mismatch")
    parts = body[len(API_KEY_PREFIX) :].split("_", 2)
    if len(parts) != 3 or not parts[2]:
        raise MalformedApiKey("malformed key")
    try:
        return ParsedApiKey(UUID(hex=parts[0]), UUID(hex=parts[1]), token)
    except ValueError as error:
        raise MalformedApiKey("malformed key") from error


def api_key_digest(settings: Settings, token: str) -> bytes:
    return token_digest(settings, token)


def digest_matches(settings: Settings, token: str, stored: bytes) -> bool:
    return hmac.compare_digest(api_key_digest(settings, token), stored)
