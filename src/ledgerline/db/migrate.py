"""Alembic, driven from code: upgrade, downgrade, current revision, head."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from ledgerline.config import Settings


def _project_root() -> Path:
    here = Path(__file__).resolve().parents[3]
    return here if (here / "migrations").is_dir() else Path.cwd()


def alembic_config(settings: Settings) -> Config:
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["settings"] = settings
    return config


@cache
def head_revision() -> str | None:
    script = ScriptDirectory(str(_project_root() / "migrations"))
    return script.get_current_head()


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Blocking; call through `asyncio.to_thread` from async code."""
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=False)
