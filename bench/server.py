"""Server processes on loopback for benchmarks, and the tenant they sign up."""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long and unusual passphrase 7"  # noqa: S105 - the bench users'


def serve_factory(module: str, factory: str, description: str | None) -> None:
    """`python -m <module> --port N [--host H] [--workers W]`: the app of `factory`
    served as `ledgerline serve` serves the app (`uvicorn.run` of a factory, the loop and
    HTTP implementation left to uvicorn, no access log, proxy headers or server header)."""
    import uvicorn

    from ledgerline.config import Settings
    from ledgerline.log import configure_logging

    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    configure_logging(Settings().log_level)
    uvicorn.run(
        f"{module}:{factory}",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(
    command: Sequence[str], environment: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` started from the repository's root; stopped (SIGTERM, then SIGKILL) on exit."""
    process = subprocess.Popen(list(command), env=dict(environment), cwd=ROOT)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def wait_until_serving(
    client: httpx.AsyncClient,
    path: str,
    process: subprocess.Popen[bytes],
    timeout_s: float = 60.0,
) -> None:
    """Poll `path` until it answers; fail at once should the server process exit."""
    for _ in range(int(timeout_s * 10)):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with status {process.returncode}")
        try:
            await client.get(path)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not answer {path} within {timeout_s:.0f} s")


@dataclass(frozen=True, slots=True)
class SignedUp:
    tenant_id: str
    user_id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "X-Tenant-ID": self.tenant_id}


async def sign_up(client: httpx.AsyncClient, name: str, slug: str) -> SignedUp:
    """A tenant and its owner `owner@<slug>.example.com`, through `POST /auth/signup`."""
    response = await client.post(
        "/api/v1/auth/signup",
        json={
            "tenant": {"name": name, "slug": slug},
            "owner": {
                "email": f"owner@{slug}.example.com",
                "password": PASSWORD,
                "full_name": f"{name} Owner",
            },
        },
    )
    assert response.status_code == 201, (response.status_code, response.text)
    body = response.json()
    return SignedUp(body["tenant"]["id"], body["user"]["id"], body["tokens"]["access_token"])
