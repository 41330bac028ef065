"""Fault tests against a real `ledgerline serve --workers 2` on its own PostgreSQL.

PostgreSQL killed under a write load, PostgreSQL frozen, an outage in the middle of a
streamed export, SIGTERM under load with a stalled client, a stalled request body and an
idle keep-alive connection. Settings are small (1 s connect and pool timeouts, 2 s
statements) so each test takes seconds; every wait is bounded and every test stops by
itself. Each test logs its figures at INFO (`-o log_cli=true --log-cli-level=INFO`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.helpers.http import API
from tests.helpers.identity import Account, signup
from tests.helpers.service_process import ServiceProcess

CONNECT_TIMEOUT = 1.0
POOL_TIMEOUT = 1.0
STATEMENT_TIMEOUT = 2.0
# The longest a request may wait on a dead or frozen database: a free connection, then
# a new connection or the BEGIN on a pooled one; or, already running when the server
# froze, its statement until the client's backstop (statement timeout + 1 s).
DATABASE_WAIT_BOUND = max(POOL_TIMEOUT + CONNECT_TIMEOUT, STATEMENT_TIMEOUT + 1.0)
# What a bound may be overshot by: the server's and this client's event loops on a busy
# machine (two cores, shared with other work).
SLACK = 1.5
CLIENTS = 4
figures = logging.getLogger("faults")
SETTINGS = {
    "DATABASE_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
    "DATABASE_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT),
    "DATABASE_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT),
    "DATABASE_LONG_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT),
    "DATABASE_POOL_SIZE": "4",
    "DATABASE_MAX_OVERFLOW": "2",
    "REQUEST_BODY_TIMEOUT_SECONDS": "1",
    "KEEP_ALIVE_TIMEOUT_SECONDS": "1",
    "SHUTDOWN_GRACE_SECONDS": "2",
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(tmp_path_factory.mktemp("faults") / "serve.log", **SETTINGS)
    try:
        # Crash recovery skips its fsync of the whole data folder: restarts take a
        # fraction of a second instead of several. (Not what is under test here.)
        asyncio.run(running.postgres.execute("ALTER SYSTEM SET fsync = off"))
        asyncio.run(running.postgres.execute("SELECT pg_reload_conf()"))
        yield running
    finally:
        running.stop()


@pytest.fixture
async def http(service: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    # Idle connections are dropped before the server's 1 s keep-alive ends them, so a
    # request never races the server closing the connection it was sent on.
    limits = httpx.Limits(max_connections=CLIENTS + 4, keepalive_expiry=0.5)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=15, limits=limits) as client:
        yield client


@dataclass
class Attempt:
    key: str
    name: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    code: str | None = None
    retry_after: str | None = None
    vendor_id: str | None = None
    replayed: bool = False
    error: str | None = None  # when there was no HTTP answer

    @property
    def seconds(self) -> float:
        return self.ended - self.started


async def create_vendor(http: httpx.AsyncClient, owner: Account, key: str, name: str) -> Attempt:
    started = time.monotonic()
    try:
        response = await http.post(
            f"{API}/vendors",
            json={"name": name, "default_currency": "EUR"},
            headers=owner.headers | {"Idempotency-Key": key},
        )
    except httpx.TransportError as error:
        return Attempt(key, name, started, time.monotonic(), 0, error=repr(error))
    body = response.json()
    return Attempt(
        key,
        name,
        started,
        time.monotonic(),
        response.status_code,
        body.get("code"),
        response.headers.get("retry-after"),
        body.get("id") if response.status_code == 201 else None,
        response.headers.get("idempotent-replayed") == "true",
    )


class WriteLoad:
    """CLIENTS concurrent clients creating vendors, each with its own Idempotency-Key."""

    def __init__(self, http: httpx.AsyncClient, owner: Account, prefix: str) -> None:
        self.http, self.owner, self.prefix = http, owner, prefix
        self.attempts: list[Attempt] = []
        self._stop = asyncio.Event()
        self._succeeded = asyncio.Event()
        self._clients = [asyncio.create_task(self._client(n)) for n in range(CLIENTS)]

    async def _client(self, n: int) -> None:
        count = 0
        while not self._stop.is_set():
            count += 1
            name = f"{self.prefix} {n}-{count}"
            attempt = await create_vendor(self.http, self.owner, str(uuid.uuid4()), name)
            self.attempts.append(attempt)
            if attempt.status == 201:
                self._succeeded.set()
            await asyncio.sleep(0.02)

    def first_success_after(self, moment: float) -> Attempt | None:
        done = [a for a in self.attempts if a.started >= moment and a.status == 201]
        return min(done, key=lambda a: a.ended, default=None)

    async def wait_for_success_after(self, moment: float, limit: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit + SLACK):
                while self.first_success_after(moment) is None:
                    self._succeeded.clear()
                    await self._succeeded.wait()

    async def stop(self) -> list[Attempt]:
        self._stop.set()
        await asyncio.gather(*self._clients)
        return self.attempts


async def replay(http: httpx.AsyncClient, owner: Account, failed: list[Attempt]) -> list[Attempt]:
    """Each failed write again, with its own key and body, CLIENTS at a time."""
    slots = asyncio.Semaphore(CLIENTS)

    async def again(attempt: Attempt) -> Attempt:
        async with slots:
            return await create_vendor(http, owner, attempt.key, attempt.name)

    return await asyncio.gather(*(again(a) for a in failed))


def outage_lines(service: ServiceProcess, since: float = 0.0) -> list[dict[str, str]]:
    """The service's `database unavailable` lines logged since `since` (epoch seconds)."""
    entries = [json.loads(line) for line in service.log_lines() if line.startswith("{")]
    return [
        entry
        for entry in entries
        if entry["message"] == "database unavailable"
        and datetime.fromisoformat(entry["time"]).timestamp() >= since
    ]


