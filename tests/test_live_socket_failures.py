"""Failed credentials on the live socket count toward the same limit as failed
credentials over HTTP (its address and the tenant it claims), against a real one-worker
`ledgerline serve` (one worker: in-memory counts are per process)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.helpers.http import API, problem_code
from tests.helpers.identity import signup
from tests.helpers.service_process import ServiceProcess

LIMIT = 3


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    running = ServiceProcess(
        tmp_path_factory.mktemp("live-limits") / "serve.log", 1, RATE_LIMIT_AUTH=f"{LIMIT}/minute"
    )
    try:
        yield running
    finally:
        running.stop()


async def _closed_with(url: str, subprotocols: list[str]) -> tuple[int, str]:
    async with websockets.connect(url, subprotocols=subprotocols) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_failed_socket_credentials_count_toward_the_http_limit(
    service: ServiceProcess,
) -> None:
    url = service.base_url.replace("http://", "ws://") + f"{API}/ws"
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        owner = await signup(http, "socket-limits")
        tenant = f"tenant.{owner.tenant_id}"
        bad = ["ledgerline", f"bearer.{owner.access_token[:-4]}AAAA", tenant]
        reasons = [await _closed_with(url, bad) for _ in range(LIMIT + 1)]
        assert [code for code, _ in reasons] == [4401] * (LIMIT + 1)
        assert reasons[-1][1] == "failed_credentials_limited"
        assert {reason for _, reason in reasons[:LIMIT]} == {"invalid_token"}

        # HTTP sees the socket's failures: its first bad credential is already past the limit.
        junk = await http.get(
            f"{API}/invoices",
            headers={"Authorization": "Bearer junk", "X-Tenant-ID": str(owner.tenant_id)},
        )
        assert junk.status_code == 429
        assert problem_code(junk) == "failed_credentials_limited"

        # A credential that verifies is never refused for anyone's failures.
        good = ["ledgerline", f"bearer.{owner.access_token}", tenant]
        async with websockets.connect(url, subprotocols=good) as socket:
            assert json.loads(await socket.recv())["type"] == "ready"
