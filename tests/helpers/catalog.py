"""The catalog check: every table keeps the tenancy invariants that docs/architecture.md
describes (forced row security with the tenant policy; tenant_id leading every key and
every reference between tenant tables)."""

from __future__ import annotations

import re

import asyncpg

# Tables without tenant_id, each with the reason it may exist. A new one must be added
# here deliberately; anything else without tenant_id fails the check.
GLOBAL_TABLES = {
    "alembic_version": "migration bookkeeping",
    "tenants": "the tenant itself: row security keyed by id",
    "platform_admins": "platform operators; the runtime role has no privilege on it",
    "admin_sessions": "platform operators' refresh families; platform role only",
    "admin_refresh_tokens": "platform operators' refresh tokens; platform role only",
    "denied_access_tokens": "signed-out access token ids and expiry; no tenant data",
    "platform_audit_events": "platform operators' own events; platform role only",
}
RLS_KEY_COLUMN = {"tenants": "id"}
RUNTIME_FORBIDDEN_TABLES = {
    "platform_admins",
    "admin_sessions",
    "admin_refresh_tokens",
    "platform_audit_events",
}

# The only policies besides the tenant policy: (table, name) -> (command, USING).
EXTRA_POLICIES = {
    ("tenants", "tenant_by_slug"): (
        "r",
        "((slug)::text = ( SELECT NULLIF(current_setting('app.tenant_slug'::text, true),"
        " ''::text) AS \"nullif\"))",
    ),
}

_POLICY = re.compile(
    r"^\((?P<column>\w+) = \( SELECT \(NULLIF\(current_setting\('app\.tenant_id'::text, true\),"
    r" ''::text\)\)::uuid AS "
    r'"nullif"\)\)$'
)

_TABLES = """
SELECT c.oid, c.relkind::text AS relkind,
       CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END
           AS relname,
       c.relrowsecurity, c.relforcerowsecurity,
       coalesce('security_invoker=true' = ANY (c.reloptions), false) AS security_invoker,
       has_table_privilege($1, c.oid, 'TRUNCATE, TRIGGER, REFERENCES') AS runtime_beyond_dml,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_id,
       (SELECT format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null'
               ELSE '' END FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = 'tenant_id') AS tenant_id_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^(pg_|information_schema$)' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY 3
"""

_POLICIES = """
SELECT pol.polname AS policyname, pol.polpermissive AS permissive, pol.polcmd::text AS cmd,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
             FROM unnest(pol.polroles) AS r) AS roles,
       pg_get_expr(pol.polqual, pol.polrelid) AS qual,
       pg_get_expr(pol.polwithcheck, pol.polrelid) AS with_check
FROM pg_policy pol WHERE pol.polrelid = $1
"""

# Primary key, unique constraints and indexes, exclusion constraints: their first column.
_KEYS = """
SELECT i.indexrelid::regclass::text AS name, i.indisprimary AS is_primary,
       i.indisexclusion AS is_exclusion,
       (SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid
        AND attnum = i.indkey[0]) AS first_column
FROM pg_index i WHERE i.indrelid = $1 AND (i.indisunique OR i.indisprimary OR i.indisexclusion)
"""

_FOREIGN_KEYS = """
SELECT con.conname, ref.relname AS referenced,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.i) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
             ORDER BY k.i) AS referenced_columns,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = con.confrelid
               AND a.attname = 'tenant_id') AS references_tenant_table
FROM pg_constraint con JOIN pg_class ref ON ref.oid = con.confrelid
WHERE con.conrelid = $1 AND con.contype = 'f'
"""


_KIND = {"v": "view", "m": "materialized view", "f": "foreign table"}


