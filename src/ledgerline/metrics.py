"""Prometheus metrics of the process: requests, database pools, sign-in failures.

Per request the middleware makes one `record_request` call: a counter and a histogram
observation under the route's template (`/api/v1/invoices/{invoice_id}`, never the
path itself, so ids do not become label values; requests no route matched share
`unmatched`). Sign-in failures and lockouts are counted where the audit trail records
them (`count_audited`). The pools' connections in use and idle are sampled, not
counted per checkout.

With several worker processes (`serve --workers N`), `serve` points
PROMETHEUS_MULTIPROC_DIR at an empty folder before the workers start: each worker then
keeps its figures in files there and whichever worker answers a scrape adds up all of
them (prometheus-client's multiprocess mode). Alone, a process serves its own registry,
with the client's process and Python collectors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "ledgerline_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "ledgerline_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LOGIN_FAILURES = Counter(
    "ledgerline_login_failures",
    "Failed sign-ins (password, sign-in code, current password), by realm and reason.",
    ["realm", "reason"],
)
LOCKOUTS = Counter(
    "ledgerline_account_lockouts", "Accounts locked after repeated failures, by realm.", ["realm"]
)
POOL_CONNECTIONS = Gauge(
    "ledgerline_db_pool_connections",
    "Connections of the database pools, in use or idle, by pool (runtime or platform).",
    ["pool", "state"],
    multiprocess_mode="livesum",
)

# Audit actions that are sign-in failures or lockouts (`count_audited`).
_FAILURE_ACTIONS = {"auth.login_failed": None, "user.password_change_failed": "bad_password"}
_LOCKOUT_ACTION = "auth.account_locked"


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_ENV))


# Route (by identity) -> its full template. FastAPI puts the included router's own route
# in the scope, whose path lacks the prefix it was included under; the app names them
# here once (`name_routes`).
_TEMPLATES: dict[int, str] = {}


def name_routes(routes: Iterable[object], prefix: str = "") -> None:
    """Record the full template of each of a router's routes, included under `prefix`."""
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            _TEMPLATES[id(route)] = prefix + path


def route_template(scope: Mapping[str, Any]) -> str:
    """The path template of the route that handled the request, or `unmatched`."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    template = _TEMPLATES.get(id(route))
    if template is None:
        path = getattr(route, "path", None)
        template = path if isinstance(path, str) else UNMATCHED_ROUTE
    return template


# Methods that name a label of their own; any other a client sends is counted as OTHER, so
# made-up methods cannot grow the series without bound.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# (method, route, status) -> that series' counter and histogram children. Looking a child
# up by labels costs more than counting (a lock, checks, a tuple): this keeps it to a
# dict lookup per request. Bounded: routes are templates, methods and statuses few.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        if method not in _METHODS:
            method = "OTHER"
        series = (
            REQUESTS.labels(method, route, str(status)),
            REQUEST_DURATION.labels(method, route),
        )
        if key[0] in _METHODS:
            _SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


def count_audited(realm: str, action: str, changes: Mapping[str, Any] | None) -> None:
    """Count what the audit trail records as a sign-in failure or a lockout."""
    if action in _FAILURE_ACTIONS:
        reason = _FAILURE_ACTIONS[action] or str((changes or {}).get("reason", "bad_credentials"))
        LOGIN_FAILURES.labels(realm, reason).inc()
    elif action == _LOCKOUT_ACTION:
        LOCKOUTS.labels(realm).inc()


def sample_pools(engines: Mapping[str, AsyncEngine]) -> None:
    """Set the pool gauges from this process's engines."""
    for name, engine in engines.items():
        pool = engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            POOL_CONNECTIONS.labels(name, "in_use").set(pool.checkedout())
            POOL_CONNECTIONS.labels(name, "idle").set(pool.checkedin())


def process_exited() -> None:
    """In multiprocess mode, drop this process's live gauges (its pools are gone)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """Every metric in Prometheus's text format: this process's (or, in multiprocess mode,
    every worker's), then the `extra` collectors'."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    extra_registry = CollectorRegistry()
    for collector in extra:
        extra_registry.register(collector)
    return text + generate_latest(extra_registry)
