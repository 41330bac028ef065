"""Operations against a real `ledgerline serve --workers 2` (one process for the module):
/metrics only on its own listener and with the token, every worker's figures added up
whichever worker answers, spans exported to an OTLP collector, JSON logs without colour
codes, and metrics that still answer when PostgreSQL is gone."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.service_process import ServiceProcess, free_port

TOKEN = "scrape-" + "y" * 32
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}
HEALTH_REQUESTS = 24


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver on loopback: keeps every span it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiveSpans)
        self.spans: list[tuple[str, str, dict[str, str]]] = []  # (scope, name, attributes)
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ReceiveSpans(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource in request.resource_spans:
                for scoped in resource.scope_spans:
                    for span in scoped.spans:
                        attributes = {a.key: a.value.string_value for a in span.attributes}
                        self.server.spans.append((scoped.scope.name, span.name, attributes))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, collector: Collector
) -> Iterator[tuple[ServiceProcess, str]]:
    metrics_port = free_port()
    running = ServiceProcess(
        tmp_path_factory.mktemp("operations") / "serve.log",
        workers=2,
        METRICS_TOKEN=TOKEN,
        METRICS_ADDRESS=f"127.0.0.1:{metrics_port}",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_SERVICE_NAME="ledgerline-test",
        # FastAPI's own exporters stay off even when asked for: spans would go out twice.
        FASTAPI_OTEL_AUTO_CONFIGURE="true",
    )
    try:
        yield running, f"http://127.0.0.1:{metrics_port}"
    finally:
        running.stop()


def scrape(metrics_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = httpx.get(f"{metrics_url}/metrics", headers=SCRAPER, timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_are_served_only_on_their_listener_and_with_the_token(
    service: tuple[ServiceProcess, str],
) -> None:
    running, metrics_url = service
    on_api_port = httpx.get(f"{running.base_url}/metrics", headers=SCRAPER)
    assert on_api_port.status_code == 404
    assert httpx.get(f"{metrics_url}/metrics").status_code == 401
    api_on_metrics_port = httpx.get(f"{metrics_url}/health")
    assert api_on_metrics_port.status_code == 404
    assert api_on_metrics_port.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{running.base_url}/health").status_code == 200


def test_every_worker_s_requests_are_counted_whichever_worker_answers(
    service: tuple[ServiceProcess, str],
) -> None:
    running, metrics_url = service
    for _ in range(HEALTH_REQUESTS):  # a new connection each: both workers take some
        assert httpx.get(f"{running.base_url}/health").status_code == 200
    labels = frozenset({"method": "GET", "route": "/health", "status": "200"}.items())
    # /health was asked only here (and once by the test before), so the sum is known.
    counts = {scrape(metrics_url)[("ledgerline_http_requests_total", labels)] for _ in range(8)}
    assert counts == {HEALTH_REQUESTS + 1}, counts
    workers_files = list((running.root / "data" / "metrics").glob("counter_*.db"))
    assert len(workers_files) == 2, workers_files
    samples = scrape(metrics_url)
    in_use_and_idle = sum(
        samples[("ledgerline_db_pool_connections", frozenset({("pool", "runtime"), ("state", s)}))]
        for s in ("in_use", "idle")
    )
    assert in_use_and_idle >= 2  # every worker's pool, not one


def test_requests_sql_and_driver_calls_are_traced(
    service: tuple[ServiceProcess, str], collector: Collector
) -> None:
    running, _ = service
    signup = httpx.post(
        f"{running.base_url}/api/v1/auth/signup",
        json={
            "tenant": {"name": "Traced", "slug": "traced"},
            "owner": {
                "email": "olive@traced.example.com",
                "password": "a long and unusual passphrase 7",
                "full_name": "Olive Owner",
            },
        },
        timeout=30,
    )
    assert signup.status_code == 201, signup.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with collector.lock:
            spans = list(collector.spans)
        scopes = {scope for scope, _, _ in spans}
        if {
            "opentelemetry.instrumentation.sqlalchemy",
            "opentelemetry.instrumentation.asyncpg",
        } <= (scopes) and any(name == "POST /api/v1/auth/signup" for _, name, _ in spans):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"spans received: {sorted({(s, n) for s, n, _ in spans})[:40]}")
    time.sleep(1)  # a second exporter's copy would have arrived by now
    with collector.lock:
        spans = list(collector.spans)
    (request_span,) = [a for _, n, a in spans if n == "POST /api/v1/auth/signup"]
    assert request_span["http.route"] == "/api/v1/auth/signup"
    assert any(
        a.get("db.system") == "postgresql" or a.get("db.system.name") == "postgresql"
        for s, _, a in spans
        if s == "opentelemetry.instrumentation.sqlalchemy"
    )


def test_logs_are_json_lines_without_colour_codes(service: tuple[ServiceProcess, str]) -> None:
    """uvicorn's own lines too (its listeners, both of them, and its workers), which carry
    a `color_message` with terminal codes."""
    running, _ = service
    entries = [json.loads(line) for line in running.log_lines() if line.startswith("{")]
    running_on = [e for e in entries if e["message"].startswith("Uvicorn running on")]
    assert len(running_on) == 2, running_on  # the API's listener and the metrics one
    assert any(e["message"].startswith("Started server process") for e in entries)
    assert not [e for e in entries if "color_message" in e]
    assert not [line for line in running.log_lines() if "\x1b" in line or "\\u001b" in line]


def test_metrics_still_answer_when_the_database_is_gone(
    service: tuple[ServiceProcess, str],
) -> None:
    """Last in the module: it kills the service's PostgreSQL."""
    running, metrics_url = service
    running.postgres.kill()
    samples = scrape(metrics_url)
    assert samples[("ledgerline_database_up", frozenset())] == 0
    assert not any(name == "ledgerline_jobs" for name, _ in samples)
    health = frozenset({"method": "GET", "route": "/health", "status": "200"}.items())
    assert samples[("ledgerline_http_requests_total", health)] >= HEALTH_REQUESTS
