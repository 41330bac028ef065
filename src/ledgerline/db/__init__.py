"""Database plumbing: embedded server, roles, engines, tenant context, migrations."""
