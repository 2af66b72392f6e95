"""Request body size limits per route, answered with the platform's JSON error body.

A declared ``Content-Length`` over the limit is refused before a byte is read; a body streamed
without one is counted as it arrives and cut off at the limit (the route's body reader turns the
raised 413 into the same JSON). Upload routes get the part-file limit, everything else the JSON
limit.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from platform_api.errors import error_response


class BodyLimitMiddleware:
    """``rules``: (method, path regex, limit in bytes); the first match wins, else ``default``."""

    def __init__(self, app: ASGIApp, *, default: int, rules: list[tuple[str, str, int]]) -> None:
        self.app = app
        self.default = default
        self.rules = [(m, re.compile(p), limit) for m, p, limit in rules]

    def limit_for(self, method: str, path: str) -> int:
        for m, pattern, limit in self.rules:
            if m == method and pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > limit:
            response = error_response(
                413,
                "payload_too_large",
                f"request body of {declared:,} bytes is over this route's limit of {limit:,}",
                {"max_bytes": limit},
            )
            await response(scope, receive, send)
            return
        total = 0

        async def limited_receive() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise HTTPException(413, f"request body over this route's limit of {limit:,}")
            return message

        await self.app(scope, limited_receive, send)
