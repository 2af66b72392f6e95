"""A small MTConnect agent for tests: serves the real NIST test-bed documents over HTTP.

- ``/probe``: the real devices document.
- ``/current``: the real current document. The current and sample documents were captured a
  minute apart from different buffer windows, so the agent stitches them: its header's
  ``nextSequence`` is set to the first sequence of the sample window, where ``/sample`` goes on.
- ``/sample?from=N&count=C``: the real time-series observations with sequence >= N, the first C
  of them, and a header with first/last/next sequence as an agent computes them.

``instance_id`` and ``first_sequence`` can be changed to play an agent restart or a buffer that
moved on. ``requests`` lists the paths asked for. Runs on 127.0.0.1 with an OS-chosen port.
"""

from __future__ import annotations

import copy
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class ReplayAgent:
    def __init__(self, mtc: Path) -> None:
        nist = mtc / "nist_smstestbed"
        self.probe = (nist / "devices-1-3-smstestbed.xml").read_bytes()
        self.current_tree = ET.parse(nist / "streams-1-3-smstestbed-current.xml")
        self.sample_tree = ET.parse(nist / "streams-1-3-smstestbed-time-series.xml")
        self.sequences = sorted(
            int(el.get("sequence", "0"))
            for el in self.sample_tree.iter()
            if el.get("sequence") is not None
        )
        self.instance_id = self._header(self.current_tree).get("instanceId", "")
        self.first_sequence = self.sequences[0]
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ReplayAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @staticmethod
    def _header(tree: ET.ElementTree) -> ET.Element:
        return next(el for el in tree.getroot() if _local(el.tag) == "Header")

    def current(self) -> bytes:
        tree = copy.deepcopy(self.current_tree)
        h = self._header(tree)
        h.set("instanceId", self.instance_id)
        h.set("firstSequence", str(self.first_sequence))
        h.set("lastSequence", str(self.sequences[-1]))
        h.set("nextSequence", str(max(self.first_sequence, self.sequences[0])))
        return ET.tostring(tree.getroot(), xml_declaration=True, encoding="utf-8")

    def sample(self, start: int, count: int) -> bytes:
        tree = copy.deepcopy(self.sample_tree)
        keep = [s for s in self.sequences if s >= max(start, self.first_sequence)][:count]
        chosen = set(keep)
        for group in list(tree.getroot().iter()):
            for obs in list(group):
                seq = obs.get("sequence")
                if seq is not None and int(seq) not in chosen:
                    group.remove(obs)
        h = self._header(tree)
        h.set("instanceId", self.instance_id)
        h.set("firstSequence", str(self.first_sequence))
        h.set("lastSequence", str(self.sequences[-1]))
        h.set("nextSequence", str(keep[-1] + 1 if keep else max(start, self.first_sequence)))
        return ET.tostring(tree.getroot(), xml_declaration=True, encoding="utf-8")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                agent.requests.append(self.path)
                u = urlparse(self.path)
                q = parse_qs(u.query)
                if u.path == "/probe":
                    body = agent.probe
                elif u.path == "/current":
                    body = agent.current()
                elif u.path == "/sample":
                    body = agent.sample(int(q["from"][0]), int(q.get("count", ["100"])[0]))
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
