"""citus distribution: every tenant table distributed by tenant_id, the global tables
copied to every node, where the `citus` extension is installed; nothing elsewhere

`db/citus.distribute` reads the plan from the catalog (docs/scaling.md: "Citus") and
makes only the calls Citus has not seen yet, so a later migration that creates tables
calls it again at its end. Without Citus (the embedded server, plain PostgreSQL) it
changes nothing.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 22:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

from ledgerline.db.citus import distribute
from ledgerline.db.rls import migration_roles

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    runtime, _platform = migration_roles()
    distribute(op.get_bind(), runtime)


def downgrade() -> None:
    """Distribution is left in place: Citus's `undistribute_table` brings a table back to
    the coordinator, by hand, if a cluster is ever given up."""
