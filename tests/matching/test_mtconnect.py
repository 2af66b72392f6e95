"""MTConnect parsers on the real recordings: probe, current, sample, JSON, and the SHDR replay."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from matching.capacity import state_timeline
from matching.errors import InvalidDocument
from matching.event_log import EventLog, dedupe_events
from matching.events import Snapshot, parse_timestamp
from matching.mtconnect.probe import parse_probe
from matching.mtconnect.shdr import parse_shdr
from matching.mtconnect.streams import parse_streams


def test_probe_envelope_from_axis_lengths(mtc: Path) -> None:
    probe = parse_probe((mtc / "cppagent_demo" / "Devices.xml").read_bytes())
    assert probe.header.instance_id == "1"
    okuma = probe.device("OKUMA")
    assert okuma.uuid == "OKUMA.123456"
    # X, Y, Z1 and Z4 all have LENGTH 650 mm in the model
    assert okuma.envelope_mm == (650.0, 650.0, 650.0)
    assert okuma.machine_class == "mill-turn"  # MULTUS: spindles C1, C2, C6 plus a Y axis
    assert okuma.has_controller
    mazak = probe.device("Mazak")
    # X 650, Y 550, Z 530 (spec001, spec007, spec013)
    assert mazak.envelope_mm == (650.0, 550.0, 530.0)
    assert mazak.machine_class == "5-axis"  # B and C2 position, C1 is the spindle
    assert mazak.state_items()["execution"] == "execution"


def test_probe_of_the_nist_testbed_classifies_each_machine(mtc: Path) -> None:
    probe = parse_probe((mtc / "nist_smstestbed" / "devices-1-3-smstestbed.xml").read_bytes())
    classes = {d.name: d.machine_class for d in probe.devices}
    assert classes["GFAgie01"] == "5-axis"  # X Y Z linear, A and C rotary with ANGLE
    assert classes["Mazak01"] == "mill-turn"  # Integrex
    assert classes["Mazak03"] == "lathe"  # QuickTurn: X and Z only
    assert classes["Hurco01"] == "3-axis"  # VMX24: the model lists only the spindle
    assert all(d.envelope_mm is None for d in probe.devices)  # no LENGTH specs there
    assert probe.header.instance_id == "1683217207"


def test_current_document_events_and_header(mtc: Path) -> None:
    raw = (mtc / "nist_smstestbed" / "streams-1-3-smstestbed-current.xml").read_bytes()
    probe = parse_probe((mtc / "nist_smstestbed" / "devices-1-3-smstestbed.xml").read_bytes())
    doc = parse_streams(raw, shop="nist", probe=probe)
    h = doc.header
    assert (h.instance_id, h.first_sequence, h.last_sequence, h.next_sequence) == (
        "1683217207",
        571340570,
        572389145,
        572389146,
    )
    assert len(doc.observations) == raw.count(b"sequence=")
    log = EventLog()
    log.add_many(doc.events)
    states = {}
    for _, machine in log.machines():
        snap = Snapshot()
        for ev in log.events(machine):
            snap = snap.apply(ev)
        states[machine] = snap
    gf = states["mtc_adapter001"]
    assert (gf.availability, gf.execution, gf.controller_mode) == (
        "AVAILABLE",
        "ACTIVE",
        "AUTOMATIC",
    )
    assert gf.program == r"TNC:\BRIAN\Bottom Cavity 2016.H"
    assert gf.state == "productive"
    assert states["mtc_adapter005"].state == "offline"  # Hurco01 UNAVAILABLE
    ev = next(e for e in doc.events if e.machine == "mtc_adapter001" and e.execution)
    assert ev.event_id == "mtc:1683217207:572308797"
    assert ev.timestamp == datetime(2025, 2, 28, 9, 32, 18, 339719, tzinfo=UTC)


def test_sample_and_older_stream_versions(mtc: Path) -> None:
    sample = parse_streams(
        (mtc / "nist_smstestbed" / "streams-1-3-smstestbed-time-series.xml").read_bytes(),
        shop="nist",
    )
    assert sample.header.next_sequence == 571341146
    seqs = [o.sequence for o in sample.observations]
    assert seqs == sorted(seqs) and len(seqs) == 100
    assert sample.events == ()  # only positions and loads in that window
    ex = parse_streams((mtc / "examples" / "streams-1-3.xml").read_bytes(), shop="s")
    got = {k: v for e in ex.events for k, v in e.to_dict().items() if v is not None}
    assert got["availability"] == "AVAILABLE"
    assert got["controller_mode"] == "AUTOMATIC"
    assert got["execution"] == "READY"
    assert got["program"] == "480"
    for version in ("1-4", "1-5"):
        doc = parse_streams((mtc / "examples" / f"streams-{version}.xml").read_bytes(), shop="s")
        assert [e.part_count for e in doc.events if e.part_count is not None] == [662]


def _to_cppagent_json(xml_bytes: bytes) -> bytes:
    """Re-express a real XML streams document in cppagent's JSON v2 layout."""
    root = ET.fromstring(xml_bytes)

    def local(t: str) -> str:
        return t.rsplit("}", 1)[-1]

    header = next(c for c in root if local(c.tag) == "Header")
    streams = next(c for c in root if local(c.tag) == "Streams")
    devices = []
    for ds in streams:
        comps = []
        for cs in ds:
            entry: dict = {"component": cs.get("component"), "componentId": cs.get("componentId")}
            for group in cs:
                items: dict = {}
                for o in group:
                    obs = {k: v for k, v in o.attrib.items()}
                    obs["sequence"] = int(obs["sequence"])
                    obs["value"] = (o.text or "").strip()
                    items.setdefault(local(o.tag), []).append(obs)
                entry[local(group.tag)] = items
            comps.append(entry)
        devices.append({"name": ds.get("name"), "uuid": ds.get("uuid"), "ComponentStream": comps})
    doc = {
        "MTConnectStreams": {
            "jsonVersion": 2,
            "Header": {k: v for k, v in header.attrib.items()},
            "Streams": {"DeviceStream": devices},
        }
    }
    return json.dumps(doc).encode()


