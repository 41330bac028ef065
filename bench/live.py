"""Commit-to-subscriber latency of live events: many sockets, two workers, steady approvals.

A real `ledgerline serve --workers 2` on 127.0.0.1 over one embedded PostgreSQL. A tenant
is signed up through the API (a real owner, a real access token); its vendors and
submitted invoices (version 2) are seeded with COPY, as bench/http.py does.

BENCH_LIVE_SOCKETS (1,000) WebSockets authenticate (first message) and subscribe to
`invoices`, opened by BENCH_LIVE_CLIENTS (4) client processes (multiprocessing, uvloop
when installed): one Python process reading 1,000 sockets x 50 events/s would itself be
the bottleneck. Where they landed is read from the kernel: each worker pid's established
TCP sockets on the server port (psutil: /proc/<pid>/fd and /proc/net/tcp).

Then a driver in this process approves BENCH_LIVE_RATE (50) invoices per second for
BENCH_LIVE_SECONDS (20), on a fixed schedule (a slow answer does not delay the next
approval), each through `POST /invoices/{id}/approve` with If-Match. Each approval
commits one `invoice.approved` event on `invoices`.

Latency, per socket and event, is measured from the approve response's arrival in the
driver (after the commit: the commit itself is not visible to a client) to the socket's
receipt of that event, both on this machine's clock (`time.time_ns`). An event may reach
a socket before its approve response reaches the driver: such a latency is negative,
and counted. Also printed: the same from the event id's own timestamp (a UUIDv7 taken
by `emit`, the transaction's last write just before its commit; millisecond
resolution). Printed: where the sockets landed, p50/p90/p99/max over all receipts,
events expected and received per socket (min and max, missing, duplicates), the processor
time of the server workers and the client processes during the run, and the load average.
"""

from __future__ import annotations

import array
import asyncio
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

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
from bench.server import free_port, running, sign_up, wait_until_serving
from ledgerline.db.roles import asyncpg_dsn

DATABASE = "ledgerline_bench_live"
SOCKETS = int(os.environ.get("BENCH_LIVE_SOCKETS", "1000"))
RATE = int(os.environ.get("BENCH_LIVE_RATE", "50"))  # approvals per second
SECONDS = int(os.environ.get("BENCH_LIVE_SECONDS", "20"))
CLIENTS = int(os.environ.get("BENCH_LIVE_CLIENTS", "4"))  # client processes
WORKERS = 2
VENDORS = 20
APPROVE_VERSION = 2
CONNECTING_AT_ONCE = 20  # per client process
DRAIN_SECONDS = 30.0  # after the last approval, how long the sockets may take to catch up
DRAIN_POLL_SECONDS = 0.1
SECRET_KEY = "bench-live-signing-key-0123456789abcdef"  # noqa: S105 - throwaway tokens
EVENT = "invoice.approved"
TRY_AGAIN = 1013
RETRIES_1013 = 20


def uuid7_ns(event_id: str) -> int:
    """The Unix time in ns of a UUIDv7's millisecond timestamp."""
    return (UUID(event_id).int >> 80) * 1_000_000


# --- the client processes ------------------------------------------------------------


@dataclass
class SocketLog:
    """What one socket received: the `EVENT` frames, by subject id."""

    received: dict[str, tuple[int, int]]  # subject id -> (receipt ns, event-id ns)
    duplicates: int = 0


async def _open(url: str, token: str, tenant: str) -> tuple[ClientConnection, SocketLog, int]:
    """A socket authenticated and subscribed, connecting again after a close 1013 (the
    server's database was not available in time), as the README tells clients to; and
    how many times it had to."""
    for again in range(RETRIES_1013 + 1):
        socket = await connect(url, max_queue=None, open_timeout=60)
        try:
            await socket.send(json.dumps({"type": "auth", "token": token, "tenant_id": tenant}))
            for expected in ("ready", "subscribed"):
                while (frame := json.loads(await socket.recv()))["type"] == "heartbeat":
                    pass
                if frame["type"] != expected:
                    raise RuntimeError(f"expected {expected}, got {frame}")
                if expected == "ready":
                    await socket.send(json.dumps({"type": "subscribe", "channels": ["invoices"]}))
        except ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != TRY_AGAIN:
                raise
            await asyncio.sleep(1.0)
            continue
        return socket, SocketLog({}), again
    raise RuntimeError(f"closed 1013 {RETRIES_1013 + 1} times")


