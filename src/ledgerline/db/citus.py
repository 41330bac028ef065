"""Citus: the schema distributed by tenant, where the `citus` extension is installed.

The plan is read from the catalog, so it always covers the tables that exist: every table
of the public schema with a `tenant_id` column is distributed by it, all in one
colocation group (every row of a tenant on one node), a referenced table before the
tables that reference it; every other table except `alembic_version` is a reference table
(a copy on every node). `distribute` runs what Citus does not know yet and does nothing
without the extension, so migration 0022 calls it, and so does any later migration that
creates tables (docs/scaling.md). Not run against Citus here: it is not installable on
this machine; tests/test_citus_distribution.py checks the plan against the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import TopologicalSorter

from sqlalchemy import Connection, text

DISTRIBUTION_COLUMN = "tenant_id"
# Kept on the coordinator only.
LOCAL_TABLES = frozenset({"alembic_version"})

_TABLES = text(
    "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
    " AND a.attname = :column AND NOT a.attisdropped) AS distributed"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
    " ORDER BY c.relname"
)
_REFERENCES = text(
    "SELECT DISTINCT src.relname AS referencing, dst.relname AS referenced"
    " FROM pg_constraint con JOIN pg_class src ON src.oid = con.conrelid"
    " JOIN pg_class dst ON dst.oid = con.confrelid"
    " JOIN pg_namespace n ON n.oid = src.relnamespace"
    " WHERE con.contype = 'f' AND n.nspname = 'public'"
)
_INSTALLED = text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
_KNOWN_TO_CITUS = text("SELECT logicalrelid::regclass::text FROM pg_dist_partition")


@dataclass(frozen=True)
class DistributionPlan:
    reference_tables: tuple[str, ...]
    # Referenced tables first; the first one anchors the colocation group.
    distributed_tables: tuple[str, ...]

    def statements(self, already: frozenset[str] = frozenset()) -> list[str]:
        """The Citus calls for the tables not in `already` (those Citus knows)."""
        calls = [
            f"SELECT create_reference_table('{table}')"
            for table in self.reference_tables
            if table not in already
        ]
        anchor = self.distributed_tables[0] if self.distributed_tables else None
        for table in self.distributed_tables:
            if table in already:
                continue
            colocation = "" if table == anchor else f", colocate_with => '{anchor}'"
            calls.append(
                f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}'{colocation})"
            )
        return calls


def plan(connection: Connection) -> DistributionPlan:
    """What to distribute and what to copy, from the catalog as it is now."""
    tables = connection.execute(_TABLES, {"column": DISTRIBUTION_COLUMN}).all()
    distributed = [name for name, by_tenant in tables if by_tenant]
    reference = [name for name, by_tenant in tables if not by_tenant and name not in LOCAL_TABLES]
    order: TopologicalSorter[str] = TopologicalSorter(dict.fromkeys(distributed, ()))
    for referencing, referenced in connection.execute(_REFERENCES):
        if referencing != referenced and {referencing, referenced} <= set(distributed):
            order.add(referencing, referenced)
    return DistributionPlan(tuple(reference), tuple(order.static_order()))


def citus_installed(connection: Connection) -> bool:
    return bool(connection.scalar(_INSTALLED))


def distribute(connection: Connection, runtime_role: str) -> list[str]:
    """Distribute and copy every table Citus does not know yet; return the calls made.
    Nothing without the extension. The runtime role's `SET LOCAL app.tenant_id` is
    propagated to the shards' connections (their row security reads it); the ledger's
    and reference data's triggers touch only rows of their own tenant, which are
    colocated, so Citus is told to allow them."""
    if not citus_installed(connection):
        return []
    connection.execute(text("SET LOCAL citus.enable_unsafe_triggers = on"))
    connection.execute(
        text(f"ALTER ROLE \"{runtime_role}\" SET citus.propagate_set_commands = 'local'")
    )
    known = frozenset(connection.scalars(_KNOWN_TO_CITUS))
    calls = plan(connection).statements(already=known)
    for call in calls:
        connection.execute(text(call))
    return calls
