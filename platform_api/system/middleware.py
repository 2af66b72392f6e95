"""Request timing for Prometheus and one access-log line per request (no keys, no bodies)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.metrics import Metrics

log = logging.getLogger("mitsumori.access")


class RequestMetricsMiddleware:
    """Pure ASGI (no per-request task or body buffering, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - t0
            route = scope.get("route")
            # The route template, not the path: ids in paths would explode label cardinality.
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_seconds.labels(
                method=scope["method"], route=template, status=str(status)
            ).observe(elapsed)
            state = scope.get("state")
            org = state.get("org_id", "-") if isinstance(state, dict) else "-"
            log.info(
                "%s %s %d %.1fms org=%s",
                scope["method"],
                template,
                status,
                elapsed * 1000,
                org,
            )
