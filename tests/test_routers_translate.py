"""Routers only translate HTTP: read from the source with `ast`, no router module
imports SQLAlchemy or cuts a page itself (`keyset_page`); queries live in services.

The readiness probe is the one router allowed to ask the database itself (listed below).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "ledgerline"

# Routers that may query on their own, each with the reason.
QUERYING_ROUTERS = frozenset(
    {
        # GET /ready probes the database itself: no tenant, no caller, no service.
        "health/router.py",
    }
)


def router_files(package_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in package_dir.rglob("*.py")
        if path.stem == "router" or path.stem.endswith("_router")
    )


def queries_of(source: str) -> list[str]:
    """What in `source` reads or writes the database without a service: imports of
    SQLAlchemy, and `keyset_page` from the paginator."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "sqlalchemy":
                found.append(node.module)
            elif node.module == "ledgerline.pagination":
                found += [f"{node.module}.{a.name}" for a in node.names if a.name == "keyset_page"]
    return found


def test_the_checker_sees_the_routers() -> None:
    names = {path.relative_to(PACKAGE_DIR).as_posix() for path in router_files(PACKAGE_DIR)}
    assert names >= {
        "assets/router.py",
        "users/router.py",
        "api_keys/router.py",
        "audit/router.py",
        "invoices/router.py",
        "invoices/documents_router.py",
        "vendors/router.py",
        "tenants/router.py",
    }
    assert names >= QUERYING_ROUTERS


def test_no_router_queries_the_database_itself() -> None:
    wrong = {
        path.relative_to(PACKAGE_DIR).as_posix(): queries_of(path.read_text(encoding="utf-8"))
        for path in router_files(PACKAGE_DIR)
        if path.relative_to(PACKAGE_DIR).as_posix() not in QUERYING_ROUTERS
    }
    assert {name: found for name, found in wrong.items() if found} == {}


def test_the_checker_finds_queries_in_a_router() -> None:
    source = (
        "from sqlalchemy import select\n"
        "import sqlalchemy.orm\n"
        "from ledgerline.pagination import Page, keyset_page\n"
        "from ledgerline.assets import service\n"
    )
    assert queries_of(source) == [
        "sqlalchemy",
        "sqlalchemy.orm",
        "ledgerline.pagination.keyset_page",
    ]
    assert queries_of("from ledgerline.pagination import Page, page_request\n") == []
