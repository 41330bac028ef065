"""Rate limits: per client address on the sign-in endpoints, per caller elsewhere.

Counts live in an async storage of the `limits` library, sliding-window-counter
strategy (two counters per key, the previous window's weighted by how much of it the
window still covers: constant work a request, where the moving window keeps a timestamp
per request and measured 75 us a request at a high limit): this process's memory by
default, or Redis (RATE_LIMIT_STORAGE_URL=redis://host:port/db),
which every worker process shares, so `serve --workers N` counts each caller once.
Two places apply the limits:
- `limit_sign_in` (a dependency of signup, login, refresh, sign-out): by client address,
  RATE_LIMIT_AUTH;
- the tenant-request dependency, once it knows the caller: by user, API key or admin,
  with the tenant plan's limit from RATE_LIMIT_PLANS, else RATE_LIMIT_DEFAULT;
and `count_failed_credential` counts credentials that did not verify, per address and
per claimed tenant, under RATE_LIMIT_AUTH.
Over the limit: 429 problem+json with Retry-After. Within it, the response carries
RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds).

When Redis fails (down, refusing, or slower than RATE_LIMIT_STORAGE_TIMEOUT_SECONDS) the
request goes through uncounted, having waited on it once (not once per limit): an
outage of the limiter must not become an outage of the API. A warning says so at most
once a minute per process.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from ledgerline.config import Settings
from ledgerline.problems import Problem

logger = logging.getLogger("ledgerline.ratelimit")

# Redis keys of the counts start with this.
KEY_PREFIX = "ledgerline"
# While the storage fails, a warning at most this often (per process).
OUTAGE_LOG_INTERVAL_SECONDS = 60.0
# What a failing storage raises; the request then goes through uncounted.
STORAGE_ERRORS = (RedisError, OSError)


@dataclass(frozen=True, slots=True)
class Allowance:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


class OutageLog:
    """Logs a failing storage once per interval, not once per request, and its return."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._last_warning: float | None = None
        self._uncounted = 0
        self._failing = False

    def failed(self, error: Exception) -> None:
        self._uncounted += 1
        self._failing = True
        now = time.monotonic()
        if self._last_warning is None or now - self._last_warning >= self.interval_seconds:
            self._last_warning = now
            logger.warning(
                "rate-limit storage unavailable, requests go through uncounted: %s: %s",
                type(error).__name__,
                error,
                extra={"uncounted_requests": self._uncounted},
            )

    def succeeded(self) -> None:
        if self._failing:
            logger.info(
                "rate-limit storage is back, counting again",
                extra={"uncounted_requests": self._uncounted},
            )
            self._failing = False
            self._uncounted = 0