async def catalog_violations(conn: asyncpg.Connection, runtime_role: str) -> list[str]:
    problems: list[str] = []
    for table in await conn.fetch(_TABLES, runtime_role):
        name = table["relname"]
        tenant_owned = table["has_tenant_id"]
        if table["runtime_beyond_dml"]:
            problems.append(f"{name}: the runtime role holds TRUNCATE, TRIGGER or REFERENCES")
        if table["relkind"] == "v":
            if not table["security_invoker"]:
                problems.append(f"{name}: a view must be security_invoker (else it skips RLS)")
            continue
        if table["relkind"] in _KIND:
            problems.append(f"{name}: a {_KIND[table['relkind']]} cannot carry row security")
            continue
        if not tenant_owned and name not in GLOBAL_TABLES:
            problems.append(f"{name}: no tenant_id column and not a declared global table")
            continue
        if name in RUNTIME_FORBIDDEN_TABLES:
            granted = await conn.fetchval(
                "SELECT has_table_privilege($1, $2, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')",
                runtime_role,
                name,
            )
            if granted:
                problems.append(f"{name}: the runtime role has a privilege on it")
        key_column = "tenant_id" if tenant_owned else RLS_KEY_COLUMN.get(name)
        if key_column is None:
            continue
        if tenant_owned and table["tenant_id_type"] != "uuid not null":
            problems.append(f"{name}: tenant_id is {table['tenant_id_type']}, not uuid not null")
        if not table["relrowsecurity"]:
            problems.append(f"{name}: row level security is not enabled")
        if not table["relforcerowsecurity"]:
            problems.append(f"{name}: row level security is not forced")
        problems += _policy_problems(name, key_column, await conn.fetch(_POLICIES, table["oid"]))
        if tenant_owned:
            problems += _key_problems(name, await conn.fetch(_KEYS, table["oid"]))
            problems += _foreign_key_problems(name, await conn.fetch(_FOREIGN_KEYS, table["oid"]))
    return problems


def _policy_problems(table: str, key_column: str, policies: list[asyncpg.Record]) -> list[str]:
    if not policies:
        return [f"{table}: no row level security policy"]
    problems = []
    for policy in policies:
        label = f"{table}: policy {policy['policyname']}"
        extra = EXTRA_POLICIES.get((table, policy["policyname"]))
        if extra is not None:
            command, using = extra
            if (policy["cmd"], policy["qual"], policy["with_check"]) != (command, using, None):
                problems.append(f"{label} differs from its declared form")
            continue
        if not policy["permissive"] or policy["cmd"] != "*":
            problems.append(f"{label} must be PERMISSIVE and FOR ALL")
        if policy["roles"] != ["public"]:
            problems.append(f"{label} must apply to every role, not {policy['roles']}")
        for clause in ("qual", "with_check"):
            match = _POLICY.match(policy[clause] or "")
            if match is None or match["column"] != key_column:
                problems.append(
                    f"{label}: {'USING' if clause == 'qual' else 'WITH CHECK'} is"
                    f" {policy[clause]!r}, not {key_column} = the current tenant"
                )
    return problems


def _key_problems(table: str, keys: list[asyncpg.Record]) -> list[str]:
    problems = []
    if not any(key["is_primary"] for key in keys):
        problems.append(f"{table}: no primary key")
    for key in keys:
        if key["first_column"] != "tenant_id":
            kind = (
                "primary key"
                if key["is_primary"]
                else "exclusion constraint"
                if key["is_exclusion"]
                else "unique key"
            )
            problems.append(
                f"{table}: {kind} {key['name']} starts with {key['first_column']}, not tenant_id"
            )
    return problems


def _foreign_key_problems(table: str, foreign_keys: list[asyncpg.Record]) -> list[str]:
    problems = []
    for fk in foreign_keys:
        pairs = dict(zip(fk["columns"], fk["referenced_columns"], strict=True))
        if fk["referenced"] == "tenants":
            if pairs != {"tenant_id": "id"}:
                problems.append(f"{table}: {fk['conname']} must be (tenant_id) -> tenants(id)")
        elif fk["references_tenant_table"] and pairs.get("tenant_id") != "tenant_id":
            problems.append(
                f"{table}: {fk['conname']} to tenant table {fk['referenced']} is not composite"
                " on (tenant_id, ...)"
            )
    return problems