def test_json_streams_give_the_same_events_as_xml(mtc: Path) -> None:
    raw = (mtc / "nist_smstestbed" / "streams-1-3-smstestbed-current.xml").read_bytes()
    from_xml = parse_streams(raw, shop="nist")
    from_json = parse_streams(_to_cppagent_json(raw), shop="nist")
    assert from_json.header == from_xml.header
    assert from_json.events == from_xml.events
    assert len(from_json.observations) == len(from_xml.observations)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"<html><body>404</body></html>", "expected an MTConnectStreams"),
        (b"<MTConnectStreams><Streams/>", "not well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><MTConnectStreams/>', "DTD"),
        (b"<MTConnectStreams><Streams/></MTConnectStreams>", "no Header"),
        (b'{"MTConnectStreams": {"Streams": []}}', "no Header"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_malformed_documents_are_rejected_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(InvalidDocument, match=words):
        parse_streams(data, shop="s")


def _raw_cycles(text: str) -> list[float]:
    """Seconds from each ACTIVE to the next PROGRAM_COMPLETED, read straight from the file."""
    out, start = [], None
    for line in text.splitlines():
        m = re.match(r"^([^|]+)\|(?:.*\|)?pexecution\|(ACTIVE|PROGRAM_COMPLETED)(\||$)", line)
        if not m:
            continue
        t = parse_timestamp(m.group(1))
        if m.group(2) == "ACTIVE":
            start = t
        elif start is not None:
            out.append((t - start).total_seconds())
            start = None
    return out


def test_okuma_shdr_replay_with_backwards_time(mtc: Path) -> None:
    text = (mtc / "cppagent_demo" / "okuma_shdr_2022-08-08.txt").read_text()
    device = parse_probe((mtc / "cppagent_demo" / "Devices.xml").read_bytes()).device("OKUMA")
    replay = parse_shdr(text, shop="imts", machine="okuma", device=device)
    # concatenated runs: time jumps back twice (13:54 -> 13:37 and 14:30 -> 13:57)
    assert replay.segments == 3
    assert all(o >= timedelta(0) for o in replay.offsets)
    assert replay.skipped == ()
    spans = state_timeline(replay.events)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:], strict=False))
    busy = []
    for s in spans:  # productive and setup spans of one cycle are contiguous
        if s.state in ("productive", "setup"):
            if busy and busy[-1][1] == s.start:
                busy[-1] = (busy[-1][0], s.end)
            else:
                busy.append((s.start, s.end))
    expected = _raw_cycles(text)
    assert len(expected) == 4
    assert [(e - s).total_seconds() for s, e in busy] == pytest.approx(expected, abs=1e-3)
    counts = [e.part_count for e in dedupe_events(replay.events) if e.part_count is not None]
    assert max(counts) == 3
    # without rebasing, runs overlap in time and the cycles no longer come out whole
    raw = parse_shdr(text, shop="imts", machine="okuma", device=device, rebase_after=None)
    assert raw.segments == 1
    raw_busy = [s for s in state_timeline(raw.events) if s.state == "productive"]
    assert len(raw_busy) != len(busy) or [s.hours for s in raw_busy] != pytest.approx(
        [(e - s).total_seconds() / 3600 for s, e in busy]
    )


