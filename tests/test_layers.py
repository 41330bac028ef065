"""The package's layers, read from the source with `ast` (nothing is imported).

Plumbing (`db/`, `security/` and the shared modules) imports no feature and nothing
above it. A feature never imports another feature's router. The request hook
(`access.py`) reads feature models; every other arrow that runs upward (from the hook
into a feature, from a feature into the hook or the top) is listed below with the
reason it stays, so a new one fails here. `app.py`, `cli.py` and `models.py` are the
top: they put the features together and may import any of them.
"""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "ledgerline"
PLUMBING_PACKAGES = frozenset({"db", "security"})
SHARED_MODULES = frozenset(
    {
        "problems",
        "errors",
        "values",
        "config",
        "pagination",
        "etags",
        "responses",
        "log",
        "client_ip",
        "csvfiles",
        "middleware",
        "ratelimit",
        "idempotency",
        "deps",
        "metrics",
        "tracing",
    }
)
REQUEST_HOOK = "access"
TOP_MODULES = frozenset({"app", "cli", "demo", "models", "openapi", "worker", "__main__"})


@dataclass(frozen=True, order=True)
class Arrow:
    """`source` imports `target` (dotted module names)."""

    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


# Arrows that run upward on purpose, each with the reason it stays.
ALLOWED_UPWARD = frozenset(
    {
        # The hook hands every service the AuditContext (tenant, actor, request meta)
        # it records with, and audits an ADMIN's requests inside a tenant: it builds
        # them from the one audit writer's types.
        Arrow("ledgerline.access", "ledgerline.audit.service"),
    }
)


@dataclass(frozen=True)
class Layering:
    plumbing_upward: tuple[Arrow, ...]  # plumbing importing a feature, the hook or the top
    router_crossings: tuple[Arrow, ...]  # a feature importing another feature's router
    upward: tuple[Arrow, ...]  # the hook into a feature beyond its models; a feature upward
    unplaced: tuple[str, ...]  # top-level modules that belong to no layer