async def _read(socket: ClientConnection, log: SocketLog) -> None:
    async for message in socket:
        arrived = time.time_ns()
        frame = json.loads(message)
        if frame.get("event") != EVENT:
            continue
        subject = frame["subject"]["id"]
        if subject in log.received:
            log.duplicates += 1
        else:
            log.received[subject] = (arrived, uuid7_ns(frame["id"]))


async def _client(pipe: Connection, url: str, token: str, tenant: str, count: int) -> None:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def opened() -> tuple[ClientConnection, SocketLog, int]:
        async with gate:
            return await _open(url, token, tenant)

    triples = await asyncio.gather(*(opened() for _ in range(count)))
    pairs = [(socket, log) for socket, log, _ in triples]
    readers = [asyncio.create_task(_read(socket, log)) for socket, log in pairs]
    cpu_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    pipe.send(("ready", sum(again for _, _, again in triples)))
    sent: dict[str, int] = await loop.run_in_executor(None, pipe.recv)
    for _ in range(int(DRAIN_SECONDS / DRAIN_POLL_SECONDS)):
        if all(len(log.received) >= len(sent) for _, log in pairs):
            break
        await asyncio.sleep(DRAIN_POLL_SECONDS)
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_before
    from_response, from_event = array.array("d"), array.array("d")
    per_socket, duplicates, unexpected = [], 0, 0
    for _, log in pairs:
        got = 0
        for subject, (arrived, event_ns) in log.received.items():
            if subject not in sent:
                unexpected += 1
                continue
            got += 1
            from_response.append((arrived - sent[subject]) / 1e6)
            from_event.append((arrived - event_ns) / 1e6)
        per_socket.append(got)
        duplicates += log.duplicates
    for task in readers:
        task.cancel()
    await asyncio.gather(*(socket.close() for socket, _ in pairs), return_exceptions=True)
    pipe.send((from_response, from_event, per_socket, duplicates, unexpected, cpu))


def client_process(pipe: Connection, url: str, token: str, tenant: str, count: int) -> None:
    """One client process: `count` subscribed sockets; reports through `pipe`."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(pipe, url, token, tenant, count))


# --- seeding, driving, measuring ------------------------------------------------------


async def seed(admin_dsn: str, tenant: UUID, count: int) -> list[UUID]:
    """`count` submitted invoices at version 2 (and their vendors), by COPY."""
    rng = random.Random(23)
    vendors, vendor_records = vendor_rows(rng, tenant, VENDORS)
    rows = list(
        invoice_rows(
            rng,
            tenant,
            vendors,
            count,
            shapes(rng),
            issue_and_due_dates(),
            lines=2,
            status="submitted",
            version=APPROVE_VERSION,
            prefix="LIVE",
        )
    )
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.copy_records_to_table("vendors", records=vendor_records, columns=VENDOR_COLUMNS)
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
    return [invoice[1] for invoice, _ in rows]


async def drive(
    client: httpx.AsyncClient, headers: dict[str, str], invoices: Sequence[UUID]
) -> tuple[dict[str, int], Counter[int], float]:
    """Approve RATE invoices a second on a fixed schedule; the 200s' arrival times (ns)
    by invoice id, the other answers by status, and how late the latest one started (s)."""
    approved: dict[str, int] = {}
    failed: Counter[int] = Counter()
    lag = 0.0
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def approve(invoice: UUID) -> None:
        answer = await client.post(
            f"/api/v1/invoices/{invoice}/approve",
            headers={**headers, "If-Match": f'"{APPROVE_VERSION}"'},
        )
        if answer.status_code == 200:
            approved[str(invoice)] = time.time_ns()
        else:
            failed[answer.status_code] += 1

    tasks = []
    for n, invoice in enumerate(invoices):
        due = started + n / RATE
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            lag = max(lag, -wait)
        tasks.append(asyncio.create_task(approve(invoice)))
    await asyncio.gather(*tasks)
    return approved, failed, lag


def worker_pids(server: int) -> list[int]:
    for _ in range(600):
        workers = [
            child.pid
            for child in psutil.Process(server).children()
            if "resource_tracker" not in " ".join(child.cmdline())
        ]
        if len(workers) == WORKERS:
            return workers
        time.sleep(0.1)
    raise RuntimeError(f"{server} has not started {WORKERS} workers")


def sockets_by_worker(workers: Sequence[int], port: int) -> dict[int, int]:
    """Each worker's established TCP connections on the server port."""
    return {
        pid: sum(
            1
            for connection in psutil.Process(pid).net_connections("tcp")
            if connection.status == psutil.CONN_ESTABLISHED
            and connection.laddr
            and connection.laddr.port == port
        )
        for pid in workers
    }


