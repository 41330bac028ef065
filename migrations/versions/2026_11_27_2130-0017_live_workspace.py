"""live workspace: the domain-event outbox

`domain_events` holds every committed change a live subscriber may see, written in the
transaction of the change (events/outbox.py). The runtime role may only read and append:
an event is never changed or deleted by a request. Old events are pruned by the
platform role after the retention (EVENTS_RETENTION_DAYS).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27 21:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerline.db.rls import enable_tenant_rls, grant, migration_roles

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=80)), nullable=False),
        sa.Column("permission", sa.String(length=40), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("domain_events_tenant_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("domain_events_pkey")),
    )
    runtime, platform = migration_roles()
    enable_tenant_rls("domain_events")
    grant("domain_events", runtime, ["SELECT", "INSERT"])
    grant("domain_events", platform, ["SELECT", "DELETE"])


def downgrade() -> None:
    op.drop_table("domain_events")
