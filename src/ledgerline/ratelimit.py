"""Rate limits: per client address on the sign-in endpoints, per caller elsewhere.

One limiter per app, built by slowapi from RATE_LIMIT_STORAGE_URL (memory by default;
a Redis URL, which several worker processes need to share their counts) with the
moving-window strategy. Two places apply it:
- `limit_sign_in` (a dependency of signup, login, refresh, sign-out): by client address,
  RATE_LIMIT_AUTH;
- the tenant-request dependency, once it knows the caller: by user, API key or admin,
  with the tenant plan's limit from RATE_LIMIT_PLANS, else RATE_LIMIT_DEFAULT.
Over the limit: 429 problem+json with Retry-After. Within it, the response carries
RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds).
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse
from slowapi import Limiter

from ledgerline.config import Settings
from ledgerline.problems import Problem


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


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._limiter = Limiter(
            key_func=lambda: "",
            storage_uri=settings.rate_limit_storage_url or "memory://",
            strategy="moving-window",
            enabled=settings.rate_limit_enabled,
        )
        self.sign_in = parse(settings.rate_limit_auth)
        self.default = parse(settings.rate_limit_default)
        self.plans = {plan: parse(limit) for plan, limit in settings.rate_limit_plans.items()}

    @property
    def strategy(self) -> Any:
        return self._limiter.limiter

    def for_plan(self, plan: str | None) -> RateLimitItem:
        return self.plans.get(plan or "", self.default)

    def hit(self, request: Request, item: RateLimitItem, *key: str) -> None:
        """Count one request under `key`; 429 when over `item`."""
        if not self.enabled:
            return
        strategy = self._limiter.limiter
        allowed = strategy.hit(item, *key)
        stats = strategy.get_window_stats(item, *key)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        allowance = Allowance(item.amount, max(0, stats.remaining), reset)
        request.state.rate_limit = allowance
        if not allowed:
            raise Problem(
                429,
                "rate_limited",
                f"Too many requests: {item.amount} per {item.get_expiry()} seconds. "
                f"Try again in {max(reset, 1)} seconds.",
                headers={"Retry-After": str(max(reset, 1)), **allowance.headers()},
            )

    def reset(self) -> None:
        self._limiter.reset()


def rate_limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def address_key(request: Request) -> str:
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


def limit_sign_in(request: Request) -> None:
    """Dependency of the sign-in endpoints: limited by client address."""
    limits = rate_limits(request)
    limits.hit(request, limits.sign_in, "sign-in", address_key(request))


def refuse_if_failing(request: Request) -> None:
    """Before checking a credential: 429 for an address that failed too often."""
    limits = rate_limits(request)
    if limits.enabled and not limits.strategy.test(
        limits.sign_in, "failed-auth", address_key(request)
    ):
        limits.hit(request, limits.sign_in, "failed-auth", address_key(request))


def count_failure(request: Request) -> None:
    """A credential failed: count it against the address (sign-in limits apply)."""
    limits = rate_limits(request)
    limits.hit(request, limits.sign_in, "failed-auth", address_key(request))
