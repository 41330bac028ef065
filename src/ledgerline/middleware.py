"""Request context: request id, client address, security headers, body limits, access log,
and the last line of defence for errors. One pure ASGI middleware, outermost of ours."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerline.client_ip import Network, client_ip, is_trusted
from ledgerline.errors import internal_error_response, outage_response, problem_response
from ledgerline.log import request_id_var
from ledgerline.metrics import METRICS_PATH, record_request, route_template
from ledgerline.problems import Problem

logger = logging.getLogger("ledgerline.access")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# The API serves JSON only; the interactive docs load their scripts from elsewhere.
_API_CSP = "default-src 'none'; frame-ancestors 'none'"
_DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")
_HSTS = "max-age=31536000; includeSubDomains"


class BodyRefused(Exception):
    """The request body is refused (too large, or it stalled); `problem` is the answer."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _header(scope: Scope, name: bytes) -> str | None:
    """The header's value; a header sent on several lines is joined by commas, in order
    (a proxy may add its own X-Forwarded-For line after the client's)."""
    values = [value.decode("latin-1") for key, value in scope["headers"] if key == name]
    return ", ".join(values) if values else None


class RequestContextMiddleware:
    """Per HTTP request:

    - an X-Request-ID on the response (the client's, when short and plain);
    - the client address (see `client_ip`) in `request.state.client_ip`;
    - security headers, and HSTS when the request came over HTTPS;
    - a body limit: 413 as soon as Content-Length or the bytes read pass it (the paths
      in `larger_bodies`, uploads, have their own);
    - a body deadline: 408 when the client stops sending its body for `body_timeout`
      seconds (each wait for the next part is bounded, not the whole upload);
    - one access log line and the request's metrics (`metrics.record_request`, under the
      route's template); an escaping exception becomes a problem+json 500 (503 for a
      database outage) here, its traceback going to the log only.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: tuple[Network, ...],
        max_body_bytes: int,
        body_timeout: float,
        larger_bodies: Mapping[str, int] | None = None,
        metrics_port: int | None = None,
    ) -> None:
        self.app = app
        # The METRICS_ADDRESS listener's port: it serves /metrics and nothing else.
        self.metrics_port = metrics_port
        self.trusted_proxies = trusted_proxies
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.larger_bodies = dict(larger_bodies or {})

    @staticmethod
    def _too_large(limit: int) -> Problem:
        return Problem(413, "payload_too_large", f"The request body exceeds {limit} bytes.")

    def _stalled(self) -> Problem:
        return Problem(
            408,
            "request_body_timeout",
            f"The request body stalled for {self.body_timeout:g} seconds.",
            headers={"Connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # A socket's failed credentials count against its address like a request's.
            peer = scope["client"][0] if scope.get("client") else None
            forwarded = _header(scope, b"x-forwarded-for")
            ip = client_ip(peer, forwarded, self.trusted_proxies)
            scope.setdefault("state", {})["client_ip"] = ip
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        if (
            self.metrics_port is not None
            and scope["path"] != METRICS_PATH
            and (scope.get("server") or (None, None))[1] == self.metrics_port
        ):
            await problem_response(Problem(404, "not_found", "Only /metrics is served here."))(
                scope, receive, send
            )
            return
        sent = _header(scope, b"x-request-id") or ""
        request_id = sent if _CLIENT_REQUEST_ID.match(sent) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        peer = scope["client"][0] if scope.get("client") else None
        proxied = peer is not None and is_trusted(peer, self.trusted_proxies)
        ip = client_ip(peer, _header(scope, b"x-forwarded-for"), self.trusted_proxies)
        https = scope.get("scheme") == "https" or (
            proxied and (_header(scope, b"x-forwarded-proto") or "").lower() == "https"
        )
        scope.setdefault("state", {})["client_ip"] = ip
        started = time.perf_counter()
        status = 500
        response_started = False

        refusal: Problem | None = None
        swallowing = False
        body_limit = self.larger_bodies.get(scope["path"], self.max_body_bytes)

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if scope["path"] not in _DOCS_PATHS:
                    headers.setdefault("Content-Security-Policy", _API_CSP)
                if https:
                    headers.setdefault("Strict-Transport-Security", _HSTS)
                allowance = scope["state"].get("rate_limit")
                if allowance is not None:
                    for name, value in allowance.headers().items():
                        headers.setdefault(name, value)
            await send(message)

        async def send_from_app(message: Message) -> None:
            """What the app sends; once the body was refused, the app's own answer (its body
            parser turns the refusal into a 400) gives way to the 413 or 408."""
            nonlocal swallowing
            if (
                refusal is not None
                and not response_started
                and message["type"] == "http.response.start"
            ):
                swallowing = True
                await problem_response(refusal)(scope, receive, send_with_headers)
                return
            if swallowing:
                return
            await send_with_headers(message)

        received = 0
        body_complete = False

        def refuse(problem: Problem) -> BodyRefused:
            nonlocal refusal
            refusal = problem
            return BodyRefused(problem)

        async def receive_limited() -> Message:
            nonlocal received, body_complete
            if body_complete:  # later reads only wait for a disconnect: unbounded
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise refuse(self._stalled()) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > body_limit:
                    raise refuse(self._too_large(body_limit))
                body_complete = not message.get("more_body", False)
            else:
                body_complete = True
            return message

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > body_limit:
                raise refuse(self._too_large(body_limit))
            await self.app(scope, receive_limited, send_from_app)
        except BodyRefused as refused:
            if not response_started:
                await problem_response(refused.problem)(scope, receive, send_with_headers)
        except Exception as error:
            response = outage_response(error)
            if response is None:
                logger.exception("unhandled error", extra={"path": scope["path"]})
                response = internal_error_response()
            if not response_started:
                await response(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            record_request(scope["method"], route_template(scope), status, elapsed)
            state = scope.get("state") or {}
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "client_ip": ip,
                    "duration_ms": round(elapsed * 1000, 2),
                    **({"tenant_id": str(state["tenant_id"])} if "tenant_id" in state else {}),
                },
            )
            request_id_var.reset(token)
