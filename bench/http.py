"""Requests per second of the real server, driven by wrk, beside a ceiling and a floor.

Three server processes on 127.0.0.1, one uvicorn worker each (BENCH_HTTP_WORKERS for
more), on one embedded PostgreSQL:
- the app, `python -m ledgerline serve` (exactly what `make run` serves), with rate limits
  on in this process's memory (the limit raised so that nothing is refused), log level
  WARNING;
- the ceiling, `python -m bench.ceiling`: bare Starlette + asyncpg doing the app's security
  and database work for `GET /invoices/{id}`, for `POST /invoices` (a two-line draft:
  the same statements as the app's create, in its order) and for
  `POST /invoices/{id}/approve` (a seeded submitted invoice: the app's 23 statements of an
  approval that posts, in its order) and nothing else (see its docstring);
- the floor, `python -m bench.floor`: the ceiling's exact work on FastAPI and the app's
  SQLAlchemy session.
A tenant is signed up through the app's HTTP API (a real owner, a real access token); its
vendors and invoices of two lines each are then seeded with COPY: some to read, and
submitted ones at version 2 for the approvals (BENCH_HTTP_APPROVALS, 60,000, split in
three shares: the app's, the floor's and the ceiling's), each approved once: a run walks
only the ids of its server's share that no earlier run or warm-up has sent (an approval
records its approver and posts, so a second approval of one invoice is refused, not
measured).

`wrk -t1 -c32` (bench/wrk.lua sets the headers and walks the ids; every create has a
number of its own) measures each endpoint for BENCH_HTTP_SECONDS (5) in
BENCH_HTTP_ROUNDS (3) rounds; within a round the app's endpoints run, its create and its
approval (when selected) each followed by the floor's and the ceiling's, its invoice
read last followed by the floor's and the ceiling's reads, so app, floor and ceiling
alternate. BENCH_HTTP_ONLY=create runs the three creates and the three reads only,
BENCH_HTTP_ONLY=approve the three approvals and the three reads.
Before the rounds: 1,000 authenticated requests through httpx (checked: 2xx), 50 invoice
reads (checked: rate-limit headers, the app's invoice equals the ceiling's), 20 reads of
the floor (equal to the ceiling's), 5 creates of the wrk body on each server (checked: the
ceiling's and the floor's answers have the app's keys and values but for ids, number
and times), 5 approvals on each server (checked: 200, ETag "3", the app's keys, approved),
the app worker's RSS, and BENCH_HTTP_WARM_UP_SECONDS (2) of wrk on each endpoint.
Printed per endpoint: req/s (median of rounds, and each round), p50 and p99 (median of
rounds), the server's processor time per request, responses other than 2xx; the invoice
read's and, when measured, the create's and the approval's ratios: app / ceiling (req/s,
p99, and req/s within each round), floor / ceiling and app / floor (req/s and processor
time); the app worker's RSS after those first authenticated requests and after
BENCH_HTTP_RSS_REQUESTS (100,000; invoice reads top the count up); and whether the
servers have uvloop and httptools loaded (their memory maps).

Needs wrk (`apt-get install wrk`); without it the benchmark says so and is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import psutil

from bench.database import admin_url, fresh_database
from bench.seed import (
    INVOICE_COLUMNS,
    LINE_COLUMNS,
    VENDOR_COLUMNS,
    invoice_rows,
    issue_and_due_dates,
    shapes,
    vendor_rows,
)
from bench.server import SignedUp, free_port, running, sign_up, wait_until_serving
from ledgerline.db.roles import asyncpg_dsn

DATABASE = "ledgerline_bench_http"
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "5"))
WARM_UP_SECONDS = int(os.environ.get("BENCH_HTTP_WARM_UP_SECONDS", "2"))
RSS_REQUESTS = int(os.environ.get("BENCH_HTTP_RSS_REQUESTS", "100000"))
APPROVALS = int(os.environ.get("BENCH_HTTP_APPROVALS", "60000"))  # in all, a third each
WORKERS = int(os.environ.get("BENCH_HTTP_WORKERS", "1"))  # of each server
# A folder: the app worker's profile during each endpoint's first round, written there
# by py-spy (collapsed stacks, one file per endpoint) when py-spy is installed.
PROFILE_DIR = os.environ.get("BENCH_HTTP_PROFILE", "")
# Which endpoints besides the invoice read and the ceiling (names of `BY_NAME`, comma-
# separated, e.g. "me,vendor"); all when empty.
ONLY = [name for name in os.environ.get("BENCH_HTTP_ONLY", "").split(",") if name]
CONNECTIONS = 32
POOL_SIZE = 28  # of each server, out of 32 clients: three pools fit in 100 connections
VENDORS = 50
READ_INVOICES = 4_000
LINES = 2
WARM_UP_EACH = 200  # httpx requests per authenticated endpoint before the first RSS
APPROVE_VERSION = 2  # the submitted invoices' version: If-Match "2"
TOP_UP_CHUNK_SECONDS = 30
LUA = Path(__file__).with_name("wrk.lua")
# Not a secret: the signing key of this benchmark's throwaway tokens, shared with the ceiling.
SECRET_KEY = "bench-http-signing-key-0123456789abcdef"  # noqa: S105
NOT_IN_A_REQUEST = ("created_at", "updated_at")  # formats differ; the rest must be equal
# What differs between two creates of one body by nature: ids, the number, the times.
NOT_SAME = ("id", "number", "created_at", "updated_at", "possible_duplicate_of")


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class Endpoint:
    label: str
    server: str  # "app", "ceiling" or "floor"
    mode: str  # of bench/wrk.lua
    path: str
    ids: str | None = None  # which ids file
    environment: dict[str, str] = field(default_factory=dict)


HEALTH = Endpoint("GET /health", "app", "get", "/health")
ME = Endpoint("GET /api/v1/users/me", "app", "get", "/api/v1/users/me")
VENDOR = Endpoint("GET /api/v1/vendors/{id}", "app", "ids", "/api/v1/vendors/", "vendors")
CREATE = Endpoint("POST /api/v1/invoices", "app", "create", "/api/v1/invoices", "vendors")
CREATE_KEYED = Endpoint(
    "POST /api/v1/invoices, Idempotency-Key",
    "app",
    "create",
    "/api/v1/invoices",
    "vendors",
    {"BENCH_WRK_IDEMPOTENCY": "1"},
)
APPROVE = Endpoint(
    "POST /api/v1/invoices/{id}/approve",
    "app",
    "approve",
    "/api/v1/invoices/",
    "approvals",
    {"BENCH_WRK_IF_MATCH": f'"{APPROVE_VERSION}"'},
)
INVOICE = Endpoint("GET /api/v1/invoices/{id}", "app", "ids", "/api/v1/invoices/", "invoices")
CEILING = Endpoint("GET /invoices/{id}, ceiling", "ceiling", "ids", "/invoices/", "invoices")
FLOOR = Endpoint("GET /invoices/{id}, floor", "floor", "ids", "/invoices/", "invoices")
CEILING_CREATE = Endpoint("POST /invoices, ceiling", "ceiling", "create", "/invoices", "vendors")
FLOOR_CREATE = Endpoint("POST /invoices, floor", "floor", "create", "/invoices", "vendors")
# Each server approves invoices of its own share: none is approved twice.
CEILING_APPROVE = Endpoint(
    "POST /invoices/{id}/approve, ceiling",
    "ceiling",
    "approve",
    "/invoices/",
    "ceiling-approvals",
    APPROVE.environment,
)
FLOOR_APPROVE = Endpoint(
    "POST /invoices/{id}/approve, floor",
    "floor",
    "approve",
    "/invoices/",
    "floor-approvals",
    APPROVE.environment,
)
APPROVAL_SHARES = ("approvals", "floor-approvals", "ceiling-approvals")  # app, floor, ceiling
BY_NAME = {
    "health": HEALTH,
    "me": ME,
    "vendor": VENDOR,
    "create": CREATE,
    "create-keyed": CREATE_KEYED,
    "approve": APPROVE,
}
SELECTED = [endpoint for name, endpoint in BY_NAME.items() if not ONLY or name in ONLY]
# A round: the app's endpoints, its create and its approval (when selected) each followed
# by the floor's and the ceiling's, its invoice read last followed by the floor's and the
# ceiling's.
ROUND = (
    *(endpoint for endpoint in SELECTED if endpoint not in (CREATE, APPROVE)),
    *((CREATE, FLOOR_CREATE, CEILING_CREATE) if CREATE in SELECTED else ()),
    *((APPROVE, FLOOR_APPROVE, CEILING_APPROVE) if APPROVE in SELECTED else ()),
    INVOICE,
    FLOOR,
    CEILING,
)


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failed: int  # responses other than 2xx/3xx, and socket errors
    cpu_ms: float  # the server's processor time (user + system) per request, in ms
    database_cpu_ms: float | None  # PostgreSQL's, all its processes (when it is local)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class Bench:
    """What the runs share: where the servers are, the tenant, the ids, the counts."""

    ports: dict[str, int]
    tenant: SignedUp
    files: dict[str, Path]
    server_pids: dict[str, list[int]]
    database_pid: int | None  # the postmaster, when PostgreSQL runs on this machine
    authenticated: int = 0  # requests the app served on the tenant's behalf
    wrk_runs: int = 0
    # Per share of approvals (APPROVAL_SHARES): its ids already sent, in the file's order.
    approvals_sent: dict[str, int] = field(default_factory=dict)

    def unsent_approvals(self, share: str = "approvals") -> list[str]:
        return self.files[share].read_text().split()[self.approvals_sent.get(share, 0) :]

    def sent_approvals(self, share: str, count: int) -> None:
        self.approvals_sent[share] = self.approvals_sent.get(share, 0) + count

    async def wrk(self, endpoint: Endpoint, seconds: int) -> Run:
        self.wrk_runs += 1
        ids_file = self.files[endpoint.ids] if endpoint.ids else None
        if endpoint.mode == "approve":
            assert endpoint.ids is not None
            unsent = self.unsent_approvals(endpoint.ids)
            if len(unsent) < 1_000:
                raise RuntimeError("too few approvals left: raise BENCH_HTTP_APPROVALS")
            ids_file = self.files[endpoint.ids].with_suffix(".unsent")
            ids_file.write_text("".join(f"{value}\n" for value in unsent))
        environment = {
            **os.environ,
            "BENCH_WRK_TOKEN": self.tenant.access_token,
            "BENCH_WRK_TENANT": self.tenant.tenant_id,
            "BENCH_WRK_MODE": endpoint.mode,
            "BENCH_WRK_PATH": endpoint.path,
            "BENCH_WRK_TAG": f"W{self.wrk_runs}",
            **({"BENCH_WRK_IDS": str(ids_file)} if ids_file else {}),
            **endpoint.environment,
        }
        url = f"http://127.0.0.1:{self.ports[endpoint.server]}{endpoint.path}"
        cpu_before = cpu_seconds(self.server_pids[endpoint.server])
        database_before = database_cpu_seconds(self.database_pid)
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        cpu = cpu_seconds(self.server_pids[endpoint.server]) - cpu_before
        database_after = database_cpu_seconds(self.database_pid)
        line = next((x for x in out.decode().splitlines() if x.startswith("BENCH_WRK ")), None)
        if process.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({process.returncode}): {out.decode()}{err.decode()}")
        figures = json.loads(line.removeprefix("BENCH_WRK "))
        if endpoint.server == "app" and endpoint is not HEALTH:
            self.authenticated += figures["requests"]
        if endpoint.mode == "approve":  # and those in flight when wrk stopped
            assert endpoint.ids is not None
            self.sent_approvals(endpoint.ids, figures["requests"] + CONNECTIONS)
        failed = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
        return Run(
            figures["requests"],
            figures["duration_us"] / 1e6,
            figures["p50_us"] / 1000,
            figures["p99_us"] / 1000,
            failed,
            1000 * cpu / max(1, figures["requests"]),
            None
            if database_before is None or database_after is None
            else 1000 * (database_after - database_before) / max(1, figures["requests"]),
        )


async def seed(admin_dsn: str, tenant: UUID, approvals: int = APPROVALS) -> dict[str, list[UUID]]:
    """The tenant's vendors, invoices to read, and `approvals` submitted invoices to
    approve (in three shares: APPROVAL_SHARES)."""
    rng = random.Random(17)
    vendors, vendor_records = vendor_rows(rng, tenant, VENDORS)
    line_shapes, days = shapes(rng), issue_and_due_dates()
    to_read = list(
        invoice_rows(rng, tenant, vendors, READ_INVOICES, line_shapes, days, lines=LINES)
    )
    to_approve = list(
        invoice_rows(
            rng,
            tenant,
            vendors,
            approvals,
            line_shapes,
            days,
            lines=LINES,
            status="submitted",
            version=APPROVE_VERSION,
            prefix="APR",
        )
    )
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.copy_records_to_table("vendors", records=vendor_records, columns=VENDOR_COLUMNS)
        for rows in (to_read, to_approve):
            if not rows:
                continue
            await conn.copy_records_to_table(
                "invoices", records=[invoice for invoice, _ in rows], columns=INVOICE_COLUMNS
            )
            await conn.copy_records_to_table(
                "invoice_lines",
                records=[line for _, lines in rows for line in lines],
                columns=LINE_COLUMNS,
            )
        await conn.execute("ANALYZE vendors, invoices, invoice_lines")
    finally:
        await conn.close()
    return {
        "vendors": [vendor for vendor, _ in vendors],
        "invoices": [invoice[1] for invoice, _ in to_read],
        **{
            share: [invoice[1] for invoice, _ in to_approve[n :: len(APPROVAL_SHARES)]]
            for n, share in enumerate(APPROVAL_SHARES)
        },
    }


@contextmanager
def profiled(endpoint: Endpoint, app_pid: int, round_number: int) -> Iterator[None]:
    """With BENCH_HTTP_PROFILE, py-spy samples the app worker during the first round of
    each app endpoint (collapsed stacks in `<folder>/<endpoint>.txt`)."""
    py_spy = shutil.which("py-spy")
    if not PROFILE_DIR or py_spy is None or round_number != 1 or endpoint.server != "app":
        yield
        return
    folder = Path(PROFILE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = next((n for n, e in BY_NAME.items() if e is endpoint), "invoice")
    command = [
        py_spy,
        "record",
        "--format",
        "raw",
        "--rate",
        "200",
        "--nonblocking",
        "--threads",
        "--idle",
    ]
    command += ["--pid", str(worker_pids(app_pid)[0]), "-o", str(folder / f"{name}.txt")]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=30)


def cpu_seconds(pids: list[int]) -> float:
    """Processor time (user + system) the processes have used so far."""
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def database_cpu_seconds(postmaster: int | None) -> float | None:
    """Processor time PostgreSQL has used so far: the postmaster's, its live processes'
    (backends, background writers) and that of the processes it has reaped."""
    if postmaster is None:
        return None
    try:
        server = psutil.Process(postmaster)
        times = server.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in server.children():
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:  # reaped meanwhile: counted in children_* next time
                continue
        return total
    except psutil.Error:
        return None


async def local_postmaster(admin_dsn: str) -> int | None:
    """The postmaster's pid when PostgreSQL runs on this machine (a backend's parent)."""
    connection = await asyncpg.connect(admin_dsn)
    try:  # while the backend lives
        parent = psutil.Process(await connection.fetchval("SELECT pg_backend_pid()")).parent()
        return None if parent is None or "postgres" not in parent.name() else parent.pid
    except psutil.Error:
        return None
    finally:
        await connection.close()


def worker_pids(pid: int) -> list[int]:
    """The processes that serve: the server itself, or with --workers N its N workers."""
    if WORKERS == 1:
        return [pid]
    for _ in range(300):
        workers = [
            child.pid
            for child in psutil.Process(pid).children()
            if "resource_tracker" not in " ".join(child.cmdline())
        ]
        if len(workers) == WORKERS:
            return workers
        time.sleep(0.1)
    raise RuntimeError(f"{pid} has not started {WORKERS} workers")


def loaded(pids: Sequence[int], names: Sequence[str]) -> dict[str, bool]:
    """Which of the extension modules `names` (e.g. "uvloop") every process has mapped."""
    mapped = [[m.path for m in psutil.Process(pid).memory_maps()] for pid in pids]
    return {
        name: all(
            any(f"/{name}/" in path and path.endswith(".so") for path in paths) for paths in mapped
        )
        for name in names
    }


def rss_mib(server: int) -> dict[int, float]:
    """The RSS of each process serving for `server`, by pid."""
    return {pid: psutil.Process(pid).memory_info().rss / 2**20 for pid in worker_pids(server)}


async def warm_up(app: httpx.AsyncClient, ceiling: httpx.AsyncClient, bench: Bench) -> None:
    """WARM_UP_EACH requests per authenticated endpoint, CONNECTIONS at a time, each
    checked; then the app's invoice must equal the ceiling's."""
    headers = bench.tenant.headers
    vendors = bench.files["vendors"].read_text().split()
    invoices = bench.files["invoices"].read_text().split()
    approvals = iter(bench.unsent_approvals())
    bench.sent_approvals("approvals", WARM_UP_EACH)
    requests: list[tuple[httpx.AsyncClient, str, str, dict[str, Any]]] = []
    for n in range(WARM_UP_EACH):
        vendor = vendors[n % len(vendors)]
        body = {
            "vendor_id": vendor,
            "number": f"WARM-{n}",
            "issue_date": "2025-03-14",
            "lines": [
                {"description": "Hosting", "quantity": "1", "unit_price": "120.00"},
                {"description": "Support", "quantity": "3", "unit_price": "45.50"},
            ],
        }
        requests += [
            (app, "GET", "/api/v1/users/me", {}),
            (app, "GET", f"/api/v1/vendors/{vendor}", {}),
            (app, "GET", f"/api/v1/invoices/{invoices[n]}", {}),
            (app, "POST", "/api/v1/invoices", {"json": body}),
            (
                app,
                "POST",
                f"/api/v1/invoices/{next(approvals)}/approve",
                {"headers": {**headers, "If-Match": f'"{APPROVE_VERSION}"'}},
            ),
            (ceiling, "GET", f"/invoices/{invoices[n]}", {}),
        ]
    pending = iter(requests)

    async def worker() -> None:
        for client, method, url, extra in pending:
            response = await client.request(method, url, **{"headers": headers, **extra})
            assert response.is_success, (method, url, response.status_code, response.text)
            if client is app:
                bench.authenticated += 1

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    for invoice in invoices[:50]:
        answer = await app.get(f"/api/v1/invoices/{invoice}", headers=headers)
        assert "ratelimit-remaining" in answer.headers, "the app does not count rate limits"
        ours = answer.json()
        theirs = (await ceiling.get(f"/invoices/{invoice}", headers=headers)).json()
        bench.authenticated += 1
        for key in NOT_IN_A_REQUEST:
            ours.pop(key), theirs.pop(key)
        assert ours == theirs, f"the ceiling reads another invoice:\n{ours}\n{theirs}"


async def same_as_ceiling(floor_url: str, ceiling: httpx.AsyncClient, bench: Bench) -> None:
    """The floor answers exactly what the ceiling answers (the same work)."""
    headers = bench.tenant.headers
    async with httpx.AsyncClient(base_url=floor_url, timeout=60) as floor:
        for invoice in bench.files["invoices"].read_text().split()[:20]:
            ours = (await floor.get(f"/invoices/{invoice}", headers=headers)).json()
            theirs = (await ceiling.get(f"/invoices/{invoice}", headers=headers)).json()
            assert ours == theirs, f"the floor reads another invoice:\n{ours}\n{theirs}"


def wrk_create_body(vendor: str, number: str) -> dict[str, Any]:
    """The draft bench/wrk.lua posts in `create` mode."""
    return {
        "vendor_id": vendor,
        "number": number,
        "issue_date": "2025-03-14",
        "po_number": "PO-7781",
        "lines": [
            {
                "description": "Hosting, March",
                "quantity": "1",
                "unit_price": "120.00",
                "tax_rate": "0.19",
            },
            {
                "description": "Support hours",
                "quantity": "3",
                "unit_price": "45.50",
                "tax_rate": "0.19",
            },
        ],
    }


async def same_create_as_app(base: dict[str, str], bench: Bench) -> None:
    """The ceiling's and the floor's creates answer the app's keys and values for the same
    body (each with a number of its own), but for what differs between two creates by
    nature (NOT_SAME: ids, the near duplicates' too, the number and the times)."""
    headers = bench.tenant.headers
    paths = {"app": "/api/v1/invoices", "ceiling": "/invoices", "floor": "/invoices"}
    vendors = bench.files["vendors"].read_text().split()[:5]
    async with httpx.AsyncClient(timeout=60) as client:
        for n, vendor in enumerate(vendors):
            answers: dict[str, dict[str, Any]] = {}
            for server, path in paths.items():
                body = wrk_create_body(vendor, f"SAME-{server}-{n}")
                response = await client.post(base[server] + path, json=body, headers=headers)
                assert response.status_code == 201, (server, response.status_code, response.text)
                answers[server] = response.json()
            bench.authenticated += 1
            ours = answers["app"]
            for server in ("ceiling", "floor"):
                theirs = answers[server]
                same = ours.keys() == theirs.keys() and all(
                    ours[key] == theirs[key] for key in ours if key not in NOT_SAME
                )
                assert same, f"the {server} creates another invoice:\n{ours}\n{theirs}"


async def same_approval_as_app(base: dict[str, str], bench: Bench) -> None:
    """The ceiling and the floor approve as the app does: 200, ETag "3", the app's keys,
    the invoice approved (each server approves invoices of its own share)."""
    headers = {**bench.tenant.headers, "If-Match": f'"{APPROVE_VERSION}"'}
    paths = {"app": "/api/v1/invoices/", "ceiling": "/invoices/", "floor": "/invoices/"}
    shares = dict(zip(("app", "floor", "ceiling"), APPROVAL_SHARES, strict=True))
    count = 5
    async with httpx.AsyncClient(timeout=60) as client:
        keys: dict[str, set[str]] = {}
        for server, path in paths.items():
            share = shares[server]
            for invoice in bench.unsent_approvals(share)[:count]:
                url = f"{base[server]}{path}{invoice}/approve"
                response = await client.post(url, headers=headers)
                assert response.status_code == 200, (server, response.status_code, response.text)
                assert response.headers["etag"] == f'"{APPROVE_VERSION + 1}"', server
                assert response.json()["status"] == "approved", server
                keys[server] = set(response.json())
            bench.sent_approvals(share, count)
            if server == "app":
                bench.authenticated += count
        for server in ("ceiling", "floor"):
            assert keys[server] == keys["app"], f"the {server} answers other keys: {keys}"


async def measure(ports: dict[str, int], pids: dict[str, int], admin_dsn: str) -> dict[str, Any]:
    app_pid = pids["app"]
    figures: dict[str, Any] = {"load_before": os.getloadavg()}
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with (
        httpx.AsyncClient(base_url=base["app"], limits=limits, timeout=60) as app,
        httpx.AsyncClient(base_url=base["ceiling"], limits=limits, timeout=60) as ceiling,
    ):
        tenant = await sign_up(app, "Throughput", "throughput")
        ids = await seed(admin_dsn, UUID(tenant.tenant_id))
        with tempfile.TemporaryDirectory(prefix="bench-http-") as folder:
            files = {}
            for name, values in ids.items():
                files[name] = Path(folder) / f"{name}.txt"
                shuffled = random.Random(name).sample(values, len(values))
                files[name].write_text("".join(f"{value}\n" for value in shuffled))
            server_pids = {name: worker_pids(pid) for name, pid in pids.items()}
            bench = Bench(ports, tenant, files, server_pids, await local_postmaster(admin_dsn))
            await warm_up(app, ceiling, bench)
            await same_as_ceiling(base["floor"], ceiling, bench)
            await same_create_as_app(base, bench)
            await same_approval_as_app(base, bench)
            figures["rss_first"] = (bench.authenticated, rss_mib(app_pid))
            for endpoint in ROUND:
                await bench.wrk(endpoint, WARM_UP_SECONDS)
            runs: dict[Endpoint, list[Run]] = {endpoint: [] for endpoint in ROUND}
            print(f"  req/s in each round of: {'; '.join(e.label for e in ROUND)}")
            for number in range(1, ROUNDS + 1):
                for endpoint in ROUND:
                    with profiled(endpoint, app_pid, number):
                        runs[endpoint].append(await bench.wrk(endpoint, SECONDS))
                rates = ", ".join(f"{runs[e][-1].rate:,.0f}" for e in ROUND)
                print(f"  round {number}/{ROUNDS} req/s: {rates}", flush=True)
            started, before = time.perf_counter(), bench.authenticated
            invoice_rate = statistics.median(run.rate for run in runs[INVOICE])
            while bench.authenticated < RSS_REQUESTS:
                remaining = RSS_REQUESTS - bench.authenticated
                seconds = max(1, min(TOP_UP_CHUNK_SECONDS, int(remaining / invoice_rate) + 1))
                await bench.wrk(INVOICE, seconds)
            figures["top_up_s"] = time.perf_counter() - started
            figures["topped_up"] = bench.authenticated - before
            figures["rss_last"] = (bench.authenticated, rss_mib(app_pid))
    figures["runs"] = runs
    figures["seeded"] = {name: len(values) for name, values in ids.items()}
    figures["load_after"] = os.getloadavg()
    return figures


async def run() -> dict[str, Any]:
    with admin_url() as admin, tempfile.TemporaryDirectory(prefix="bench-http-data-") as data:
        settings = await fresh_database(admin, DATABASE)
        assert settings.database_url is not None
        ports = {"app": free_port(), "ceiling": free_port(), "floor": free_port()}
        environment = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": SECRET_KEY,
            "DATA_DIR": data,
            "LOG_LEVEL": "WARNING",
            "ACCESS_TOKEN_TTL_SECONDS": "86400",  # the one token outlives the benchmark
            # Limits counted, in this process's memory, but high enough to refuse nothing.
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_STORAGE_URL": "",
            "RATE_LIMIT_DEFAULT": "1000000/minute",
            # Each server's pool near the load's concurrency and without overflow: no
            # connection opened and closed per request (SQLAlchemy closes overflow
            # connections on return); three servers share PostgreSQL's 100 connections.
            "DATABASE_POOL_SIZE": str(POOL_SIZE),
            "DATABASE_MAX_OVERFLOW": "0",
        }
        options = ["--host", "127.0.0.1", "--workers", str(WORKERS)]
        serve = [sys.executable, "-m", "ledgerline", "serve", *options]
        ceiling = [sys.executable, "-m", "bench.ceiling", *options]
        floor = [sys.executable, "-m", "bench.floor", *options]
        with (
            running([*serve, "--port", str(ports["app"])], environment) as app_process,
            running([*ceiling, "--port", str(ports["ceiling"])], environment) as ceiling_process,
            running([*floor, "--port", str(ports["floor"])], environment) as floor_process,
        ):
            processes = {"app": app_process, "ceiling": ceiling_process, "floor": floor_process}
            for name, process in processes.items():
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[name]}") as client:
                    await wait_until_serving(client, "/health", process)
            modules = {
                name: loaded(worker_pids(process.pid), ("uvloop", "httptools"))
                for name, process in processes.items()
            }
            dsn = asyncpg_dsn(admin.set(database=DATABASE))
            figures = await measure(
                ports, {name: process.pid for name, process in processes.items()}, dsn
            )
            figures["modules"] = modules
    return figures


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def report(figures: dict[str, Any]) -> None:
    seeded = figures["seeded"]
    print(
        f"  seeded: {seeded['vendors']} vendors, {seeded['invoices']:,} invoices to read and"
        f" {sum(seeded[share] for share in APPROVAL_SHARES):,} submitted to approve"
        f" (a third each for the app, the floor and the ceiling), {LINES} lines each (COPY)"
    )
    for name, label in (
        ("app", "app worker (ledgerline serve)"),
        ("ceiling", "ceiling"),
        ("floor", "floor"),
    ):
        modules = figures["modules"][name]
        print(
            f"  {label + ':':<31} uvloop loaded {_yes(modules['uvloop'])},"
            f" httptools loaded {_yes(modules['httptools'])}"
        )
    before, after = figures["load_before"], figures["load_after"]
    print(
        f"  load average: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} before,"
        f" {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} after"
    )
    runs: dict[Endpoint, list[Run]] = figures["runs"]
    print(
        f"  {'endpoint':<40} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>7}"
        f" {'DB ms':>7} {'not 2xx':>8}   rounds"
    )
    medians = {}
    cpu_medians: dict[Endpoint, float] = {}
    for endpoint, its_runs in runs.items():
        rate = statistics.median(run.rate for run in its_runs)
        p50 = statistics.median(run.p50_ms for run in its_runs)
        p99 = statistics.median(run.p99_ms for run in its_runs)
        medians[endpoint] = (rate, p99)
        cpu = statistics.median(run.cpu_ms for run in its_runs)
        cpu_medians[endpoint] = cpu
        database = [run.database_cpu_ms for run in its_runs if run.database_cpu_ms is not None]
        database_cpu = f"{statistics.median(database):7.3f}" if database else f"{'-':>7}"
        failed = sum(run.failed for run in its_runs)
        rounds = " ".join(f"{run.rate:,.0f}" for run in its_runs)
        print(
            f"  {endpoint.label:<40} {rate:7,.0f} {p50:8.2f} {p99:8.2f} {cpu:7.3f}"
            f" {database_cpu} {failed:8,}   {rounds}"
        )
    (app_rate, app_p99), (ceiling_rate, ceiling_p99) = medians[INVOICE], medians[CEILING]
    print(
        f"  invoice read, app / ceiling: req/s {app_rate / ceiling_rate:.2f}x"
        f" (goal >= 0.6x), p99 {app_p99 / ceiling_p99:.1f}x (goal <= 3x)"
    )
    # Each round's app read ran just before its ceiling read: their ratio drifts less.
    pairs = list(zip(runs[INVOICE], runs[CEILING], strict=True))
    ratios = [app.rate / ceiling.rate for app, ceiling in pairs]
    print(
        f"    the same within each round: {' '.join(f'{r:.2f}x' for r in ratios)},"
        f" median {statistics.median(ratios):.2f}x"
    )
    floor_rate, floor_cpu = medians[FLOOR][0], cpu_medians[FLOOR]
    print(
        f"  FastAPI + SQLAlchemy alone (floor) / ceiling: req/s {floor_rate / ceiling_rate:.2f}x,"
        f" processor time per request {floor_cpu / cpu_medians[CEILING]:.1f}x;"
        f" app / floor: req/s {app_rate / floor_rate:.2f}x,"
        f" processor time {cpu_medians[INVOICE] / floor_cpu:.1f}x"
    )
    if CEILING_CREATE in runs:
        report_writes("create", (CREATE, FLOOR_CREATE, CEILING_CREATE), runs, medians, cpu_medians)
    if CEILING_APPROVE in runs:
        endpoints = (APPROVE, FLOOR_APPROVE, CEILING_APPROVE)
        report_writes("approval", endpoints, runs, medians, cpu_medians)
    for endpoint in (ME, VENDOR):
        if endpoint not in medians:
            continue
        print(f"  {endpoint.label} / app invoice read: {medians[endpoint][0] / app_rate:.2f}x")
    (first_count, firsts), (last_count, lasts) = figures["rss_first"], figures["rss_last"]
    if firsts.keys() != lasts.keys():
        print(f"  app workers were replaced meanwhile: {list(firsts)} then {list(lasts)}")
    for n, (first, last) in enumerate(zip(firsts.values(), lasts.values(), strict=True), 1):
        worker = "app worker" if WORKERS == 1 else f"app worker {n}/{WORKERS}"
        print(
            f"  {worker} RSS: {first:.1f} MiB after {first_count:,} authenticated requests,"
            f" {last:.1f} MiB after {last_count:,} ({100 * (last / first - 1):+.1f}%)"
        )
    print(
        f"    (the last {figures['topped_up']:,} of them invoice reads,"
        f" in {figures['top_up_s']:.0f} s)"
    )