def cpu_seconds(pids: Sequence[int]) -> float:
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(port: int, server: int, admin_dsn: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(
        base_url=base, timeout=60, limits=httpx.Limits(max_connections=32)
    ) as client:
        tenant = await sign_up(client, "Live", "live")
        invoices = await seed(admin_dsn, UUID(tenant.tenant_id), RATE * SECONDS)
        workers = worker_pids(server)
        context = multiprocessing.get_context("spawn")
        pipes, processes = [], []
        url = f"ws://127.0.0.1:{port}/api/v1/ws"
        for n in range(CLIENTS):
            count = SOCKETS // CLIENTS + (1 if n < SOCKETS % CLIENTS else 0)
            ours, theirs = context.Pipe()
            process = context.Process(
                target=client_process,
                args=(theirs, url, tenant.access_token, tenant.tenant_id, count),
                daemon=True,  # ended with this process, should it fail
            )
            process.start()
            pipes.append(ours)
            processes.append(process)
        loop = asyncio.get_running_loop()
        opening = time.perf_counter()
        reconnected = 0
        for pipe in pipes:
            message, again = await loop.run_in_executor(None, pipe.recv)
            assert message == "ready"
            reconnected += again
        figures["open_s"] = time.perf_counter() - opening
        figures["by_worker"] = sockets_by_worker(workers, port)
        spread = ", ".join(f"pid {pid}: {n:,}" for pid, n in figures["by_worker"].items())
        print(
            f"  {SOCKETS:,} sockets opened, authenticated and subscribed in"
            f" {figures['open_s']:.1f} s by {CLIENTS} client processes ({reconnected:,}"
            f" connected again after a close 1013); established per worker: {spread}",
            flush=True,
        )
        figures["load_before"] = os.getloadavg()
        psutil.cpu_percent()
        server_cpu = cpu_seconds(workers)
        driving = time.perf_counter()
        approved, failed, lag = await drive(client, tenant.headers, invoices)
        figures["drive_s"] = time.perf_counter() - driving
        for pipe in pipes:
            pipe.send(approved)
        results = [await loop.run_in_executor(None, pipe.recv) for pipe in pipes]
        figures["wall_s"] = time.perf_counter() - driving
        figures["server_cpu_s"] = cpu_seconds(workers) - server_cpu
        figures["machine_cpu_percent"] = psutil.cpu_percent()
        figures["load_after"] = os.getloadavg()
        for process in processes:
            process.join(timeout=60)
    figures.update(approved=len(approved), failed=failed, lag_s=lag)
    from_response: list[float] = []
    from_event: list[float] = []
    per_socket: list[int] = []
    duplicates = unexpected = 0
    client_cpu = []
    for responses, events, counts, doubled, stray, cpu in results:
        from_response.extend(responses)
        from_event.extend(events)
        per_socket.extend(counts)
        duplicates += doubled
        unexpected += stray
        client_cpu.append(cpu)
    figures.update(
        from_response=sorted(from_response),
        from_event=sorted(from_event),
        per_socket=per_socket,
        duplicates=duplicates,
        unexpected=unexpected,
        client_cpu_s=client_cpu,
    )
    return figures


def raise_open_files_limit() -> None:
    """The servers' workers and the client processes inherit it: 1,000 sockets each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65_536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def run() -> dict[str, Any]:
    raise_open_files_limit()
    with admin_url() as admin, tempfile.TemporaryDirectory(prefix="bench-live-data-") as data:
        settings = await fresh_database(admin, DATABASE)
        assert settings.database_url is not None
        port = free_port()
        environment = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": SECRET_KEY,
            "DATA_DIR": data,
            "LOG_LEVEL": "WARNING",
            "ACCESS_TOKEN_TTL_SECONDS": "86400",  # the one token outlives the benchmark
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_STORAGE_URL": "",
            "RATE_LIMIT_DEFAULT": "1000000/minute",
        }
        command = [sys.executable, "-m", "ledgerline", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(WORKERS)]
        with running(command, environment) as server:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_until_serving(client, "/health", server)
            dsn = asyncpg_dsn(admin.set(database=DATABASE))
            return await measure(port, server.pid, dsn)


def _latencies(label: str, ordered: Sequence[float]) -> None:
    if not ordered:
        print(f"  {label}: no receipts")
        return
    negative = sum(1 for value in ordered if value < 0)
    print(
        f"  {label}: p50 {percentile(ordered, 0.50):.1f} ms, p90 {percentile(ordered, 0.90):.1f}"
        f" ms, p99 {percentile(ordered, 0.99):.1f} ms, max {ordered[-1]:.1f} ms"
        f" ({len(ordered):,} receipts, {negative:,} before the response)"
    )


def report(figures: dict[str, Any]) -> None:
    print(
        f"  approvals: {figures['approved']:,} committed (200), other answers"
        f" {dict(figures['failed']) or 'none'}, in {figures['drive_s']:.1f} s"
        f" (schedule {SECONDS} s at {RATE}/s;"
        f" latest start {1000 * figures['lag_s']:.0f} ms behind it)"
    )
    counts: list[int] = figures["per_socket"]
    missing = sum(figures["approved"] - count for count in counts)
    print(
        f"  events per socket: expected {figures['approved']:,}, received min {min(counts):,}"
        f" max {max(counts):,}; missing in all {missing:,}, duplicates"
        f" {figures['duplicates']:,}, not approved by the driver {figures['unexpected']:,}"
    )
    _latencies("from the approve response's arrival", figures["from_response"])
    _latencies("from the event id's timestamp (emit)", figures["from_event"])
    wall = figures["wall_s"]
    clients = ", ".join(f"{100 * cpu / wall:.0f}%" for cpu in figures["client_cpu_s"])
    print(
        f"  processor time over the {wall:.1f} s of driving and draining: server workers"
        f" {100 * figures['server_cpu_s'] / wall:.0f}% of one core, client processes"
        f" {clients}; machine {figures['machine_cpu_percent']:.0f}% of"
        f" {psutil.cpu_count()} cores"
    )
    before, after = figures["load_before"], figures["load_after"]
    print(
        f"  load average: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f} before,"
        f" {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} after"
    )


def main() -> None:
    print(
        f"live: ledgerline serve --workers {WORKERS}, {SOCKETS:,} WebSockets on `invoices`,"
        f" {RATE} approvals/s for {SECONDS} s"
    )
    report(asyncio.run(run()))
