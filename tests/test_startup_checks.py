"""The service refuses to start on a runtime role that escapes row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import URL

from ledgerline.app import create_app
from ledgerline.config import Settings
from ledgerline.db.roles import UnsafeDatabaseRole
from tests.conftest import admin_execute


async def start(settings: Settings) -> None:
    async with LifespanManager(create_app(settings)):
        pass


async def test_the_configured_runtime_role_starts(settings: Settings) -> None:
    await start(settings)


@pytest.mark.parametrize(
    ("runtime_user", "reason"),
    [
        ("postgres", "is a superuser"),
        (
            "ledgerline_owner",
            "owns (or is a member of the owner of) alembic_version, platform_admins",
        ),
        ("ledgerline_platform", "has BYPASSRLS"),
    ],
    ids=["superuser", "table-owner", "bypassrls"],
)
async def test_an_unsafe_runtime_role_is_refused(
    settings: Settings, runtime_user: str, reason: str
) -> None:
    unsafe = settings.model_copy(update={"database_runtime_user": runtime_user})
    with pytest.raises(UnsafeDatabaseRole, match="refusing to start") as refused:
        await start(unsafe)
    assert reason in str(refused.value)


@pytest.fixture
async def member_of_owner(admin_url: URL) -> AsyncIterator[str]:
    role = "ledgerline_test_member"
    await admin_execute(
        admin_url,
        f"DROP ROLE IF EXISTS {role}",
        f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE ledgerline_owner",
    )
    yield role
    await admin_execute(admin_url, f"DROP ROLE {role}")


async def test_a_member_of_the_owner_role_is_refused(
    settings: Settings, member_of_owner: str
) -> None:
    unsafe = settings.model_copy(update={"database_runtime_user": member_of_owner})
    with pytest.raises(UnsafeDatabaseRole, match="member of the owner"):
        await start(unsafe)
