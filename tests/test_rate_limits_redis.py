"""Rate limits on Redis: one count for every worker process, a Redis outage that lets
requests through (never a 500 or a hang), and `serve --workers N` refusing in-memory
counts in production.

Each test that needs Redis starts its own `redis-server` on a free 127.0.0.1 port (no
persistence, files in the test's folder) and stops it at the end. Without the binary
these tests skip, except in CI (CI=true), where that is a failure: `.ci/run` installs it.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import pytest
import redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from ledgerline.app import create_app
from ledgerline.cli import CommandError, check_workers_share_rate_limits
from ledgerline.config import Environment, Settings
from tests.helpers.http import API
from tests.helpers.identity import signup

START_TIMEOUT_SECONDS = 60
REDIS_START_TIMEOUT_SECONDS = 10
# Small on purpose: a frozen Redis costs each request this long.
STORAGE_TIMEOUT_SECONDS = 0.5
JUNK_LOGIN = {"email": "nobody@example.com", "password": "not the password"}
LOGIN_HEADERS = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("redis-server is not installed; .ci/run installs it (apt-get)")
    pytest.skip("redis-server is not installed (apt-get install redis-server)")


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 with no persistence."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"redis-server exited:\n{self.log()}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        pytest.fail(f"redis-server did not answer:\n{self.log()}")

    def log(self) -> str:
        return (self.directory / "redis.log").read_text(errors="replace")

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.terminate()
        self.process.wait(timeout=REDIS_START_TIMEOUT_SECONDS)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_server_binary(), tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def client_of_app_on(
    settings: Settings,
    redis_url: str,
    sign_in_limit: int,
    storage_timeout: float = STORAGE_TIMEOUT_SECONDS,
) -> AsyncIterator[httpx.AsyncClient]:
    """An app counting in Redis, and an HTTP client of it from one address."""
    app: FastAPI = create_app(
        settings.model_copy(
            update={
                "rate_limit_storage_url": redis_url,
                "rate_limit_storage_timeout_seconds": storage_timeout,
                "rate_limit_auth": f"{sign_in_limit}/minute",
            }
        )
    )
    transport = httpx.ASGITransport(app=app, client=("192.0.2.80", 5000))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def login_statuses(client: httpx.AsyncClient, count: int) -> list[int]:
    return [
        (await client.post(f"{API}/auth/login", json=JUNK_LOGIN)).status_code for _ in range(count)
    ]


def storage_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ledgerline.ratelimit"]


async def test_redis_counts_and_an_outage_lets_requests_through_with_one_warning(
    settings: Settings, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ledgerline.ratelimit")
    async with client_of_app_on(settings, redis_server.url, sign_in_limit=3) as client:
        counted = await client.post(f"{API}/auth/login", json=JUNK_LOGIN)
        assert counted.status_code == 401
        assert counted.headers["ratelimit-remaining"] == "2"
        assert await login_statuses(client, 3) == [401, 401, 429]

        redis_server.stop()
        assert await login_statuses(client, 10) == [401] * 10
        lines = storage_log_lines(caplog)
        assert len(lines) == 1, lines
        assert lines[0].startswith("rate-limit storage unavailable")

        redis_server.start()  # the same port, no counts: counting resumes, no restart
        assert await login_statuses(client, 4) == [401, 401, 401, 429]
        assert storage_log_lines(caplog)[1:] == ["rate-limit storage is back, counting again"]


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def test_a_frozen_redis_holds_a_request_once_for_its_timeout(
    settings: Settings, redis_server: RedisServer, empty_tables: None
) -> None:
    # Long enough that one wait (t) and two waits (2t) stay apart on a busy machine.
    timeout = 2.0
    async with client_of_app_on(
        settings, redis_server.url, sign_in_limit=5, storage_timeout=timeout
    ) as client:
        owner = await signup(client, "frozen")
        redis_server.freeze()
        try:
            login, login_seconds = await timed(client.post(f"{API}/auth/login", json=JUNK_LOGIN))
            # Counting the caller takes more than one Redis command: still one wait.
            me, me_seconds = await timed(client.get(f"{API}/users/me", headers=owner.headers))
        finally:
            redis_server.thaw()
    assert login.status_code == 401
    assert 0.9 * timeout <= login_seconds < 1.75 * timeout, login_seconds
    assert me.status_code == 200
    assert "ratelimit-limit" not in me.headers
    assert 0.9 * timeout <= me_seconds < 1.75 * timeout, me_seconds


def service_environment(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "LEDGERLINE_", "RATE_LIMIT_"))
    }
    env.update(
        {
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "INFO",
            "HOST": "127.0.0.1",
            "DATA_DIR": str(tmp_path / "data"),
        },
        **values,
    )
    return env


def log_entries(output: str) -> list[dict[str, str]]:
    """The JSON log lines of a `ledgerline` process's output."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


