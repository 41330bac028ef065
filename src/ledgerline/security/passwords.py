"""Password hashing: argon2id through pwdlib, off the event loop."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from ledgerline.config import Settings

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


class WeakPassword(ValueError):
    pass


def password_hasher(settings: Settings) -> PasswordHash:
    return PasswordHash(
        (
            Argon2Hasher(
                time_cost=settings.password_argon2_time_cost,
                memory_cost=settings.password_argon2_memory_kib,
                parallelism=settings.password_argon2_parallelism,
            ),
        )
    )


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


async def hash_password(hasher: PasswordHash, password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)
