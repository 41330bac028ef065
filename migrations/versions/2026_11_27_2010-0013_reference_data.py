"""reference data: versions and active flags on categories, locations and custodians; an
import content key on assets

Categories, locations and custodians get a version (their ETag: updates take If-Match)
and `is_active` (deactivating keeps them on the assets that use them). The database
refuses a new reference to an inactive one: an asset created with, or moved to, an
inactive category, location or custodian, and a location placed under an inactive
parent. The trigger takes a share lock on the referenced row, so a concurrent
deactivation waits for the reference (or the reference for it) instead of slipping past.

`assets.content_key` identifies an untagged row of a CSV import, so importing the same
file again skips it; unique per tenant.

Two partial indexes hold only unfinished jobs (documents being read, mail not yet
delivered): `/metrics` counts them across tenants at every scrape without reading the
tenants' whole history.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 20:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_TABLES = ("asset_categories", "locations", "custodians")

_ACTIVE_REFERENCE_CHECK = (
    """
CREATE FUNCTION refuse_inactive_reference(
    tenant uuid, reference uuid, referenced regclass, what text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    found_active boolean;
BEGIN
    IF reference IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'SELECT is_active FROM %s WHERE tenant_id = $1 AND id = $2 FOR SHARE', referenced
    ) INTO found_active USING tenant, reference;
    IF found_active IS FALSE THEN
        RAISE EXCEPTION '% % is inactive', what, reference
            USING ERRCODE = 'check_violation', CONSTRAINT = 'reference_active';
    END IF;
END
$$
""",
    """
CREATE FUNCTION assets_reference_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.category_id IS DISTINCT FROM OLD.category_id THEN
        PERFORM refuse_inactive_reference(
            NEW.tenant_id, NEW.category_id, 'asset_categories', 'asset category');
    END IF;
    IF TG_OP = 'INSERT' OR NEW.location_id IS DISTINCT FROM OLD.location_id THEN
        PERFORM refuse_inactive_reference(NEW.tenant_id, NEW.location_id, 'locations', 'location');
    END IF;
    IF TG_OP = 'INSERT' OR NEW.custodian_id IS DISTINCT FROM OLD.custodian_id THEN
        PERFORM refuse_inactive_reference(
            NEW.tenant_id, NEW.custodian_id, 'custodians', 'custodian');
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER assets_reference_active
    BEFORE INSERT OR UPDATE OF category_id, location_id, custodian_id ON assets
    FOR EACH ROW EXECUTE FUNCTION assets_reference_active()
""",
    """
CREATE FUNCTION locations_parent_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
        PERFORM refuse_inactive_reference(
            NEW.tenant_id, NEW.parent_id, 'locations', 'parent location');
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE TRIGGER locations_parent_active
    BEFORE INSERT OR UPDATE OF parent_id ON locations
    FOR EACH ROW EXECUTE FUNCTION locations_parent_active()
""",
)


def upgrade() -> None:
    for table in REFERENCE_TABLES:
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        op.add_column(
            table,
            sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        )
    op.add_column("assets", sa.Column("content_key", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        op.f("assets_tenant_id_content_key_key"), "assets", ["tenant_id", "content_key"]
    )
    for statement in _ACTIVE_REFERENCE_CHECK:
        op.execute(statement)
    op.create_index(
        op.f("invoice_documents_tenant_id_processing_status_created_at_idx"),
        "invoice_documents",
        ["tenant_id", "processing_status", "created_at"],
        postgresql_where=sa.text("processing_status IN ('queued', 'processing', 'failed')"),
    )
    op.create_index(
        op.f("mail_outbox_tenant_id_status_created_at_idx"),
        "mail_outbox",
        ["tenant_id", "status", "created_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending', 'failed')"),
    )


def downgrade() -> None:
    op.drop_index(op.f("mail_outbox_tenant_id_status_created_at_idx"), "mail_outbox")
    op.drop_index(
        op.f("invoice_documents_tenant_id_processing_status_created_at_idx"), "invoice_documents"
    )
    op.execute("DROP TRIGGER locations_parent_active ON locations")
    op.execute("DROP FUNCTION locations_parent_active()")
    op.execute("DROP TRIGGER assets_reference_active ON assets")
    op.execute("DROP FUNCTION assets_reference_active()")
    op.execute("DROP FUNCTION refuse_inactive_reference(uuid, uuid, regclass, text)")
    op.drop_constraint(op.f("assets_tenant_id_content_key_key"), "assets", type_="unique")
    op.drop_column("assets", "content_key")
    for table in reversed(REFERENCE_TABLES):
        op.drop_column(table, "is_active")
        op.drop_column(table, "version")