class TwoWorkerService:
    """`ledgerline serve --workers 2` as a real process."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.log = cwd / "serve.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ledgerline",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    "2",
                ],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_until_both_workers_serve(self) -> None:
        """Until each worker has said its startup is complete (the first one answers
        /health while the other may still be starting)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited early:\n{self.log.read_text()}")
            if self.log.read_text().count('"message": "Application startup complete."') == 2:
                return
            time.sleep(0.1)
        pytest.fail(f"serve's workers did not both start:\n{self.log.read_text()}")

    def worker_serving(self, client_port: int) -> int:
        """The worker process holding the server end of the connection from `client_port`."""
        for worker in psutil.Process(self.process.pid).children(recursive=True):
            for connection in worker.net_connections(kind="tcp"):
                if (
                    connection.laddr.port == self.port
                    and connection.raddr
                    and connection.raddr.port == client_port
                ):
                    return worker.pid
        raise AssertionError(f"no worker holds the connection from port {client_port}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        workers = psutil.Process(self.process.pid).children(recursive=True)
        self.process.terminate()
        try:
            self.process.wait(timeout=START_TIMEOUT_SECONDS)
        finally:
            for worker in workers:  # left behind only if the test failed midway
                if worker.is_running():
                    worker.kill()


class PinnedConnection:
    """One keep-alive HTTP connection, so every request on it reaches the same worker."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.http.connect()
        assert self.http.sock is not None
        self.local_port: int = self.http.sock.getsockname()[1]

    def status_of(self, method: str, path: str, body: str | None = None) -> int:
        self.http.request(method, path, body=body, headers=LOGIN_HEADERS)
        response = self.http.getresponse()
        response.read()
        # http.client would quietly reconnect (maybe to the other worker) after a close.
        assert self.http.sock is not None
        assert self.http.sock.getsockname()[1] == self.local_port
        return response.status

    def close(self) -> None:
        self.http.close()


def one_connection_per_worker(service: TwoWorkerService) -> dict[int, PinnedConnection]:
    """Opens connections until each of the two workers has accepted one (bounded)."""
    pinned: dict[int, PinnedConnection] = {}
    for _ in range(50):
        connection = PinnedConnection(service.port)
        assert connection.status_of("GET", "/health") == 200  # accepted by a worker now
        worker = service.worker_serving(connection.local_port)
        if worker in pinned:
            connection.close()
        else:
            pinned[worker] = connection
        if len(pinned) == 2:
            return pinned
    raise AssertionError("every connection went to one worker")


def test_two_worker_processes_share_one_count_on_redis(
    settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    limit, requests = 20, 60
    assert settings.database_url is not None
    env = service_environment(
        tmp_path,
        DATABASE_URL=settings.database_url,
        RATE_LIMIT_STORAGE_URL=redis_server.url,
        RATE_LIMIT_AUTH=f"{limit}/minute",
        # Counting is what is measured here: a busy machine must not make it fail open.
        RATE_LIMIT_STORAGE_TIMEOUT_SECONDS="5",
        PASSWORD_ARGON2_MEMORY_KIB="8",
        PASSWORD_ARGON2_TIME_COST="1",
    )
    service = TwoWorkerService(env, tmp_path)
    try:
        service.wait_until_both_workers_serve()
        pinned = one_connection_per_worker(service)
        workers = list(pinned)
        outcomes: Counter[tuple[int, int]] = Counter()
        for n in range(requests):  # alternately on each worker
            worker = workers[n % 2]
            status = pinned[worker].status_of("POST", f"{API}/auth/login", json.dumps(JUNK_LOGIN))
            outcomes[worker, status] += 1
        for connection in pinned.values():
            connection.close()
    finally:
        service.stop()
    # Each worker saw 30 requests, more than the limit: counting apart, each would let
    # 20 through (40 in all). One shared count lets 20 through.
    assert sum(outcomes[worker, 401] for worker in workers) == limit, outcomes
    assert sum(outcomes[worker, 429] for worker in workers) == requests - limit, outcomes
    assert all(outcomes[worker, 401] + outcomes[worker, 429] == 30 for worker in workers)
    assert [e for e in log_entries(service.log.read_text()) if e["level"] == "warning"] == []


@pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "redis", "127.0.0.1:6379"])
def test_an_unknown_rate_limit_storage_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="RATE_LIMIT_STORAGE_URL must be"):
        Settings(_env_file=None, rate_limit_storage_url=url)  # type: ignore[call-arg]


def run_serve(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerline", "serve", "--port", str(free_port()), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )


def test_serve_refuses_several_workers_with_in_memory_counts_in_production(
    tmp_path: Path,
) -> None:
    env = service_environment(
        tmp_path, ENVIRONMENT="production", SECRET_KEY="k" * 48, MAIL_BACKEND="smtp"
    )
    result = run_serve(env, tmp_path, "--workers", "2")
    assert result.returncode == 1
    assert result.stderr.startswith("ledgerline: refusing to start: --workers 2 with in-memory")
    assert "RATE_LIMIT_STORAGE_URL=redis://" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "data").exists()  # refused before any database was started


def test_several_workers_with_in_memory_counts_are_a_warning_elsewhere(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    check_workers_share_rate_limits(settings.model_copy(update={"rate_limit_storage_url": ""}), 2)
    records = [r for r in caplog.records if r.name == "ledgerline.cli"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (
            logging.WARNING,
            "--workers 2 with in-memory rate limits: each worker counts on its own, so every "
            "limit is multiplied by 2; set RATE_LIMIT_STORAGE_URL=redis://host:port/db to "
            "share one count",
        )
    ]


def test_one_worker_or_a_shared_redis_starts_in_production(settings: Settings) -> None:
    production = settings.model_copy(
        update={"environment": Environment.PRODUCTION, "rate_limit_storage_url": ""}
    )
    check_workers_share_rate_limits(production, 1)
    check_workers_share_rate_limits(
        production.model_copy(update={"rate_limit_storage_url": "redis://127.0.0.1/0"}), 4
    )
    with pytest.raises(CommandError, match="refusing to start"):
        check_workers_share_rate_limits(production, 4)
