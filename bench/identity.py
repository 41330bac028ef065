"""Login throughput, and whether password hashing stalls other requests.

A real uvicorn server process on loopback with the production argon2id cost (m=19456 KiB, t=2,
p=1). First `GET /users/me` alone (the reference latency); then the same GET while
LOGIN_CONCURRENCY clients log in as fast as they can. Hashing runs in threads off the
event loop, so the GET's p99 under load should stay near the reference, not near the
~17 ms of a hash.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time

import httpx

from bench.database import admin_url, fresh_database
from bench.server import PASSWORD, free_port, running, sign_up, wait_until_serving

LOGIN_CONCURRENCY = 8
LOAD_SECONDS = 8.0
REFERENCE_GETS = 400


def _percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


async def _timed_gets(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    stop: asyncio.Event,
    limit: int | None = None,
) -> list[float]:
    samples: list[float] = []
    while not stop.is_set() and (limit is None or len(samples) < limit):
        started = time.perf_counter()
        response = await client.get("/api/v1/users/me", headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return samples


async def _login_loop(client: httpx.AsyncClient, tenant: str, stop: asyncio.Event) -> int:
    count = 0
    while not stop.is_set():
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": "owner@bench.example.com", "password": PASSWORD},
            headers={"X-Tenant-ID": tenant},
        )
        assert response.status_code == 200, response.text
        count += 1
    return count


async def run() -> dict[str, float]:
    with admin_url() as admin:
        settings = await fresh_database(admin, "ledgerline_bench_identity")
        assert settings.database_url is not None
        port = free_port()
        environment = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "DATABASE_POOL_SIZE": "20",
            "LOCKOUT_THRESHOLD": "100",
            # Measures hashing and the event loop, not the limiter (which would stop it).
            "RATE_LIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "ledgerline.app:app_from_environment",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        with running(command, environment) as server:
            return await _measure(port, server)


async def _measure(port: int, server: subprocess.Popen[bytes]) -> dict[str, float]:
    limits = httpx.Limits(max_connections=LOGIN_CONCURRENCY + 4)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        await wait_until_serving(client, "/health", server)
        headers = (await sign_up(client, "Bench", "bench")).headers
        never = asyncio.Event()
        await _timed_gets(client, headers, never, 50)  # warm up
        alone = await _timed_gets(client, headers, never, REFERENCE_GETS)

        stop = asyncio.Event()
        logins = [
            asyncio.create_task(_login_loop(client, "bench", stop))
            for _ in range(LOGIN_CONCURRENCY)
        ]
        probe = asyncio.create_task(_timed_gets(client, headers, stop))
        started = time.perf_counter()
        await asyncio.sleep(LOAD_SECONDS)
        stop.set()
        login_count = sum(await asyncio.gather(*logins))
        elapsed = time.perf_counter() - started
        loaded = await probe
    return {
        "logins_per_second": login_count / elapsed,
        "alone_p50": _percentile(alone, 50),
        "alone_p99": _percentile(alone, 99),
        "loaded_p50": _percentile(loaded, 50),
        "loaded_p99": _percentile(loaded, 99),
    }


def main() -> None:
    figures = asyncio.run(run())
    print(f"identity: logins with argon2id m=19456 KiB t=2 p=1, {LOGIN_CONCURRENCY} clients")
    print(f"  login throughput                {figures['logins_per_second']:7.1f} logins/s")
    for label, key in (("alone", "alone"), ("beside logins", "loaded")):
        p50, p99 = figures[f"{key}_p50"], figures[f"{key}_p99"]
        print(f"  GET /users/me {label:<17} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    print(f"  p99 under login load / alone    {figures['loaded_p99'] / figures['alone_p99']:6.2f}x")
