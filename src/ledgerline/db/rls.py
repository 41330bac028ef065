"""Row-level security and grants, as migrations apply them: the one definition.

Every tenant-owned table gets ENABLE and FORCE ROW LEVEL SECURITY and one policy whose
USING and WITH CHECK both read the transaction's tenant. With no tenant set,
`NULLIF(..., '')::uuid` is NULL and the comparison matches no row.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

from ledgerline.db.tenant_context import TENANT_SETTING

TENANT_SLUG_SETTING = "app.tenant_slug"
CURRENT_TENANT_SQL = f"(SELECT NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid)"
POLICY_NAME = "tenant_isolation"


def tenant_rls_statements(table: str, key_column: str = "tenant_id") -> list[str]:
    condition = f"{key_column} = {CURRENT_TENANT_SQL}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY_NAME} ON {table} USING ({condition}) WITH CHECK ({condition})",
    ]


def enable_tenant_rls(table: str, key_column: str = "tenant_id") -> None:
    for statement in tenant_rls_statements(table, key_column):
        op.execute(statement)


def tenant_slug_policy() -> str:
    """The one extra policy on `tenants`: read (only) the row whose slug the transaction
    names. Login uses it to turn a slug into the tenant's id before it has the id."""
    return (
        "CREATE POLICY tenant_by_slug ON tenants FOR SELECT USING"
        f" (slug = (SELECT NULLIF(current_setting('{TENANT_SLUG_SETTING}', true), '')))"
    )


def grant(table: str, role: str, privileges: Iterable[str]) -> None:
    op.execute(f'GRANT {", ".join(privileges)} ON {table} TO "{role}"')


def migration_roles() -> tuple[str, str]:
    """(runtime role, platform role) named by the settings the migration runs with."""
    settings = op.get_context().config.attributes["settings"]  # type: ignore[union-attr]
    return settings.database_runtime_user, settings.database_platform_user
