"""`make` inside an activated virtualenv: pip refuses `--user` there, and uv should use
the project's .venv rather than warn about the active one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make(*args: str, virtualenv: Path | None) -> str:
    """`make ARGS` in the project, on a PATH without uv (so it would be installed)."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    if virtualenv is not None:
        env["VIRTUAL_ENV"] = str(virtualenv)
        env["PATH"] = f"{virtualenv / 'bin'}:{env['PATH']}"
    result = subprocess.run(
        [str(MAKE), "--no-print-directory", "-C", str(ROOT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_uv_is_installed_into_the_active_virtualenv(tmp_path: Path) -> None:
    recipe = make("-n", "ensure-uv", virtualenv=tmp_path / "venv")
    assert "pip install" in recipe
    assert "--user" not in recipe


def test_outside_a_virtualenv_uv_is_installed_for_the_user() -> None:
    recipe = make("-n", "ensure-uv", virtualenv=None)
    assert "pip install --quiet --user uv" in recipe


def test_commands_do_not_see_the_active_virtualenv(tmp_path: Path) -> None:
    probe = 'probe: ; @echo "[$$VIRTUAL_ENV]"'
    assert make("--eval", probe, "probe", virtualenv=tmp_path / "venv").strip() == "[]"
