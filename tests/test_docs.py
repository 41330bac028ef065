"""The documentation the repository cites is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
CITED_PAGE = re.compile(r"\b((?:[\w.-]+/)*[\w.-]+\.md)\b")


def cited_pages(text: str) -> set[str]:
    return set(CITED_PAGE.findall(text))


def missing(base: Path, pages: set[str]) -> list[str]:
    return sorted(
        page for page in pages if not (base / page).exists() and not (ROOT / page).exists()
    )


def test_the_readme_links_the_architecture_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in MARKDOWN_LINK.findall(readme)
    assert (ROOT / "docs" / "architecture.md").is_file()


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in MARKDOWN_LINK.findall(page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_code_cites_only_pages_in_the_repository() -> None:
    broken = []
    sources = sorted([*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/**/*.py")])
    for source in (path for path in sources if path != Path(__file__).resolve()):
        for page in missing(source.parent, cited_pages(source.read_text(encoding="utf-8"))):
            broken.append(f"{source.relative_to(ROOT)} cites {page}")
    assert broken == []


def test_the_check_finds_a_page_that_is_not_there(tmp_path: Path) -> None:
    assert missing(tmp_path, cited_pages("see DESIGN.md, invariant 4")) == ["DESIGN.md"]
    assert missing(tmp_path, cited_pages("see docs/architecture.md")) == []
