"""Bootstrap creates what is missing and never alters an existing role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from ledgerline.db import embedded
from ledgerline.db.roles import asyncpg_dsn, bootstrap_database
from tests.helpers.database import admin_execute, make_settings

SUPER_OWNER = "ledgerline_test_super_owner"


@pytest.fixture
async def superuser_owner(admin_url: URL, worker_id: str) -> AsyncIterator[str]:
    database = f"ledgerline_boot_{worker_id}"
    await admin_execute(
        admin_url,
        f"DROP DATABASE IF EXISTS {database} WITH (FORCE)",
        f"DROP ROLE IF EXISTS {SUPER_OWNER}",
        f"CREATE ROLE {SUPER_OWNER} LOGIN SUPERUSER",
    )
    yield database
    await admin_execute(
        admin_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", f"DROP ROLE {SUPER_OWNER}"
    )


async def test_bootstrap_never_demotes_an_existing_owner(
    admin_url: URL, superuser_owner: str, template_database: str
) -> None:
    settings = make_settings(
        admin_url,
        superuser_owner,
        database_url=admin_url.set(
            drivername="postgresql+asyncpg", username=SUPER_OWNER, database=superuser_owner
        ).render_as_string(hide_password=False),
    )
    await bootstrap_database(settings, admin_url.render_as_string(hide_password=False))
    await bootstrap_database(settings, admin_url.render_as_string(hide_password=False))
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        still_super = await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = $1", SUPER_OWNER
        )
        owner = await conn.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", superuser_owner
        )
    finally:
        await conn.close()
    assert still_super is True
    assert owner == SUPER_OWNER


def test_as_root_a_socket_outside_the_data_folder_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(embedded, "_running_as_root", lambda: True)
    shared = make_url("postgresql://postgres@/postgres?host=/tmp/runtime-0/abc")
    with pytest.raises(embedded.EmbeddedServerRefused, match="Set DATA_DIR to a shorter path"):
        embedded._refuse_a_shared_socket(tmp_path, shared)
    private = make_url(f"postgresql://postgres@/postgres?host={tmp_path}")
    embedded._refuse_a_shared_socket(tmp_path, private)