def assert_quiet_log(service: ServiceProcess, since: float) -> list[dict[str, str]]:
    """No traceback and no 500 at all; since `since`, at most one outage line per kind
    per 10 s in each of the two workers."""
    loud = [line for line in service.log_lines() if "Traceback" in line or '"status": 500' in line]
    assert not loud, "\n".join(loud)
    lines = outage_lines(service, since)
    allowed = 2 * (1 + int((time.time() - since) // 10))
    for kind in {line["kind"] for line in lines}:
        assert sum(line["kind"] == kind for line in lines) <= allowed, lines
    return lines


async def ready_while_down(http: httpx.AsyncClient) -> tuple[int, float]:
    started = time.monotonic()
    response = await http.get("/ready")
    return response.status_code, time.monotonic() - started


async def stored_vendors(service: ServiceProcess, prefix: str) -> dict[str, list[str]]:
    """Vendor ids by name, for the names starting with `prefix`, read as the superuser."""
    stored: dict[str, list[str]] = {}
    for vendor_id, name in await service.postgres.rows(
        "SELECT id::text, name FROM vendors WHERE name LIKE $1", f"{prefix} %"
    ):
        stored.setdefault(name, []).append(vendor_id)
    return stored


async def test_postgres_killed_under_a_write_load(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "killed")
    began = time.time()
    load = WriteLoad(http, owner, "Killed")
    await asyncio.sleep(1.0)
    await asyncio.to_thread(service.postgres.kill)
    killed = time.monotonic()
    await asyncio.sleep(0.5)
    ready_status, ready_seconds = await ready_while_down(http)
    await asyncio.sleep(1.5)
    restarting = time.monotonic()
    await asyncio.to_thread(service.postgres.restart)
    back = time.monotonic()
    await load.wait_for_success_after(back, limit=5)
    await asyncio.sleep(0.5)
    attempts = await load.stop()

    assert {a.status for a in attempts} <= {201, 503}, [a for a in attempts if a.status == 0]
    down = [a for a in attempts if a.started >= killed and a.ended <= restarting]
    assert down
    assert {(a.status, a.code, a.retry_after) for a in down} == {(503, "database_unavailable", "5")}
    slowest_down = max(a.seconds for a in down)
    assert slowest_down < 2.0
    assert (ready_status, ready_seconds < 3.0 + SLACK) == (503, True)
    recovered = load.first_success_after(back)
    assert recovered is not None, "no 2xx after PostgreSQL came back"
    recovery = recovered.ended - back
    assert recovery < 5.0

    acknowledged = [a for a in attempts if a.status == 201]
    failed = [a for a in attempts if a.status != 201]
    present = await stored_vendors(service, "Killed")
    missing = [a for a in acknowledged if present.get(a.name) != [a.vendor_id]]
    assert not missing

    replays = await replay(http, owner, failed)
    assert {r.status for r in replays} == {201}, [r for r in replays if r.status != 201]
    after_replay = await stored_vendors(service, "Killed")
    assert sorted(after_replay) == sorted(a.name for a in attempts)  # every write is there
    assert all(after_replay[r.name] == [r.vendor_id] for r in replays)  # once, as answered

    lines = assert_quiet_log(service, began)
    figures.info(
        f"killed: {len(attempts)} writes, {len(acknowledged)} acknowledged (all present),"
        f" {len(failed)} answered 503 (slowest during the outage {slowest_down:.3f} s),"
        f" /ready 503 in {ready_seconds:.3f} s; PostgreSQL down {restarting - killed:.1f} s,"
        f" restart took {back - restarting:.1f} s; first 2xx {recovery:.3f} s after it was back;"
        f" {len(replays)} replays created {len(after_replay) - len(present)} vendors"
        f" ({sum(r.replayed for r in replays)} answered from a stored first response);"
        f" each name once; {len(lines)} outage log lines: {sorted({str(x['kind']) for x in lines})}"
    )


async def test_postgres_frozen_answers_503_within_the_timeouts(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "frozen")
    began = time.time()
    load = WriteLoad(http, owner, "Frozen")
    await asyncio.sleep(1.0)
    processes = await asyncio.to_thread(service.postgres.freeze)
    frozen = time.monotonic()
    try:
        await asyncio.sleep(0.5)
        ready_status, ready_seconds = await ready_while_down(http)
        await asyncio.sleep(max(0.0, 4.0 - (time.monotonic() - frozen)))
    finally:
        service.postgres.thaw(processes)
    thawed = time.monotonic()
    await load.wait_for_success_after(thawed, limit=5)
    attempts = await load.stop()

    assert {a.status for a in attempts} <= {201, 503}, [a for a in attempts if a.status == 0]
    during = [a for a in attempts if a.ended > frozen and a.started < thawed]
    slowest = max(a.seconds for a in during)
    assert slowest < DATABASE_WAIT_BOUND + SLACK
    within = [a for a in during if a.started >= frozen and a.ended <= thawed]
    assert within
    assert {(a.status, a.code) for a in within} == {(503, "database_unavailable")}
    assert (ready_status, ready_seconds < 3.0 + SLACK) == (503, True)
    recovered = load.first_success_after(thawed)
    assert recovered is not None, "no 2xx after PostgreSQL was thawed"
    lines = assert_quiet_log(service, began)
    figures.info(
        f"frozen 4 s: {len(during)} requests met the freeze, all answered within"
        f" {slowest:.3f} s (bound {DATABASE_WAIT_BOUND + SLACK:.1f} s), the {len(within)}"
        f" started and ended in it all 503; /ready 503 in {ready_seconds:.3f} s;"
        f" first 2xx {recovered.ended - thawed:.3f} s after thawing;"
        f" {len(lines)} outage log lines: {sorted({str(x['kind']) for x in lines})}"
    )


def stalled_request(service: ServiceProcess, owner: Account, declared: int = 100) -> socket.socket:
    """A client that sends its headers and 8 of `declared` body bytes, then stops."""
    client = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    head = (
        f"POST {API}/vendors HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {owner.access_token}\r\nX-Tenant-ID: {owner.tenant_id}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    )
    client.sendall(head.encode() + b'{"name":')
    return client


def read_until_closed(client: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := client.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


async def test_a_stalled_body_is_408_and_an_idle_connection_is_closed(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "stalling")
    started = time.monotonic()
    client = stalled_request(service, owner)
    with client:
        answer = await asyncio.to_thread(read_until_closed, client)
    stalled_for = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "request_body_timeout"
    assert 1.0 <= stalled_for < 1.0 + SLACK

    idle = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    with idle:
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        answer = await asyncio.to_thread(read_until_closed, idle)
        kept_for = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 200")
    assert 1.0 <= kept_for < 1.0 + SLACK
    figures.info(
        f"stalled body: 408 after {stalled_for:.3f} s;"
        f" idle keep-alive connection closed after {kept_for:.3f} s"
    )


async def test_sigterm_under_load_finishes_in_flight_refuses_new_and_exits_within_the_grace(
    tmp_path: Path,
) -> None:
    grace = 2
    # A long body timeout: only the grace can end the stalled client's request.
    settings = SETTINGS | {
        "SHUTDOWN_GRACE_SECONDS": str(grace),
        "REQUEST_BODY_TIMEOUT_SECONDS": "60",
    }
    service = await asyncio.to_thread(ServiceProcess, tmp_path / "serve.log", **settings)
    try:
        async with httpx.AsyncClient(
            base_url=service.base_url, timeout=15, limits=httpx.Limits(keepalive_expiry=0.5)
        ) as http:
            owner = await signup(http, "stopping")
            lock = await service.postgres.connect()
            transaction = lock.transaction()
            await transaction.start()
            await lock.execute("LOCK TABLE vendors IN EXCLUSIVE MODE")
            in_flight = [
                asyncio.create_task(create_vendor(http, owner, str(uuid.uuid4()), f"Late {n}"))
                for n in range(CLIENTS)
            ]
            stalled = stalled_request(service, owner)
            await waiting_on_the_lock(service, CLIENTS)
            await asyncio.sleep(0.2)  # the stalled client's request has begun by now too
            signalled, signalled_at = time.monotonic(), time.time()
            service.process.terminate()
            await asyncio.sleep(0.5)
            await transaction.commit()
            await lock.close()
            finished = await asyncio.gather(*in_flight)
            refused_after = await asyncio.to_thread(first_refusal, service.port, signalled)
            exit_code = await asyncio.to_thread(service.process.wait, 30)
            exited_after = time.monotonic() - signalled
            with stalled:
                stalled_answer = await asyncio.to_thread(read_until_closed, stalled)
            served_until = logged_at(service, "Stopping parent process") - signalled_at
    finally:
        await asyncio.to_thread(service.stop)

    assert [a.status for a in finished] == [201] * CLIENTS
    assert refused_after < 2.0
    assert exit_code == 0
    assert served_until < grace + SLACK
    # After serving: the embedded PostgreSQL's shutdown, on a busy machine.
    assert exited_after < grace + 6.0
    assert not stalled_answer.startswith(b"HTTP/1.1 2")
    figures.info(
        f"SIGTERM: {CLIENTS} in-flight writes finished 201 (slowest"
        f" {max(a.ended for a in finished) - signalled:.3f} s after the signal); new"
        f" connections refused {refused_after:.3f} s after it; serving ended"
        f" {served_until:.3f} s and the process exited (status {exit_code})"
        f" {exited_after:.3f} s after it, with a stalled client and a grace of {grace} s"
    )


def logged_at(service: ServiceProcess, message: str) -> float:
    """When the service logged `message` (seconds since the epoch)."""
    for line in service.log_lines():
        if line.startswith("{") and (entry := json.loads(line))["message"].startswith(message):
            return datetime.fromisoformat(entry["time"]).timestamp()
    raise AssertionError(f"never logged: {message}")


async def waiting_on_the_lock(service: ServiceProcess, count: int) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    deadline = time.monotonic() + 30
    while await service.postgres.execute(query) < count:
        assert time.monotonic() < deadline, "the writes never reached the lock"
        await asyncio.sleep(0.05)


def first_refusal(port: int, since: float) -> float:
    """Seconds from `since` until a new connection to `port` is refused (at most 10)."""
    deadline = since + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        except ConnectionRefusedError:
            return time.monotonic() - since
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("new connections were still accepted 10 s after SIGTERM")


async def read_stream(
    http: httpx.AsyncClient, path: str, who: Account
) -> tuple[int, bytes, httpx.TransportError | None]:
    """Status, the bytes that arrived, and the error that cut the body short if one did."""
    received = b""
    async with http.stream("GET", path, headers=who.headers) as response:
        try:
            async for chunk in response.aiter_bytes():
                received += chunk
        except httpx.TransportError as error:
            return response.status_code, received, error
    return response.status_code, received, None


async def test_an_outage_in_the_middle_of_a_streamed_export_cuts_it_and_logs_one_line(
    service: ServiceProcess, http: httpx.AsyncClient
) -> None:
    owner = await signup(http, "cut-export")
    began = time.time()
    lock = await service.postgres.connect()
    try:
        async with lock.transaction():
            await lock.execute("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            status, received, cut = await read_stream(http, f"{API}/invoices/export.csv", owner)
            cut_after = time.monotonic() - started
    finally:
        await lock.close()
    assert status == 200  # sent before the export's query ran
    assert isinstance(cut, httpx.RemoteProtocolError)
    assert received.count(b"\n") == 1  # the header row only
    assert STATEMENT_TIMEOUT <= cut_after < STATEMENT_TIMEOUT + SLACK
    lines = assert_quiet_log(service, began)
    assert [line["kind"] for line in lines] == ["statement_cancelled"]
    figures.info(f"export cut by an outage after {cut_after:.3f} s, logged as one line")
