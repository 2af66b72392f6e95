"""HTTP GET for MTConnect agents, bounded in time, redirects and size.

An agent that hangs, drips a byte a second, redirects in a loop or sends a gigabyte must cost
the poller a bounded wait and a typed error, never its thread. ``AgentHttp(limits)(url)``:

- connect: ``connect_timeout`` seconds; every read: ``read_timeout`` seconds without a byte;
- the whole request, redirects included, ``total_timeout`` seconds: every socket read waits at
  most for what is left of it, so a slow drip (status line, headers or body) is cut off at the
  deadline, not after its last byte;
- at most ``max_redirects`` redirects (http and https only), then ``AgentUnreachable``;
- at most ``max_bytes`` of body (announced by Content-Length or counted while reading);
- HTTP error statuses and garbled HTTP are ``AgentUnreachable``, time limits ``AgentTimeout``.

Built on ``http.client`` over a socket whose reads go through ``_DeadlineReader``; one
connection per request (``Connection: close``), which at one request per poll costs nothing.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from matching.errors import AgentTimeout, AgentUnreachable, InvalidDocument
from matching.mtconnect.document import MAX_DOCUMENT_BYTES

REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpLimits:
    """Limits of one agent request; seconds and bytes."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 3
    max_bytes: int = MAX_DOCUMENT_BYTES


class _Deadline(Exception):
    """The request's total time ran out (turned into ``AgentTimeout`` by ``AgentHttp``)."""


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each waiting at most ``min(read_timeout, time left)``."""

    def __init__(self, sock: socket.socket, deadline: float, read_timeout: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.read_timeout = read_timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Deadline
        self.sock.settimeout(min(self.read_timeout, left))
        try:
            return self.sock.recv_into(buffer)
        except TimeoutError:
            if time.monotonic() >= self.deadline:
                raise _Deadline from None
            raise


class _SocketFile:
    """What ``http.client.HTTPResponse`` reads from: ``makefile`` over the deadline reader."""

    def __init__(self, reader: _DeadlineReader) -> None:
        self.reader = reader

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.reader)


class AgentHttp:
    """``fetch(url) -> bytes`` with the limits of ``HttpLimits`` (see the module docstring)."""

    def __init__(self, limits: HttpLimits | None = None) -> None:
        self.limits = limits or HttpLimits()
        self._tls = ssl.create_default_context()

    def __call__(self, url: str) -> bytes:
        lim = self.limits
        deadline = time.monotonic() + lim.total_timeout
        current = url
        try:
            for _ in range(lim.max_redirects + 1):
                status, location, body = self._get_once(current, deadline)
                if status not in REDIRECTS:
                    return body
                if not location:
                    raise AgentUnreachable(
                        f"{current} answered HTTP {status} without a Location",
                        detail={"url": url, "reason": "bad_redirect"},
                    )
                current = urljoin(current, location)
        except _Deadline:
            raise AgentTimeout(
                f"{url} did not answer in full within {lim.total_timeout:g} s; the agent is "
                "too slow or stalled",
                detail={"url": url, "reason": "total_timeout"},
            ) from None
        except TimeoutError:
            raise AgentTimeout(
                f"{url} sent nothing for {lim.read_timeout:g} s (or did not accept a connection "
                f"within {lim.connect_timeout:g} s)",
                detail={"url": url, "reason": "read_timeout"},
            ) from None
        except (http.client.HTTPException, ValueError) as err:
            raise AgentUnreachable(
                f"{url} did not answer in HTTP ({type(err).__name__}: {str(err)[:200]})",
                detail={"url": url, "reason": "bad_http"},
            ) from None
        except OSError as err:
            raise AgentUnreachable(
                f"could not read {url}: {str(err)[:200]}; check the agent URL and that it is "
                "running",
                detail={"url": url, "reason": "connection"},
            ) from None
        raise AgentUnreachable(
            f"{url} redirected more than {lim.max_redirects} times",
            detail={"url": url, "reason": "too_many_redirects"},
        )

    def _get_once(self, url: str, deadline: float) -> tuple[int, str | None, bytes]:
        lim = self.limits
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AgentUnreachable(
                f"{url} is not an http(s) URL", detail={"url": url, "reason": "bad_url"}
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Deadline
        sock = socket.create_connection(
            (parts.hostname, port), timeout=min(lim.connect_timeout, left)
        )
        try:
            if parts.scheme == "https":
                sock = self._tls.wrap_socket(sock, server_hostname=parts.hostname)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mitsumori-mtconnect\r\n"
                "Accept: application/xml, application/json\r\nConnection: close\r\n\r\n"
            )
            sock.settimeout(max(0.001, min(lim.read_timeout, deadline - time.monotonic())))
            sock.sendall(request.encode("ascii", "strict"))
            reader = _DeadlineReader(sock, deadline, lim.read_timeout)
            # HTTPResponse only calls makefile("rb") on what it is given
            resp = http.client.HTTPResponse(cast(socket.socket, _SocketFile(reader)), method="GET")
            resp.begin()
            if resp.status in REDIRECTS:
                return resp.status, resp.getheader("Location"), b""
            if resp.status >= 400:
                raise AgentUnreachable(
                    f"{url} answered HTTP {resp.status} {resp.reason}"[:300],
                    detail={"url": url, "reason": "http_status", "status": resp.status},
                )
            return resp.status, None, self._body(resp, url)
        finally:
            sock.close()

    def _body(self, resp: http.client.HTTPResponse, url: str) -> bytes:
        limit = self.limits.max_bytes
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise InvalidDocument(
                f"{url} announces {declared} bytes; the limit is {limit}",
                detail={"url": url, "reason": "too_large"},
            )
        out = bytearray()
        while chunk := resp.read(_CHUNK):
            out += chunk
            if len(out) > limit:
                raise InvalidDocument(
                    f"{url} sent more than {limit} bytes",
                    detail={"url": url, "reason": "too_large"},
                )
        return bytes(out)
