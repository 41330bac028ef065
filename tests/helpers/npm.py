"""The npm tools the suite runs (Redocly's linter, openapi-typescript, openapi-fetch and
tsc), pinned in clients/typescript/package.json and its lock file.

`npm ci` installs them into clients/typescript/node_modules once (again when the lock
file changes). Without node and npm the tests that need them skip, except with CI=true,
where they fail: `.ci/run` installs nodejs and npm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import fasteners
import pytest

TOOLS_DIR = Path(__file__).resolve().parents[2] / "clients" / "typescript"


def npm_tools() -> Path:
    """The folder whose node_modules holds the tools, installed as locked."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed (.ci/run installs them)")
        pytest.skip("node and npm are not installed")
    lock = TOOLS_DIR / "package-lock.json"
    installed = TOOLS_DIR / "node_modules" / ".package-lock.json"
    with fasteners.InterProcessLock(str(TOOLS_DIR / ".npm-install.lock")):
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=TOOLS_DIR,
                check=True,
                timeout=600,
            )
    return TOOLS_DIR