def redis_pool(settings: Settings) -> ConnectionPool:
    """Connections to the Redis of RATE_LIMIT_STORAGE_URL, connecting and each command
    bounded by RATE_LIMIT_STORAGE_TIMEOUT_SECONDS. (A pool's connections are not retried:
    a failure lets the request through at once.)"""
    timeout = settings.rate_limit_storage_timeout_seconds
    return ConnectionPool.from_url(
        settings.rate_limit_storage_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._redis: ConnectionPool | None = None
        storage: Storage
        if settings.rate_limit_storage_shared:
            self._redis = redis_pool(settings)
            # `limits` passes its options on to redis-py, which takes our pool (its type
            # hints name only scalar options).
            client: dict[str, Any] = {"connection_pool": self._redis}
            storage = RedisStorage(
                f"async+{settings.rate_limit_storage_url}",
                implementation="redispy",
                key_prefix=KEY_PREFIX,
                **client,
            )
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._window = SlidingWindowCounterRateLimiter(storage)
        self._outage = OutageLog(OUTAGE_LOG_INTERVAL_SECONDS)
        self.sign_in = parse(settings.rate_limit_auth)
        self.default = parse(settings.rate_limit_default)
        self.financing_accept = parse(settings.rate_limit_financing_accept)
        self.plans = {plan: parse(limit) for plan, limit in settings.rate_limit_plans.items()}

    def for_plan(self, plan: str | None) -> RateLimitItem:
        return self.plans.get(plan or "", self.default)

    def _counting(self, request: HTTPConnection) -> bool:
        """Whether to ask the storage: limits are on, and it has not failed this request
        already (a request waits on a failing storage once, not once per limit)."""
        return self.enabled and not getattr(request.state, "rate_limit_uncounted", False)

    def _storage_failed(self, request: HTTPConnection, error: Exception) -> None:
        request.state.rate_limit_uncounted = True
        self._outage.failed(error)

    async def hit(
        self,
        request: HTTPConnection,
        item: RateLimitItem,
        *key: str,
        code: str = "rate_limited",
        counted: str = "requests",
    ) -> None:
        """Count one request under `key`; over `item`, 429 `code` saying what is `counted`."""
        if not self._counting(request):
            return
        try:
            allowed = await self._window.hit(item, *key)
            stats = await self._window.get_window_stats(item, *key)
        except STORAGE_ERRORS as error:
            self._storage_failed(request, error)
            return
        self._outage.succeeded()
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        allowance = Allowance(item.amount, max(0, stats.remaining), reset)
        request.state.rate_limit = allowance
        if not allowed:
            raise Problem(
                429,
                code,
                f"Too many {counted}: {item.amount} per {item.get_expiry()} seconds. "
                f"Try again in {max(reset, 1)} seconds.",
                headers={"Retry-After": str(max(reset, 1)), **allowance.headers()},
            )

    async def exhausted(self, request: HTTPConnection, item: RateLimitItem, *key: str) -> bool:
        """Whether `key` has used up `item` (without counting; a failing storage: no)."""
        if not self._counting(request):
            return False
        try:
            room = await self._window.test(item, *key)
        except STORAGE_ERRORS as error:
            self._storage_failed(request, error)
            return False
        self._outage.succeeded()
        return not room

    async def reset(self) -> None:
        """Forget every count."""
        await self._storage.reset()

    async def close(self) -> None:
        """Close the Redis connections, if any (the app's shutdown)."""
        if self._redis is not None:
            await self._redis.aclose()


def rate_limits(request: HTTPConnection) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def address_key(request: HTTPConnection) -> str:
    """The client address a limit counts: IPv6 by its /64 (one subscriber's usual
    allocation, so rotating addresses within it gains nothing), IPv4 as it is."""
    address = getattr(request.state, "client_ip", None) or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


async def limit_sign_in(request: Request) -> None:
    """Dependency of the sign-in endpoints: limited by client address."""
    limits = rate_limits(request)
    await limits.hit(request, limits.sign_in, "sign-in", address_key(request))


async def limit_financing_accept(request: Request) -> None:
    """Dependency of the public acceptance of a financing offer: limited by address."""
    limits = rate_limits(request)
    await limits.hit(request, limits.financing_accept, "financing-accept", address_key(request))


async def count_failed_credential(request: HTTPConnection, claimed_tenant: str | None) -> None:
    """A credential did not verify: count it against the client address and against the
    tenant it claimed (X-Tenant-ID), under the sign-in limit. Past either, this failure is
    429 `failed_credentials_limited` naming which. Only failures are counted and refused:
    a credential that verifies is never refused for anyone's failures, so junk tokens
    from a shared address (a NAT, an untrusted proxy) cannot lock honest callers out."""
    limits = rate_limits(request)
    await limits.hit(
        request,
        limits.sign_in,
        "failed-auth",
        address_key(request),
        code="failed_credentials_limited",
        counted="failed credentials from this address",
    )
    if claimed_tenant is not None:
        await limits.hit(
            request,
            limits.sign_in,
            "failed-auth-tenant",
            claimed_tenant,
            code="failed_credentials_limited",
            counted="failed credentials for this tenant",
        )