def module_files(package_dir: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    files = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    return files


def feature_names(package_dir: Path) -> frozenset[str]:
    """Folders of the package with an `__init__.py`, other than the plumbing ones."""
    return frozenset(
        path.parent.name
        for path in package_dir.glob("*/__init__.py")
        if path.parent.name not in PLUMBING_PACKAGES
    )


def imported_modules(name: str, path: Path, known: Container[str]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file (also inside
    functions): `from x import y` names module `x.y` when there is one, else `x`."""
    package = name.split(".")[0]
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here[: len(here) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in known else base)
    return {target for target in found if target.split(".")[0] == package}


def _is_router(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last == "router" or last.endswith("_router")


def layering(package_dir: Path) -> Layering:
    files = module_files(package_dir)
    features = feature_names(package_dir)

    def layer(module: str) -> str:
        parts = module.split(".")
        if len(parts) == 1:
            return "plumbing"  # the package itself holds only its version
        top = parts[1]
        if top in PLUMBING_PACKAGES or (len(parts) == 2 and top in SHARED_MODULES):
            return "plumbing"
        if top in features:
            return "feature"
        if len(parts) == 2 and top == REQUEST_HOOK:
            return "hook"
        if len(parts) == 2 and top in TOP_MODULES:
            return "top"
        return "unplaced"

    plumbing_upward, crossings, upward = set(), set(), set()
    unplaced = sorted(name for name in files if layer(name) == "unplaced")
    for source, path in files.items():
        for target in imported_modules(source, path, files):
            arrow = Arrow(source, target)
            source_layer, target_layer = layer(source), layer(target)
            same_feature = source.split(".")[1:2] == target.split(".")[1:2]
            if source_layer == "plumbing" and target_layer in {"feature", "hook", "top"}:
                plumbing_upward.add(arrow)
            elif source_layer == "feature" and target_layer == "feature":
                if _is_router(target) and not same_feature:
                    crossings.add(arrow)
            elif source_layer == "hook" and target_layer in {"feature", "top"}:
                if target.split(".")[2:] != ["models"]:
                    upward.add(arrow)
            elif source_layer == "feature" and (
                target_layer == "top" or (target_layer == "hook" and not _is_router(source))
            ):
                upward.add(arrow)
    return Layering(
        tuple(sorted(plumbing_upward)),
        tuple(sorted(crossings)),
        tuple(sorted(upward)),
        tuple(unplaced),
    )


def unlisted(upward: Iterable[Arrow], listed: frozenset[Arrow]) -> list[str]:
    """What differs from the list: new arrows, and listed ones that are gone."""
    found = set(upward)
    return [f"new upward arrow: {arrow}" for arrow in sorted(found - listed)] + [
        f"gone, remove it from the list: {arrow}" for arrow in sorted(listed - found)
    ]


# --- the package ------------------------------------------------------------------------


def test_the_checker_sees_every_feature() -> None:
    assert feature_names(PACKAGE_DIR) >= {
        "api_keys",
        "assets",
        "audit",
        "auth",
        "health",
        "invoices",
        "mail",
        "tenants",
        "users",
        "vendors",
    }


def test_plumbing_imports_no_feature_and_no_feature_imports_another_ones_router() -> None:
    found = layering(PACKAGE_DIR)
    wrong = (
        [f"plumbing imports upward: {arrow}" for arrow in found.plumbing_upward]
        + [f"imports another feature's router: {arrow}" for arrow in found.router_crossings]
        + [f"in no layer (name it in this file): {module}" for module in found.unplaced]
    )
    assert wrong == []


def test_the_arrows_that_run_upward_are_the_listed_ones() -> None:
    found = layering(PACKAGE_DIR)
    print("upward arrows:", *found.upward, sep="\n  ")  # noqa: T201 - shown with -s
    assert unlisted(found.upward, ALLOWED_UPWARD) == []


# --- the checker, on a package made up for it -----------------------------------------


def write_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "ledgerline"
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package_dir


MADE_UP = {
    "__init__.py": "__version__ = '1'\n",
    "db/__init__.py": "",
    "db/engine.py": "def late():\n    from ledgerline.shop import service\n",
    "security/__init__.py": "",
    "security/tokens.py": "from ledgerline.db import engine\n",
    "problems.py": "from ledgerline import app\n",
    "pagination.py": "from ledgerline.problems import Problem\n",
    "access.py": (
        "from ledgerline.shop.models import Item\n"
        "from ledgerline.shop import service\n"
        "from ledgerline.pagination import Page\n"
    ),
    "app.py": "from ledgerline.shop.router import router\nfrom ledgerline.billing import router\n",
    "models.py": "from ledgerline.shop.models import Item\n",
    "shop/__init__.py": "",
    "shop/models.py": "from ledgerline.db import engine\n",
    "shop/service.py": "from ledgerline.access import Principal\nfrom . import models\n",
    "shop/router.py": (
        "from ledgerline.access import Principal\n"
        "from ledgerline.shop import service\n"
        "from ledgerline.billing.router import router\n"
        "from ..billing import docs_router\n"
    ),
    "billing/__init__.py": "",
    "billing/router.py": "from ledgerline.shop.models import Item\n",
    "billing/docs_router.py": "from .router import router\n",
    "billing/service.py": "import ledgerline.models\n",
    "static/readme.py": "",
    "stray.py": "",
}


def test_the_checker_finds_every_kind_of_wrong_arrow(tmp_path: Path) -> None:
    found = layering(write_package(tmp_path, MADE_UP))
    assert [str(arrow) for arrow in found.plumbing_upward] == [
        "ledgerline.db.engine -> ledgerline.shop.service",
        "ledgerline.problems -> ledgerline.app",
    ]
    assert [str(arrow) for arrow in found.router_crossings] == [
        "ledgerline.shop.router -> ledgerline.billing.docs_router",
        "ledgerline.shop.router -> ledgerline.billing.router",
    ]
    assert [str(arrow) for arrow in found.upward] == [
        "ledgerline.access -> ledgerline.shop.service",
        "ledgerline.billing.service -> ledgerline.models",
        "ledgerline.shop.service -> ledgerline.access",
    ]
    assert found.unplaced == ("ledgerline.static.readme", "ledgerline.stray")


def test_the_checker_passes_a_package_that_keeps_its_layers(tmp_path: Path) -> None:
    kept = {
        name: text
        for name, text in MADE_UP.items()
        if name
        not in {
            "db/engine.py",
            "problems.py",
            "shop/router.py",
            "billing/service.py",
            "static/readme.py",
            "stray.py",
        }
    }
    kept["access.py"] = "from ledgerline.shop.models import Item\n"
    kept["shop/service.py"] = "from . import models\n"
    assert layering(write_package(tmp_path, kept)) == Layering((), (), (), ())


def test_a_new_upward_arrow_or_a_gone_listed_one_fails() -> None:
    listed = frozenset({Arrow("ledgerline.access", "ledgerline.audit.service")})
    assert unlisted(listed, listed) == []
    new = Arrow("ledgerline.access", "ledgerline.users.service")
    assert unlisted([*listed, new], listed) == [
        "new upward arrow: ledgerline.access -> ledgerline.users.service"
    ]
    assert unlisted([], listed) == [
        "gone, remove it from the list: ledgerline.access -> ledgerline.audit.service"
    ]
