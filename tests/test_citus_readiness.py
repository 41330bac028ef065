"""The schema could be distributed by tenant on Citus without a change (docs/scaling.md).

Citus is not installable here, so this checks what `create_distributed_table(...,
'tenant_id')` and `create_reference_table(...)` require, in the catalog: every table
with tenant_id is distributed by it and colocated; every primary key, unique and
exclusion constraint of a distributed table includes tenant_id; a foreign key between
distributed tables joins tenant_id to tenant_id; a distributed table otherwise references
only reference tables; a reference table references only reference tables; the rest
(local to the coordinator) is named here with its reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from ledgerline.config import Settings
from ledgerline.db.roles import asyncpg_dsn

ROOT = Path(__file__).resolve().parents[1]
# Global tables copied to every node: distributed tables reference them, and the
# request path joins them with tenant rows (the caller check reads denied tokens).
REFERENCE_TABLES = {
    "tenants": "every tenant table's tenant_id references it",
    "denied_access_tokens": "read by every request's caller check, beside tenant rows",
    "platform_admins": "platform operators; referenced by their sessions",
    "admin_sessions": "platform operators' refresh families",
    "admin_refresh_tokens": "platform operators' refresh tokens",
    "platform_audit_events": "platform operators' own events",
}
# Kept on the coordinator only.
LOCAL_TABLES = {"alembic_version": "migration bookkeeping"}

_TABLES = """
SELECT c.oid, c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""
_CONSTRAINED_INDEXES = """
SELECT i.indexrelid::regclass::text AS name,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k(n)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) AS columns
FROM pg_index i WHERE i.indrelid = $1 AND (i.indisunique OR i.indisprimary OR i.indisexclusion)
"""
_FOREIGN_KEYS = """
SELECT con.conname, ref.relname AS referenced,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.i) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
             ORDER BY k.i) AS referenced_columns
FROM pg_constraint con JOIN pg_class ref ON ref.oid = con.confrelid
WHERE con.conrelid = $1 AND con.contype = 'f'
"""


async def distribution_problems(conn: asyncpg.Connection) -> list[str]:
    tables = {row["relname"]: row for row in await conn.fetch(_TABLES)}
    distributed = {name for name, row in tables.items() if row["has_tenant"]}
    problems = []
    for name, row in sorted(tables.items()):
        kinds = [
            kind
            for kind, members in (
                ("distributed", distributed),
                ("reference", REFERENCE_TABLES),
                ("local", LOCAL_TABLES),
            )
            if name in members
        ]
        if len(kinds) != 1:
            problems.append(f"{name}: {' and '.join(kinds) or 'no tenant_id and not listed'}")
            continue
        kind = kinds[0]
        if kind == "distributed":
            for index in await conn.fetch(_CONSTRAINED_INDEXES, row["oid"]):
                if "tenant_id" not in index["columns"]:
                    problems.append(f"{name}: {index['name']} does not include tenant_id")
        for fk in await conn.fetch(_FOREIGN_KEYS, row["oid"]):
            target = fk["referenced"]
            pairs = dict(zip(fk["columns"], fk["referenced_columns"], strict=True))
            if kind == "distributed" and target in distributed:
                if pairs.get("tenant_id") != "tenant_id":
                    problems.append(f"{name}: {fk['conname']} is not colocated on tenant_id")
            elif kind == "distributed" and target not in REFERENCE_TABLES:
                problems.append(f"{name}: {fk['conname']} references {target}, not distributable")
            elif kind == "reference" and target not in REFERENCE_TABLES:
                problems.append(f"{name}: reference table references {target}")
            elif kind == "local" and target in distributed:
                problems.append(f"{name}: local table references distributed {target}")
    return problems


@pytest.fixture
async def owner(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """An owner connection inside a transaction that is rolled back: DDL leaves no trace."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_url()))
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield conn
    finally:
        await transaction.rollback()
        await conn.close()


async def test_every_table_can_be_distributed_by_tenant(owner: asyncpg.Connection) -> None:
    assert await distribution_problems(owner) == []


def test_scaling_page_names_every_reference_table() -> None:
    page = (ROOT / "docs/scaling.md").read_text()
    assert [name for name in REFERENCE_TABLES if f"`{name}`" not in page] == []


@pytest.mark.parametrize(
    ("ddl", "problem"),
    [
        (
            "CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid NOT NULL, code text,"
            " PRIMARY KEY (tenant_id, id), UNIQUE (code))",
            "probe: probe_code_key does not include tenant_id",
        ),
        (
            "CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid NOT NULL, vendor_id uuid,"
            " PRIMARY KEY (tenant_id, id), FOREIGN KEY (vendor_id, id)"
            " REFERENCES vendors (id, tenant_id))",
            "probe: probe_vendor_id_id_fkey is not colocated on tenant_id",
        ),
        (
            "CREATE TABLE probe (tenant_id uuid NOT NULL, id uuid NOT NULL,"
            " PRIMARY KEY (tenant_id, id), version text REFERENCES alembic_version)",
            "probe: probe_version_fkey references alembic_version, not distributable",
        ),
        (
            "CREATE TABLE probe (id uuid PRIMARY KEY)",
            "probe: no tenant_id and not listed",
        ),
    ],
)
async def test_a_table_citus_could_not_distribute_is_caught(
    owner: asyncpg.Connection, ddl: str, problem: str
) -> None:
    if "REFERENCES vendors" in ddl:
        await owner.execute("CREATE UNIQUE INDEX vendors_probe_key ON vendors (id, tenant_id)")
    await owner.execute(ddl)
    assert problem in await distribution_problems(owner)