def test_shdr_without_a_device_model_uses_common_keys() -> None:
    text = "\n".join(
        [
            "2025-03-03T00:00:00Z|avail|AVAILABLE|execution|READY",
            "2025-03-03T00:00:01Z|system|FAULT|E12|2||Spindle overload",
            "2025-03-03T00:01:00Z|execution|ACTIVE|part_count|4",
            "* PING",
            "2025-03-03T00:00:59Z|@ASSET@|t1|CuttingTool|--multiline--X",
            "<CuttingTool/>",
            "--multiline--X",
            "not a line",
        ]
    )
    rep = parse_shdr(text, shop="s", machine="m")
    assert [e.execution for e in rep.events] == ["READY", "ACTIVE"]
    assert rep.events[1].part_count == 4
    assert rep.skipped and rep.skipped[0][0] == 8


def _xml_to_json(el: ET.Element) -> dict:
    """An element as cppagent-style JSON: attributes as keys, children grouped by tag in
    arrays (JSON v2), text as "value"."""
    d: dict = dict(el.attrib)
    kids: dict = {}
    for ch in el:
        kids.setdefault(ch.tag.rsplit("}", 1)[-1], []).append(_xml_to_json(ch))
    d.update(kids)
    text = (el.text or "").strip()
    if text and not kids:
        d["value"] = text
    return d


@pytest.mark.parametrize(
    "name", ["cppagent_demo/Devices.xml", "nist_smstestbed/devices-1-3-smstestbed.xml"]
)
def test_json_probe_gives_the_same_machines_as_xml(mtc: Path, name: str) -> None:
    raw = (mtc / name).read_bytes()
    root = _xml_to_json(ET.fromstring(raw))
    doc = {"MTConnectDevices": {k: v[0] if k == "Header" else v for k, v in root.items()}}
    doc["MTConnectDevices"]["Devices"] = doc["MTConnectDevices"]["Devices"][0]  # {"Device": [...]}
    from_xml = parse_probe(raw)
    from_json = parse_probe(json.dumps(doc).encode())
    assert [(d.uuid, d.envelope_mm, d.machine_class) for d in from_json.devices] == [
        (d.uuid, d.envelope_mm, d.machine_class) for d in from_xml.devices
    ]
    assert [d.state_items() for d in from_json.devices] == [
        d.state_items() for d in from_xml.devices
    ]
