"""The README's walk-throughs, run as written against a real server, so they cannot rot.

Every block fenced as ```sh is part of the walk-throughs: they run in order, in one bash
process (variables carry over), with `set -euo pipefail`, in a folder that holds the
`examples/` of the repository, against `ledgerline serve` as a real process. The one
change made to them is the server's address; the server writes its mail as files
(MAIL_BACKEND=file, as `make run` does), and the walk-throughs find them through
MAIL_FILE_DIR. Blocks fenced otherwise (`console`, `sql`,
none) only show commands and are not run. A walk-through added later runs too.

Curl answers 0 whatever the status, so the server's own access log is the judge: every
request the walk-throughs made must have been answered below 400.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from ledgerline.assets.register import CSV_COLUMNS
from ledgerline.db.embedded import owner_url_for
from ledgerline.invoices.documents import content_type_of
from ledgerline.invoices.extraction import read_document
from ledgerline.invoices.textpdf import text_pdf
from tests.helpers.database import recreate_database
from tests.helpers.service_process import ServiceProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LOCAL_SERVER = "http://127.0.0.1:8000"
RUNNABLE = "sh"


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    info: str
    code: str


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced code block (``` fences) with its info string."""
    blocks = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            info = line[3:].strip()
            end = index + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            if end == len(lines):
                raise ValueError(f"README line {index + 1}: the block is never closed")
            blocks.append(Block(index + 1, info, "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    return blocks


def walk_through_script(markdown: str, base_url: str) -> str:
    parts = ["set -euo pipefail"]
    for block in fenced_blocks(markdown):
        if block.info == RUNNABLE:
            parts.append(f"echo '--- README.md line {block.line}' >&2")
            parts.append(block.code.replace(LOCAL_SERVER, base_url))
    return "\n".join(parts) + "\n"


def test_only_blocks_fenced_as_sh_are_run() -> None:
    markdown = "\n".join(
        [
            "```sh",
            "echo one",
            "```",
            "```console",
            "make run",
            "```",
            "```",
            "tree",
            "```",
            "```sql",
            "SELECT 1;",
            "```",
            "```sh",
            f"curl -s {LOCAL_SERVER}/health",
            "```",
        ]
    )
    script = walk_through_script(markdown, "http://127.0.0.1:4321")
    assert "echo one" in script
    assert "curl -s http://127.0.0.1:4321/health" in script
    for shown_only in ("make run", "tree", "SELECT 1;"):
        assert shown_only not in script
    assert [block.line for block in fenced_blocks(markdown) if block.info == "sh"] == [1, 13]


def test_an_unclosed_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 2"):
        fenced_blocks("text\n```sh\necho\n")


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme-mail")


@pytest.fixture(scope="module")
def server(
    admin_url: URL,
    template_database: str,
    worker_id: str,
    tmp_path_factory: pytest.TempPathFactory,
    mail_dir: Path,
) -> Iterator[ServiceProcess]:
    """`ledgerline serve` on a database cloned from the suite's migrated template."""
    import asyncio

    name = f"ledgerline_readme_{worker_id}"
    asyncio.run(recreate_database(admin_url, name, template=template_database))
    log = tmp_path_factory.mktemp("readme") / "serve.log"
    service = ServiceProcess(
        log,
        workers=1,
        DATABASE_URL=owner_url_for(admin_url, name).render_as_string(hide_password=False),
        DOCUMENT_POLL_SECONDS="0.2",
        MAIL_BACKEND="file",
        MAIL_FILE_DIR=str(mail_dir),
        MAIL_POLL_SECONDS="0.2",
    )
    try:
        yield service
    finally:
        service.stop()


def access_log(service: ServiceProcess) -> list[dict[str, object]]:
    entries = []
    for line in service.log_lines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "ledgerline.access" and entry.get("message") == "request":
                entries.append(entry)
    return entries


def require_curl() -> None:
    """The walk-throughs read ETags with `-w '%header{etag}'` (curl >= 7.84). Without
    such a curl the test skips, except in CI (`.ci/run` installs it), where it fails."""
    curl = shutil.which("curl")
    version = None
    if curl is not None:
        first_line = subprocess.run(
            [curl, "--version"], capture_output=True, text=True, check=False
        ).stdout.split("\n", 1)[0]
        match = re.match(r"curl (\d+)\.(\d+)", first_line)
        version = (int(match.group(1)), int(match.group(2))) if match else None
    if version is None or version < (7, 84):
        reason = f"the README's walk-throughs need curl >= 7.84 (found {version})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def test_the_walk_throughs_run_as_written(
    server: ServiceProcess, tmp_path: Path, mail_dir: Path
) -> None:
    require_curl()
    script = walk_through_script(README.read_text(), server.base_url)
    assert script.count("--- README.md line") >= 5, "the walk-throughs are gone"
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")}
    env["MAIL_FILE_DIR"] = str(mail_dir)
    before = len(access_log(server))
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    requests = access_log(server)[before:]
    failed = [entry for entry in requests if int(str(entry["status"])) >= 400]
    report = (
        f"exit status {result.returncode}\nstderr:\n{result.stderr[-3000:]}\n"
        f"stdout (end):\n{result.stdout[-3000:]}\nrequests answered 400 or more: {failed}"
    )
    assert result.returncode == 0, report
    assert not failed, report
    assert len(requests) > 50, report
    # What the walk-throughs promise they leave behind.
    assert (tmp_path / "invoice.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "invoices.csv").read_text().count("\n") >= 2
    register = (tmp_path / "register.csv").read_text().splitlines()
    assert register[0].split(",") == list(CSV_COLUMNS)
    assert len(register) >= 2
    paid = [
        entry
        for entry in requests
        if str(entry["path"]).endswith("/pay") and entry["status"] == 200
    ]
    # Two in the invoice walk-through, two in the ledger's, one in the purchase orders'.
    assert len(paid) == 5, report
    settled = [
        entry
        for entry in requests
        if str(entry["path"]).endswith(("/offers/accept", "/settle"))
        and entry["status"] in (200, 201)
    ]
    assert len(settled) == 2, report  # the vendor's acceptance from the mail, the settlement


def test_the_container_health_check_asks_the_configured_port(server: ServiceProcess) -> None:
    """docker/healthcheck.py, the image's HEALTHCHECK, against a real server."""

    def health(port: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "docker" / "healthcheck.py")],
            env={"PATH": os.environ["PATH"], "HOST": "0.0.0.0", "PORT": str(port)},  # noqa: S104
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert health(server.port).returncode == 0
    refused = health(free_port())
    assert refused.returncode == 1
    assert "/health" in refused.stderr


def test_the_sample_files_are_what_their_script_writes() -> None:
    """examples/ holds what examples/make_examples.py writes: a PDF whose text the
    document reader reads in full, a JPEG, and the asset CSV."""
    spec = importlib.util.spec_from_file_location(
        "make_examples", ROOT / "examples" / "make_examples.py"
    )
    assert spec is not None
    assert spec.loader is not None
    make_examples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_examples)
    examples = ROOT / "examples"
    pdf = (examples / "march-invoice.pdf").read_bytes()
    assert pdf == text_pdf(make_examples.MARCH_INVOICE)
    read = read_document(pdf, "application/pdf")
    assert read.complete
    assert read.fields["total"] == "1190.00"
    assert read.fields["vendor_tax_id"] == "DE123456789"
    assert content_type_of((examples / "receipt.jpg").read_bytes()) == "image/jpeg"
    assert (examples / "assets.csv").read_text() == make_examples.ASSETS_CSV
