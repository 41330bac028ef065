"""Alembic, driven from code: upgrade, downgrade, current revision, head."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from sqlalchemy import MetaData

from ledgerline.config import Settings


def _project_root() -> Path:
    here = Path(__file__).resolve().parents[3]
    return here if (here / "migrations").is_dir() else Path.cwd()


def alembic_config(settings: Settings, script_location: Path | None = None) -> Config:
    root = _project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(script_location or root / "migrations"))
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


def next_revision_id(config: Config) -> str | None:
    """The revision ids count up (0001, 0002, ...): the next one, or Alembic's own
    random id after a head that is not a number."""
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        return "0001"
    return f"{int(head) + 1:04d}" if head.isdigit() else None


def revision(
    settings: Settings,
    message: str,
    *,
    autogenerate: bool = True,
    script_location: Path | None = None,
    target_metadata: MetaData | None = None,
) -> Path:
    """A new migration file, compared against the database at `settings` (which must be
    at head); returns its path. `target_metadata` replaces the models' metadata (tests)."""
    config = alembic_config(settings, script_location)
    if target_metadata is not None:
        config.attributes["target_metadata"] = target_metadata
    script = command.revision(
        config, message=message, autogenerate=autogenerate, rev_id=next_revision_id(config)
    )
    if not isinstance(script, Script):
        raise RuntimeError("alembic wrote no single revision")
    return Path(script.path)


def current(settings: Settings) -> None:
    command.current(alembic_config(settings), verbose=False)
