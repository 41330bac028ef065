"""`ledgerline serve` as a real process: embedded database, signals, restarts, refusals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledgerline.config import Settings

START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_environment(**values: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "LEDGERLINE_"))
    }
    env.update({"ENVIRONMENT": "test", "LOG_LEVEL": "INFO", "HOST": "127.0.0.1"}, **values)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )


class Service:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ledgerline", "serve", "--port", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"serve did not become healthy:\n{self.log.read_text()}")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=START_TIMEOUT_SECONDS)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"
    pid_file = tmp_path / "data" / "postgres" / "postmaster.pid"
    if pid_file.exists():  # leave no server behind if the test failed midway
        subprocess.run(["pkill", "-f", str(tmp_path / "data")], check=False)


def postgres_running(data_dir: Path) -> bool:
    return (data_dir / "postgres" / "postmaster.pid").exists()


def test_serve_runs_on_the_embedded_database_and_stops_it_on_sigterm(
    data_dir: Path, tmp_path: Path
) -> None:
    env = service_environment(DATA_DIR=str(data_dir))
    service = Service(env, tmp_path / "first.log")
    service.wait_until_healthy()
    ready = httpx.get(f"{service.base_url}/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    assert postgres_running(data_dir)
    assert service.terminate() == 0
    assert not postgres_running(data_dir), service.log.read_text()

    created = run_cli(env, "create-tenant", "--name", "Kept Ltd", "--slug", "kept")
    assert created.returncode == 0, created.stderr
    assert not postgres_running(data_dir)

    again = Service(env, tmp_path / "second.log")
    again.wait_until_healthy()
    assert again.terminate() == 0
    taken = run_cli(env, "create-tenant", "--name", "Kept Ltd", "--slug", "kept")
    assert taken.returncode == 1
    assert "the slug 'kept' is taken" in taken.stderr


def test_serve_refuses_an_unsafe_runtime_role(settings: Settings, tmp_path: Path) -> None:
    assert settings.database_url is not None
    env = service_environment(
        DATA_DIR=str(tmp_path),
        DATABASE_URL=settings.database_url,
        DATABASE_RUNTIME_USER="ledgerline_owner",
    )
    result = run_cli(env, "serve", "--port", str(free_port()))
    assert result.returncode == 1
    assert "refusing to start: the runtime database role 'ledgerline_owner' owns" in result.stderr


def test_create_admin_never_takes_a_default_password(settings: Settings, tmp_path: Path) -> None:
    assert settings.database_url is not None
    env = service_environment(DATA_DIR=str(tmp_path), DATABASE_URL=settings.database_url)
    no_password = subprocess.run(
        [sys.executable, "-m", "ledgerline", "create-admin", "--email", "ops@example.test"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )
    assert no_password.returncode == 1
    assert "LEDGERLINE_ADMIN_PASSWORD" in no_password.stderr
    short = run_cli(
        env | {"LEDGERLINE_ADMIN_PASSWORD": "short"}, "create-admin", "--email", "o@example.test"
    )
    assert short.returncode == 1
    assert "at least 12 characters" in short.stderr


def test_a_database_that_is_down_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = service_environment(
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"postgresql://ledgerline_owner@127.0.0.1:{free_port()}/ledgerline",
    )
    result = run_cli(env, "db", "current")
    assert result.returncode == 1
    assert result.stderr.startswith("ledgerline: database error:")
    assert "Traceback" not in result.stderr
