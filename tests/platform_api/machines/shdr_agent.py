"""The test agent of ``tests/matching/agent.py`` fed by the Okuma SHDR recording.

An MTConnect agent takes an adapter's SHDR lines, gives each observation a sequence number and
serves them on ``/current`` and ``/sample``. This one does that with the real recording
(``cppagent_demo/okuma_shdr_2022-08-08.txt``) and the real device model (``Devices.xml``):
each state value of each SHDR line becomes an observation of the OKUMA device's data item,
in recording order (time rebased where the recording's runs jump back, as an agent stamping
them live would). HTTP serving, ``requests`` and ``instance_id`` come from ``ReplayAgent``;
``restart()`` plays an agent restart (new instanceId, sequences from 1 again).
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

from matching.events import STATE_FIELDS, format_timestamp
from matching.mtconnect.document import OBSERVATION_FIELDS
from matching.mtconnect.probe import parse_probe
from matching.mtconnect.shdr import parse_shdr
from tests.matching.agent import ReplayAgent

NS = "urn:mtconnect.org:MTConnectStreams:1.3"
TAG_OF = {f: tag for tag, f in OBSERVATION_FIELDS.items()}


@dataclass(frozen=True)
class Obs:
    sequence: int
    item: str
    tag: str
    timestamp: datetime
    value: str


class ShdrAgent(ReplayAgent):
    """Serves the OKUMA device of the cppagent demo from its SHDR recording."""

    def __init__(self, mtc: Path) -> None:  # noqa: D107 - ReplayAgent's state, other documents
        demo = mtc / "cppagent_demo"
        self.probe = (demo / "Devices.xml").read_bytes()
        self.device = parse_probe(self.probe).device("OKUMA")
        self.replay = parse_shdr(
            (demo / "okuma_shdr_2022-08-08.txt").read_text(),
            shop="-",
            machine="-",
            device=self.device,
        )
        item_of = {f: i for i, f in self.device.state_items().items()}
        self.values = [
            (ev.timestamp, item_of[f], TAG_OF[f], str(getattr(ev, f)))
            for ev in self.replay.events
            for f in STATE_FIELDS
            if getattr(ev, f) is not None
        ]
        self.instance_id = "1659966694"
        self.restarts = 0
        self._resequence()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _resequence(self) -> None:
        self.obs = [
            Obs(i + 1, item, tag, ts, value) for i, (ts, item, tag, value) in enumerate(self.values)
        ]
        self.sequences = [o.sequence for o in self.obs]
        self.first_sequence = 1
        # /current is read after the adapter's first line (its values are all distinct items,
        # so the latest-value document loses nothing); /sample streams the rest.
        self.current_upto = sum(1 for o in self.obs if o.timestamp == self.obs[0].timestamp)

    def restart(self) -> None:
        """The agent process restarts: a new instanceId and sequence numbers from 1 again."""
        self.restarts += 1
        self.instance_id = str(int(self.instance_id) + 1000)
        self._resequence()

    def _document(self, observations: list[Obs], next_sequence: int) -> bytes:
        root = ET.Element(f"{{{NS}}}MTConnectStreams")
        ET.SubElement(
            root,
            f"{{{NS}}}Header",
            {
                "creationTime": format_timestamp(self.obs[-1].timestamp),
                "sender": "shdr-test-agent",
                "instanceId": self.instance_id,
                "version": "1.3.0",
                "bufferSize": "131072",
                "firstSequence": str(self.first_sequence),
                "lastSequence": str(self.sequences[-1]),
                "nextSequence": str(next_sequence),
            },
        )
        streams = ET.SubElement(root, f"{{{NS}}}Streams")
        ds = ET.SubElement(
            streams, f"{{{NS}}}DeviceStream", {"name": self.device.name, "uuid": self.device.uuid}
        )
        cs = ET.SubElement(ds, f"{{{NS}}}ComponentStream", {"component": "Controller"})
        events = ET.SubElement(cs, f"{{{NS}}}Events")
        for o in observations:
            el = ET.SubElement(
                events,
                f"{{{NS}}}{o.tag}",
                {
                    "dataItemId": o.item,
                    "sequence": str(o.sequence),
                    "timestamp": format_timestamp(o.timestamp),
                },
            )
            el.text = o.value
        return ET.tostring(root, xml_declaration=True, encoding="utf-8")

    def current(self) -> bytes:
        """The latest value of each data item (what the agent holds at the end of the replay)."""
        latest: dict[str, Obs] = {}
        for o in self.obs[: self.current_upto]:
            latest[o.item] = o
        chosen = sorted(latest.values(), key=lambda o: o.sequence)
        return self._document(chosen, self.current_upto + 1)

    def sample(self, start: int, count: int) -> bytes:
        keep = [o for o in self.obs if o.sequence >= max(start, self.first_sequence)][:count]
        nxt = keep[-1].sequence + 1 if keep else max(start, self.first_sequence)
        return self._document(keep, nxt)
