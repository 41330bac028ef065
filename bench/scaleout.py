"""Throughput and p99 with 1, 2 and 4 API processes behind PgBouncer, on this machine.

`ledgerline serve --workers N` (N = 1, 2, 4; BENCH_SCALEOUT_WORKERS to choose) with
DATABASE_URL through PgBouncer in transaction mode (DATABASE_TRANSACTION_POOLER=true,
migrations on DATABASE_DIRECT_URL), rate limits counted on Redis, no in-process jobs;
one embedded PostgreSQL. A tenant is signed up through the API and its vendors and
invoices seeded with COPY (bench/http.py's seed). For each N, wrk (bench/wrk.lua, one
thread, BENCH_SCALEOUT_CONNECTIONS connections, default 64) measures the hot read
`GET /invoices/{id}` and the write `POST /invoices` (with Idempotency-Key) for
BENCH_SCALEOUT_SECONDS (5) each after a one-second warm-up. Printed: req/s, p50 and p99,
and responses other than 2xx.

Needs wrk, pgbouncer and redis-server (apt-get); without one the benchmark says so and
is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
from sqlalchemy.engine import URL

from bench.database import admin_url, fresh_database
from bench.http import seed
from bench.server import free_port, running, sign_up, wait_until_serving
from ledgerline.db.roles import asyncpg_dsn

DATABASE = "ledgerline_bench_scaleout"
WORKERS = [int(n) for n in os.environ.get("BENCH_SCALEOUT_WORKERS", "1,2,4").split(",")]
SECONDS = int(os.environ.get("BENCH_SCALEOUT_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_SCALEOUT_CONNECTIONS", "64"))
# PgBouncer's server connections per database and role; each process's client pool.
SERVER_POOL = 20
CLIENT_POOL = 10
LUA = Path(__file__).with_name("wrk.lua")
SECRET_KEY = "bench-scaleout-signing-key-0123456789abcdef"  # noqa: S105
EMBEDDED_SYSTEM_USER = "embedded_postgres"
Figure = tuple[int, str, dict[str, float]]


def start_pgbouncer(folder: Path, socket_dir: str, port: int) -> subprocess.Popen[bytes]:
    users = "".join(
        f'"{role}" ""\n' for role in ("ledgerline_owner", "ledgerline_app", "ledgerline_platform")
    )
    (folder / "users.txt").write_text(users)
    as_root = os.geteuid() == 0
    lines = [
        "[databases]",
        f"* = host={socket_dir} port=5432",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {folder / 'users.txt'}",
        "pool_mode = transaction",
        "max_client_conn = 2000",
        f"default_pool_size = {SERVER_POOL}",
        "server_reset_query =",
        f"logfile = {folder / 'pgbouncer.log'}",
        *([f"user = {EMBEDDED_SYSTEM_USER}"] if as_root else []),
    ]
    (folder / "pgbouncer.ini").write_text("\n".join(lines) + "\n")
    if as_root:
        for path in (folder, *folder.iterdir()):
            shutil.chown(path, EMBEDDED_SYSTEM_USER)
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    return subprocess.Popen(  # noqa: S603
        [binary, str(folder / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Load:
    port: int
    token: str
    tenant: str

    async def wrk(self, mode: str, path: str, ids: Path, tag: str) -> dict[str, float]:
        """A one-second warm-up, then SECONDS measured."""
        environment = {
            **os.environ,
            "BENCH_WRK_TOKEN": self.token,
            "BENCH_WRK_TENANT": self.tenant,
            "BENCH_WRK_MODE": mode,
            "BENCH_WRK_PATH": path,
            "BENCH_WRK_IDS": str(ids),
            "BENCH_WRK_IDEMPOTENCY": "1",
        }
        results: dict[str, float] = {}
        for seconds in (1, SECONDS):
            process = await asyncio.create_subprocess_exec(
                *("wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"),
                *("-s", str(LUA), f"http://127.0.0.1:{self.port}{path}"),
                env={**environment, "BENCH_WRK_TAG": f"{tag}-{seconds}"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, _ = await process.communicate()
            line = next(x for x in out.decode().splitlines() if x.startswith("BENCH_WRK "))
            results = json.loads(line.removeprefix("BENCH_WRK "))
        return {
            "rate": results["requests"] / (results["duration_us"] / 1e6),
            "p50_ms": results["p50_us"] / 1000,
            "p99_ms": results["p99_us"] / 1000,
            "non_2xx": results["status"] + results["timeout"] + results["connect"],
        }


async def run(admin: URL, folder: Path, bouncer_port: int, redis_port: int) -> list[Figure]:
    figures: list[Figure] = []
    settings = await fresh_database(admin, DATABASE)
    assert settings.database_url is not None
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgresql://ledgerline_owner@127.0.0.1:{bouncer_port}/{DATABASE}",
        "DATABASE_DIRECT_URL": settings.database_url,
        "DATABASE_TRANSACTION_POOLER": "true",
        "DATABASE_POOL_SIZE": str(CLIENT_POOL),
        "DATABASE_MAX_OVERFLOW": str(CLIENT_POOL),
        "SERVE_RUNS_JOBS": "false",
        "RATE_LIMIT_STORAGE_URL": f"redis://127.0.0.1:{redis_port}/0",
        "RATE_LIMIT_DEFAULT": "10000000/minute",
        "SECRET_KEY": SECRET_KEY,
        "DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_TTL_SECONDS": "86400",
    }
    tenant = None
    files: dict[str, Path] = {}
    for workers in WORKERS:
        port = free_port()
        command = [sys.executable, "-m", "ledgerline", "serve", "--workers", str(workers)]
        with running([*command, "--port", str(port)], environment) as process:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_until_serving(client, "/health", process, 120)
                await asyncio.sleep(2)  # every worker up
                if tenant is None:
                    tenant = await sign_up(client, "Scale Out", "scaleout")
                    ids = await seed(  # it reads and creates: nothing to approve
                        asyncpg_dsn(admin.set(database=DATABASE)), UUID(tenant.tenant_id), 0
                    )
                    for name in ("invoices", "vendors"):
                        files[name] = folder / f"{name}.txt"
                        values = random.Random(name).sample(ids[name], len(ids[name]))
                        files[name].write_text("".join(f"{v}\n" for v in values))
            load = Load(port, tenant.access_token, tenant.tenant_id)
            read = await load.wrk("ids", "/api/v1/invoices/", files["invoices"], f"R{workers}")
            write = await load.wrk("create", "/api/v1/invoices", files["vendors"], f"W{workers}")
            figures += [(workers, "GET /invoices/{id}", read), (workers, "POST /invoices", write)]
            print(f"  {workers} process(es) measured", flush=True)
    return figures


def main() -> None:
    print(f"scaleout: serve --workers N behind PgBouncer, Redis limits, wrk -c{CONNECTIONS}")
    missing = [tool for tool in ("wrk", "redis-server") if shutil.which(tool) is None]
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        missing.append("pgbouncer")
    if missing:
        print(f"  skipped: {', '.join(missing)} not installed (apt-get install ...)")
        return
    with admin_url() as admin, tempfile.TemporaryDirectory(prefix="bench-scaleout-") as scratch:
        folder = Path(scratch)
        folder.chmod(0o755)
        (folder / "bouncer").mkdir()
        bouncer_port, redis_port = free_port(), free_port()
        bouncer = start_pgbouncer(folder / "bouncer", str(admin.query["host"]), bouncer_port)
        redis = subprocess.Popen(  # noqa: S603
            [
                *(shutil.which("redis-server") or "redis-server", "--port", str(redis_port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            figures = asyncio.run(run(admin, folder, bouncer_port, redis_port))
        finally:
            bouncer.terminate()
            redis.terminate()
            bouncer.wait(timeout=10)
            redis.wait(timeout=10)
    for workers, endpoint, figure in figures:
        print(
            f"  {workers} process(es)  {endpoint:<20} {figure['rate']:>8,.0f} req/s"
            f"  p50 {figure['p50_ms']:6.1f} ms  p99 {figure['p99_ms']:6.1f} ms"
            f"  non-2xx {figure['non_2xx']:.0f}"
        )