def report_writes(
    name: str,
    endpoints: tuple[Endpoint, Endpoint, Endpoint],
    runs: dict[Endpoint, list[Run]],
    medians: dict[Endpoint, tuple[float, float]],
    cpu_medians: dict[Endpoint, float],
) -> None:
    """A write's ratios (`name`: create, approval; `endpoints`: the app's, the floor's and
    the ceiling's), as the read's: app / ceiling, floor / ceiling, app / floor."""
    app, floor, ceiling = endpoints
    (app_rate, app_p99), (ceiling_rate, ceiling_p99) = medians[app], medians[ceiling]
    app_cpu, ceiling_cpu = cpu_medians[app], cpu_medians[ceiling]
    print(
        f"  invoice {name}, app / ceiling: req/s {app_rate / ceiling_rate:.2f}x,"
        f" p99 {app_p99 / ceiling_p99:.1f}x,"
        f" processor time per request {app_cpu / ceiling_cpu:.1f}x"
    )
    pairs = list(zip(runs[app], runs[ceiling], strict=True))
    ratios = [ours.rate / theirs.rate for ours, theirs in pairs]
    print(
        f"    the same within each round: {' '.join(f'{r:.2f}x' for r in ratios)},"
        f" median {statistics.median(ratios):.2f}x"
    )
    floor_rate, floor_cpu = medians[floor][0], cpu_medians[floor]
    print(
        f"  {name}, FastAPI + SQLAlchemy alone (floor) / ceiling:"
        f" req/s {floor_rate / ceiling_rate:.2f}x,"
        f" processor time per request {floor_cpu / ceiling_cpu:.1f}x;"
        f" app / floor: req/s {app_rate / floor_rate:.2f}x,"
        f" processor time {app_cpu / floor_cpu:.1f}x"
    )


def main() -> None:
    print(
        f"http: real server processes, {WORKERS} uvicorn worker(s) each, wrk -t1 -c{CONNECTIONS},"
        f" {ROUNDS} rounds of {SECONDS} s alternating app and ceiling"
    )
    if shutil.which("wrk") is None:
        print(
            "  skipped: wrk is not installed. Install it (Debian/Ubuntu: `apt-get install wrk`,"
            " as root or with sudo) and run `make bench BENCH=http`."
        )
        return
    report(asyncio.run(run()))
