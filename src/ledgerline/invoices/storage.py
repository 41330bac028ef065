"""Where uploaded documents live: a small interface, a local folder by default.

A document is stored under its tenant and its SHA-256, so a key names its content and
its tenant, and a file is written whole (temporary file, then an atomic rename) before
the database row that points at it commits: a committed row always finds its file.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol
from uuid import UUID

_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9a-f]{64}$")


class DocumentStorage(Protocol):
    async def put(self, tenant_id: UUID, sha256: str, content: bytes) -> str:
        """Store `content`; return its key."""

    async def get(self, key: str) -> bytes:
        """The content stored under `key`; FileNotFoundError when there is none."""


class LocalDocumentStorage:
    """Files in `root/<tenant id>/<sha256>`, readable by the service's user only."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a document key: {key!r}")
        return self.root / key

    def _write(self, key: str, content: bytes) -> None:
        path = self._path(key)
        if path.exists():  # the same content, by its name
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def put(self, tenant_id: UUID, sha256: str, content: bytes) -> str:
        key = f"{tenant_id}/{sha256}"
        await asyncio.to_thread(self._write, key, content)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)
