"""Passwords: argon2id through pwdlib, off the event loop, with a policy.

Unknown accounts verify against a dummy hash made with the same parameters, so a login
for an unknown email costs what a login with a wrong password costs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from ledgerline.config import Settings
from ledgerline.problems import Problem

T = TypeVar("T")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's maintained frequency list."""
    return frozenset(FREQUENCY_LISTS["passwords"])


def _weak(detail: str) -> Problem:
    return Problem(422, "weak_password", detail)


def check_password_policy(password: str) -> None:
    """Refuse a password that is too short, too long or too easy to guess (422)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _weak(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise _weak(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if password.lower() in _common_passwords() or len(set(password)) < 4:
        raise _weak("this password is too common or too easy to guess")


class Passwords:
    """Hashing and verification with the configured argon2id cost."""

    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.password_argon2_time_cost,
                    memory_cost=settings.password_argon2_memory_kib,
                    parallelism=settings.password_argon2_parallelism,
                ),
            )
        )
        self._dummy_hash = self._hasher.hash("ledgerline dummy password")
        # Hashes run here, off the event loop, at most one thread per core but one: a
        # burst of logins queues for the hashing threads instead of starving the loop.
        workers = settings.password_hash_workers or max(1, (os.cpu_count() or 2) - 1)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="password-hash")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(matches, new hash when the stored one used older parameters).

        With no stored hash it verifies against the dummy one and answers no.
        """
        if password_hash is None:
            await self._run(self._hasher.verify, password, self._dummy_hash)
            return False, None
        try:
            return await self._run(self._hasher.verify_and_update, password, password_hash)
        except Exception:  # an unreadable stored hash is a failed verification
            return False, None
