"""MTConnect agent documents and SHDR adapter text, turned into machines and ``MachineEvent``s.

Parsers are namespace-agnostic (MTConnect 1.1 to 2.x only differ in the namespace URI for what
we read) and accept the agent's JSON (cppagent ``jsonVersion`` 1 and 2, and the lower-case
``streams/componentStream/events`` form of other agents) as well as XML.

- ``parse_probe``: devices -> ``DeviceInfo`` (uuid, name, axes with their LENGTH specification,
  the travel envelope, a machine class guessed from the axes, the data items).
- ``parse_streams``: ``/current`` or ``/sample`` -> header (instanceId, sequences), every
  observation, and the state events (Availability, Execution, ControllerMode, FunctionalMode,
  PartCount, Program) as ``MachineEvent``s with ``event_id = "mtc:{instanceId}:{sequence}"``.
- ``parse_shdr``: adapter lines ``timestamp|key|value|key|value...`` -> events. Recordings made
  of several concatenated runs jump back in time; see ``parse_shdr`` for how that is handled.
- ``MTConnectPoller``: polls ``/probe``, ``/current``, ``/sample?from=`` through an injected
  ``fetch(url) -> bytes``, so this module does no I/O itself.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from matching.errors import AgentUnreachable, InvalidDocument, InvalidEvent, MatchingError
from matching.events import MachineEvent, parse_timestamp

#: MTConnect observation element -> MachineEvent field.
OBSERVATION_FIELDS = {
    "Availability": "availability",
    "Execution": "execution",
    "ControllerMode": "controller_mode",
    "FunctionalMode": "functional_mode",
    "PartCount": "part_count",
    "Program": "program",
}
#: DataItem ``type`` attribute -> MachineEvent field (probe and SHDR key mapping).
DATA_ITEM_FIELDS = {
    "AVAILABILITY": "availability",
    "EXECUTION": "execution",
    "CONTROLLER_MODE": "controller_mode",
    "FUNCTIONAL_MODE": "functional_mode",
    "PART_COUNT": "part_count",
    "PROGRAM": "program",
}
_TYPE_TO_TAG = {
    t: tag for tag, f in OBSERVATION_FIELDS.items() for t, f2 in DATA_ITEM_FIELDS.items() if f == f2
}
#: Part counters that count all parts (a GOOD/BAD/TARGET counter is not the machine's output).
_PART_COUNT_SUBTYPES = {None, "", "ALL", "TOTAL", "COMPLETE"}
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(data: bytes | str, what: str) -> ET.Element:
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"{what} document is over {MAX_DOCUMENT_BYTES // 2**20} MiB")
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw:
        # Agents never send a DTD; refusing one closes the entity-expansion attacks.
        raise InvalidDocument(f"{what} document declares a DTD or entities; MTConnect has none")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as err:
        raise InvalidDocument(f"{what} document is not well-formed XML: {err}") from None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Header:
    """An agent response header.

    instance_id: changes when the agent restarts (sequence numbers start again then).
    first_sequence, last_sequence: the range still in the agent's buffer; next_sequence: where
    the next ``/sample?from=`` should start. ``None`` where the document has no such attribute.
    """

    instance_id: str
    version: str | None = None
    creation_time: datetime | None = None
    first_sequence: int | None = None
    last_sequence: int | None = None
    next_sequence: int | None = None
    buffer_size: int | None = None

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Header:
        a = {str(k)[:1].lower() + str(k)[1:]: v for k, v in attrs.items()}
        if a.get("instanceId") in (None, ""):
            raise InvalidDocument("the document header has no instanceId")
        created = None
        if a.get("creationTime"):
            try:
                created = parse_timestamp(str(a["creationTime"]), assume_utc=True)
            except InvalidEvent:
                created = None
        return cls(
            instance_id=str(a["instanceId"]),
            version=None if a.get("version") is None else str(a["version"]),
            creation_time=created,
            first_sequence=_int_or_none(a.get("firstSequence")),
            last_sequence=_int_or_none(a.get("lastSequence")),
            next_sequence=_int_or_none(a.get("nextSequence")),
            buffer_size=_int_or_none(a.get("bufferSize")),
        )


@dataclass(frozen=True)
class DataItemInfo:
    """One data item of the device model. component: element name (``Path``, ``Linear``...)."""

    id: str
    name: str | None
    type: str
    sub_type: str | None
    category: str
    component: str
    component_id: str | None


@dataclass(frozen=True)
class AxisInfo:
    """An axis component. kind: "linear" or "rotary"; role: "linear", "positioning" (a rotary
    axis that indexes or contours, as on a 5-axis trunnion) or "spindle" (turns the tool or the
    work). length_mm: the LENGTH specification's nominal travel, when the model gives one."""

    id: str
    name: str
    kind: str
    role: str
    length_mm: float | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """A device of a probe document: what the platform turns into a machine.

    envelope_mm: (X, Y, Z) travel from the linear axes' LENGTH specifications (the longest of
    axes sharing a letter, e.g. Z1 and Z4); None when the model lacks any of the three.
    machine_class: "3-axis", "4-axis", "5-axis", "lathe", "mill-turn" or "unknown".
    """

    id: str
    uuid: str
    name: str
    manufacturer: str | None
    model: str | None
    description: str | None
    axes: tuple[AxisInfo, ...]
    envelope_mm: tuple[float, float, float] | None
    machine_class: str
    has_controller: bool
    data_items: tuple[DataItemInfo, ...]

    def item(self, key: str) -> DataItemInfo | None:
        """The data item whose id or name is ``key`` (SHDR adapters send either)."""
        for di in self.data_items:
            if di.id == key:
                return di
        for di in self.data_items:
            if di.name == key:
                return di
        return None

    def state_items(self) -> dict[str, str]:
        """Data item id -> event field for the state items, first of each field in model order.

        A device can have several paths, each with an Execution; the first one stands for the
        machine (the main path), so two paths never flip the state back and forth.
        """
        out: dict[str, str] = {}
        taken: set[str] = set()
        for di in self.data_items:
            f = DATA_ITEM_FIELDS.get(di.type)
            if f is None or f in taken:
                continue
            if f == "part_count" and di.sub_type not in _PART_COUNT_SUBTYPES:
                continue
            out[di.id] = f
            taken.add(f)
        return out


@dataclass(frozen=True)
class ProbeDocument:
    header: Header
    devices: tuple[DeviceInfo, ...]

    def device(self, key: str) -> DeviceInfo:
        for d in self.devices:
            if key in (d.uuid, d.name, d.id):
                return d
        raise InvalidDocument(
            f"no device {key!r} in the probe; devices: {', '.join(d.name for d in self.devices)}"
        )


_MILL_TURN_WORDS = ("INTEGREX", "MULTUS", "NTX", "MILL-TURN", "MILLTURN", "MULTITASK")
_LATHE_WORDS = ("QUICKTURN", "QUICK TURN", "QTN", "LATHE", "TURNING")
# Vertical machining centres whose models often list only the spindle (e.g. Hurco VMX).
_VMC_WORDS = ("VMX", "VMC", "VERTICAL MACHINING")


def _classify(axes: tuple[AxisInfo, ...], text: str) -> str:
    """Machine class from the axes (and the model name where the axes are ambiguous)."""
    upper = text.upper()
    if any(w in upper for w in _MILL_TURN_WORDS):
        return "mill-turn"
    if any(w in upper for w in _LATHE_WORDS):
        return "lathe"
    letters = {a.name[:1].upper() for a in axes if a.kind == "linear"}
    if not letters and any(w in upper for w in _VMC_WORDS):
        return "3-axis"
    positioning = sum(1 for a in axes if a.role == "positioning")
    spindles = sum(1 for a in axes if a.role == "spindle")
    if {"X", "Z"} <= letters and "Y" not in letters:
        return "lathe"
    if {"X", "Y", "Z"} <= letters:
        if spindles >= 2:
            return "mill-turn"
        if positioning >= 2:
            return "5-axis"
        if positioning == 1:
            return "4-axis"
        return "3-axis"
    return "unknown"


def _rotary_role(comp: ET.Element) -> str:
    """Spindle or positioning axis, from the rotary's data items (types, ROTARY_MODE values)."""
    types: set[str] = set()
    modes: set[str] = set()
    for di in comp.iter():
        if _local(di.tag) != "DataItem":
            continue
        t = di.get("type", "")
        types.add(t)
        if t == "ROTARY_MODE":
            modes |= {(v.text or "").strip() for v in di.iter() if _local(v.tag) == "Value"}
    if modes:
        return "spindle" if modes == {"SPINDLE"} else "positioning"
    if "ANGLE" in types:
        return "positioning"
    if types & {"ROTARY_VELOCITY", "SPINDLE_SPEED"}:
        return "spindle"
    return "positioning"


def _own_items(comp: ET.Element) -> Iterator[ET.Element]:
    """DataItem elements directly under this component's DataItems (not sub-components')."""
    for child in comp:
        if _local(child.tag) == "DataItems":
            yield from (d for d in child if _local(d.tag) == "DataItem")


def _walk_components(
    comp: ET.Element, items: list[DataItemInfo], axes: list[AxisInfo], flags: dict[str, bool]
) -> None:
    name = _local(comp.tag)
    for d in _own_items(comp):
        items.append(
            DataItemInfo(
                id=d.get("id", ""),
                name=d.get("name"),
                type=d.get("type", ""),
                sub_type=d.get("subType"),
                category=d.get("category", ""),
                component=name,
                component_id=comp.get("id"),
            )
        )
    if name == "Controller":
        flags["controller"] = True
    if name in ("Linear", "Rotary"):
        length = None
        for spec in comp.iter():
            if _local(spec.tag) == "Specification" and spec.get("type") == "LENGTH":
                for attr in ("Nominal", "Maximum"):  # JSON documents may carry them inline
                    if spec.get(attr) is not None and length is None:
                        length = _float_or_none(spec.get(attr))
                for v in spec:
                    if _local(v.tag) in ("Nominal", "Maximum") and v.text:
                        try:
                            length = float(v.text)
                        except ValueError:
                            length = None
                        break
        kind = "linear" if name == "Linear" else "rotary"
        role = "linear" if kind == "linear" else _rotary_role(comp)
        axes.append(
            AxisInfo(
                id=comp.get("id", ""),
                name=comp.get("name") or comp.get("id", ""),
                kind=kind,
                role=role,
                length_mm=length,
            )
        )
    for child in comp:
        if _local(child.tag) == "Components":
            for sub in child:
                _walk_components(sub, items, axes, flags)


def _envelope(axes: Iterable[AxisInfo]) -> tuple[float, float, float] | None:
    best: dict[str, float] = {}
    for a in axes:
        if a.kind == "linear" and a.length_mm is not None and a.length_mm > 0:
            letter = a.name[:1].upper()
            best[letter] = max(best.get(letter, 0.0), a.length_mm)
    if all(k in best for k in "XYZ"):
        return (best["X"], best["Y"], best["Z"])
    return None


def parse_probe(data: bytes | str) -> ProbeDocument:
    """Devices of an agent's ``/probe`` (``MTConnectDevices``) document, XML or JSON.

    Raises ``InvalidDocument`` for anything that is not a devices document.
    """
    if _looks_json(data):
        return _parse_probe_json(data)
    root = _parse_xml(data, "probe")
    if _local(root.tag) != "MTConnectDevices":
        raise InvalidDocument(
            f"expected an MTConnectDevices (probe) document, got {_local(root.tag)}; is the URL "
            "the agent's /probe?"
        )
    header = None
    devices: list[DeviceInfo] = []
    for child in root:
        tag = _local(child.tag)
        if tag == "Header":
            header = Header.from_attrs(child.attrib)
        elif tag == "Devices":
            for dev in child:
                if _local(dev.tag) != "Device":
                    continue  # the agent's own Agent device is not a machine
                devices.append(_device_from_xml(dev))
    if header is None:
        raise InvalidDocument("the probe document has no Header")
    return ProbeDocument(header, tuple(devices))


def _device_from_xml(dev: ET.Element) -> DeviceInfo:
    items: list[DataItemInfo] = []
    axes: list[AxisInfo] = []
    flags = {"controller": False}
    _walk_components(dev, items, axes, flags)
    desc_el = next((c for c in dev if _local(c.tag) == "Description"), None)
    manufacturer = model = description = None
    if desc_el is not None:
        manufacturer = desc_el.get("manufacturer")
        model = desc_el.get("model")
        description = " ".join((desc_el.text or "").split()) or None
    text = " ".join(x for x in (model, description, dev.get("name")) if x)
    axes_t = tuple(axes)
    uuid = dev.get("uuid") or dev.get("id") or dev.get("name")
    if not uuid:
        raise InvalidDocument("a Device has no uuid, id or name")
    return DeviceInfo(
        id=dev.get("id", uuid),
        uuid=uuid,
        name=dev.get("name") or uuid,
        manufacturer=manufacturer,
        model=model,
        description=description,
        axes=axes_t,
        envelope_mm=_envelope(axes_t),
        machine_class=_classify(axes_t, text),
        has_controller=flags["controller"],
        data_items=tuple(items),
    )


def _looks_json(data: bytes | str) -> bool:
    head = data[:64].lstrip() if isinstance(data, str) else data[:64].lstrip().decode("latin-1")
    return head.startswith("{")


def _load_json(data: bytes | str, what: str) -> Any:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"{what} document is over {MAX_DOCUMENT_BYTES // 2**20} MiB")
    try:
        return json.loads(data)
    except ValueError as err:
        raise InvalidDocument(f"{what} document is not valid JSON: {err}") from None


def _ci_get(d: Mapping[str, Any], *names: str) -> Any:
    lower = {str(k).lower(): v for k, v in d.items()}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _parse_probe_json(data: bytes | str) -> ProbeDocument:
    doc = _load_json(data, "probe")
    body = _ci_get(doc, "MTConnectDevices") if isinstance(doc, dict) else None
    body = body if isinstance(body, dict) else doc
    if not isinstance(body, dict) or _ci_get(body, "Header") is None:
        raise InvalidDocument("the JSON probe has no Header; is the URL the agent's /probe?")
    header = Header.from_attrs(_ci_get(body, "Header"))
    devices: list[DeviceInfo] = []
    raw_devices = _ci_get(body, "Devices")
    if isinstance(raw_devices, dict):
        raw_devices = _ci_get(raw_devices, "Device") or []
    for dev in raw_devices or []:
        if isinstance(dev, dict) and "Device" in dev and isinstance(dev["Device"], dict):
            dev = dev["Device"]
        if not isinstance(dev, dict):
            continue
        devices.append(_device_from_xml(_json_to_element("Device", dev)))
    return ProbeDocument(header, tuple(devices))


def _json_to_element(tag: str, obj: Any) -> ET.Element:
    """A JSON device model as the equivalent XML element tree (so one walker serves both).

    Scalars become attributes; ``{"Linear": [...]}`` lists become repeated children; a ``value``
    key becomes the element text (as in JSON ``Nominal`` / ``Value`` entries).
    """
    el = ET.Element(tag)
    if not isinstance(obj, dict):
        el.text = None if obj is None else str(obj)
        return el
    for key, value in obj.items():
        if key.lower() == "value" and not isinstance(value, dict | list):
            el.text = str(value)
        elif isinstance(value, dict):
            el.append(_json_to_element(key, value))
        elif isinstance(value, list):
            wrapped = [
                v
                for v in value
                if isinstance(v, dict) and len(v) == 1 and isinstance(next(iter(v.values())), dict)
            ]
            if value and len(wrapped) == len(value):
                # JSON v1: "DataItems": [{"DataItem": {...}}, ...] -> an organizer element
                holder = ET.SubElement(el, key)
                for v in wrapped:
                    k2, v2 = next(iter(v.items()))
                    holder.append(_json_to_element(k2, v2))
            else:
                # JSON v2: "Linear": [{...}, {...}] -> repeated elements named by the key
                for v in value:
                    el.append(_json_to_element(key, v))
        else:
            el.set(key, "" if value is None else str(value))
    return el


@dataclass(frozen=True)
class Observation:
    """One observation of a streams document (any data item, not only the state ones)."""

    device_uuid: str
    device_name: str
    data_item_id: str
    name: str | None
    kind: str
    sub_type: str | None
    sequence: int
    timestamp: datetime
    value: str


@dataclass(frozen=True)
class StreamsDocument:
    """A parsed ``/current`` or ``/sample`` response.

    observations: all of them, in sequence order. events: the state observations mapped to
    ``MachineEvent``s. skipped: (dataItemId, reason) for state observations that were not valid
    (e.g. a vendor value outside the vocabulary), counted instead of stopping the ingest.
    """

    header: Header
    observations: tuple[Observation, ...]
    events: tuple[MachineEvent, ...]
    skipped: tuple[tuple[str, str], ...] = ()


def parse_streams(
    data: bytes | str,
    *,
    shop: str,
    probe: ProbeDocument | None = None,
    machine_ids: Mapping[str, str] | None = None,
    source: str = "mtconnect",
) -> StreamsDocument:
    """Observations and state events of an ``MTConnectStreams`` document (XML or JSON).

    shop: the platform shop the agent belongs to. probe: the agent's device model; it decides
    which data item stands for the machine when a device has several (first path); without it
    the item with the smallest id wins. machine_ids: device uuid -> platform machine id
    (default: the uuid). Timestamps without a zone are UTC, as the standard says.
    """
    if _looks_json(data):
        header, obs = _streams_json(data)
    else:
        header, obs = _streams_xml(data)
    obs.sort(key=lambda o: o.sequence)
    events, skipped = _observations_to_events(
        obs, header, shop=shop, probe=probe, machine_ids=machine_ids or {}, source=source
    )
    return StreamsDocument(header, tuple(obs), events, skipped)


def _streams_xml(data: bytes | str) -> tuple[Header, list[Observation]]:
    root = _parse_xml(data, "streams")
    if _local(root.tag) != "MTConnectStreams":
        if _local(root.tag) == "MTConnectError":
            codes = [e.get("errorCode", "") + " " + (e.text or "") for e in root.iter()]
            msg = "; ".join(c.strip() for c in codes if c.strip())
            raise InvalidDocument(f"the agent answered with an error: {msg or 'no detail'}")
        raise InvalidDocument(
            f"expected an MTConnectStreams document, got {_local(root.tag)}; is the URL the "
            "agent's /current or /sample?"
        )
    header = None
    obs: list[Observation] = []
    for child in root:
        tag = _local(child.tag)
        if tag == "Header":
            header = Header.from_attrs(child.attrib)
        elif tag == "Streams":
            for ds in child:
                if _local(ds.tag) != "DeviceStream":
                    continue
                uuid = ds.get("uuid") or ds.get("name") or ""
                dname = ds.get("name") or uuid
                for cs in ds:
                    if _local(cs.tag) != "ComponentStream":
                        continue
                    for group in cs:
                        if _local(group.tag) not in ("Events", "Samples", "Condition"):
                            continue
                        for o in group:
                            ob = _observation(uuid, dname, _local(o.tag), o.attrib, o.text)
                            if ob is not None:
                                obs.append(ob)
    if header is None:
        raise InvalidDocument("the streams document has no Header")
    return header, obs


def _observation(
    uuid: str, dname: str, kind: str, attrs: Mapping[str, Any], text: Any
) -> Observation | None:
    seq = _int_or_none(attrs.get("sequence"))
    ts = attrs.get("timestamp")
    if seq is None or ts is None:
        return None
    try:
        when = parse_timestamp(str(ts), assume_utc=True)
    except InvalidEvent:
        return None
    return Observation(
        device_uuid=uuid,
        device_name=dname,
        data_item_id=str(attrs.get("dataItemId", "")),
        name=None if attrs.get("name") is None else str(attrs.get("name")),
        kind=kind,
        sub_type=None if attrs.get("subType") is None else str(attrs.get("subType")),
        sequence=seq,
        timestamp=when,
        value="" if text is None else str(text).strip(),
    )


def _streams_json(data: bytes | str) -> tuple[Header, list[Observation]]:
    doc = _load_json(data, "streams")
    body = _ci_get(doc, "MTConnectStreams") if isinstance(doc, dict) else None
    body = body if isinstance(body, dict) else doc
    if not isinstance(body, dict) or _ci_get(body, "Header") is None:
        if isinstance(body, dict) and _ci_get(body, "MTConnectError") is not None:
            raise InvalidDocument("the agent answered with an MTConnectError document")
        raise InvalidDocument("the JSON streams document has no Header")
    header = Header.from_attrs(_ci_get(body, "Header"))
    obs: list[Observation] = []
    _walk_json(_ci_get(body, "Streams"), None, "", "", obs)
    return header, obs


_DEVICE_KEYS = {"componentstream", "componentstreams"}
_VALUE_KEYS = ("value", "Value", "result", "Result", "CDATA")


def _walk_json(node: Any, parent_key: str | None, uuid: str, dname: str, out: list) -> None:
    """Collect observations from either JSON layout (see the module docstring)."""
    if isinstance(node, list):
        for item in node:
            _walk_json(item, parent_key, uuid, dname, out)
        return
    if not isinstance(node, dict):
        return
    keys = {str(k).lower() for k in node}
    if "uuid" in keys and keys & _DEVICE_KEYS:
        uuid = str(_ci_get(node, "uuid"))
        dname = str(_ci_get(node, "name") or uuid)
    if "dataitemid" in keys and ("sequence" in keys or "timestamp" in keys):
        kind = parent_key or ""
        dtype = _ci_get(node, "type")
        if isinstance(dtype, str) and dtype in _TYPE_TO_TAG:
            kind = _TYPE_TO_TAG[dtype]
        attrs = {str(k)[:1].lower() + str(k)[1:]: v for k, v in node.items()}
        value = next((node[k] for k in _VALUE_KEYS if k in node), None)
        ob = _observation(uuid, dname, kind, attrs, value)
        if ob is not None:
            out.append(ob)
        return
    for key, value in node.items():
        _walk_json(value, str(key), uuid, dname, out)


def _observations_to_events(
    obs: list[Observation],
    header: Header,
    *,
    shop: str,
    probe: ProbeDocument | None,
    machine_ids: Mapping[str, str],
    source: str,
) -> tuple[tuple[MachineEvent, ...], tuple[tuple[str, str], ...]]:
    primary: dict[str, dict[str, str]] = {}  # device uuid -> data item id -> field
    if probe is not None:
        for dev in probe.devices:
            primary[dev.uuid] = dev.state_items()
    fallback: dict[tuple[str, str], str] = {}
    for o in sorted(obs, key=lambda o: o.data_item_id):
        f = OBSERVATION_FIELDS.get(o.kind)
        if f is None or o.device_uuid in primary:
            continue
        if f == "part_count" and o.sub_type not in _PART_COUNT_SUBTYPES:
            continue
        fallback.setdefault((o.device_uuid, f), o.data_item_id)
    events: list[MachineEvent] = []
    skipped: list[tuple[str, str]] = []
    for o in obs:
        f = OBSERVATION_FIELDS.get(o.kind)
        if f is None:
            continue
        items = primary.get(o.device_uuid)
        if items is not None:
            if items.get(o.data_item_id) != f:
                continue
        elif fallback.get((o.device_uuid, f)) != o.data_item_id:
            continue
        value: Any = o.value
        if f == "part_count":
            value = _int_or_none(float(o.value)) if _is_number(o.value) else None
            if value is None:
                continue  # UNAVAILABLE counter: nothing to say about the count
        try:
            events.append(
                MachineEvent(
                    shop=shop,
                    machine=machine_ids.get(o.device_uuid, o.device_uuid),
                    timestamp=o.timestamp,
                    source=source,
                    event_id=f"mtc:{header.instance_id}:{o.sequence}",
                    **{f: value},
                )
            )
        except InvalidEvent as err:
            skipped.append((o.data_item_id, err.message))
    return tuple(events), tuple(skipped)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- SHDR ----------------------------------------------------------------------------------

_SHDR_FALLBACK_KEYS = {
    "avail": "availability",
    "availability": "availability",
    "execution": "execution",
    "exec": "execution",
    "mode": "controller_mode",
    "controller_mode": "controller_mode",
    "functional_mode": "functional_mode",
    "fmode": "functional_mode",
    "part_count": "part_count",
    "partcount": "part_count",
    "program": "program",
}
_ASSET_COMMANDS = {"@ASSET@", "@UPDATE_ASSET@", "@REMOVE_ASSET@", "@REMOVE_ALL_ASSETS@"}
_CONDITION_LEVELS = {"NORMAL", "WARNING", "FAULT", "UNAVAILABLE"}
_MULTILINE = re.compile(r"--multiline--(\w+)\s*$")


@dataclass(frozen=True)
class ShdrReplay:
    """Result of ``parse_shdr``.

    events: state events (UTC, rebased where the recording jumped back); lines: data lines
    read; segments: runs found (1 + number of backward jumps rebased); offsets: the shift
    applied to each segment; skipped: (line number, reason) for lines that could not be used.
    """

    events: tuple[MachineEvent, ...]
    lines: int
    segments: int
    offsets: tuple[timedelta, ...]
    skipped: tuple[tuple[int, str], ...]


def parse_shdr(
    text: str,
    *,
    shop: str,
    machine: str,
    device: DeviceInfo | None = None,
    source: str = "shdr",
    rebase_after: timedelta | None = timedelta(seconds=60),
    gap: timedelta = timedelta(seconds=1),
) -> ShdrReplay:
    """State events from SHDR adapter text (``timestamp|key|value|key|value...`` lines).

    device: the adapter's device model (from ``parse_probe``); it tells which keys are state
    items and which are conditions (``key|level|code|severity|qualifier|text``, six fields) or
    messages (three). Without it common key names (avail, execution, mode...) are used.

    Backward time: a recording of several runs concatenated starts each run with its own clock,
    so time jumps back by minutes or hours. A jump back of more than ``rebase_after`` starts a
    new segment, shifted to begin ``gap`` after the latest time seen so far (as an adapter
    replaying it live would stamp it). Smaller jumps (threads stamping out of order by a few
    milliseconds) are kept as they are: the timeline sorts events anyway. ``rebase_after=None``
    keeps every original timestamp. Asset commands and multi-line asset bodies are skipped.
    """
    key_fields, conditions, messages = _shdr_keys(device)
    events: list[MachineEvent] = []
    skipped: list[tuple[int, str]] = []
    offsets: list[timedelta] = [timedelta(0)]
    latest: datetime | None = None
    data_lines = 0
    in_block: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if in_block is not None:
            if line.strip() == in_block:
                in_block = None
            continue
        if not line.strip() or line.startswith("*"):
            continue  # blank, or protocol commands such as "* PING" / "*adapterVersion:..."
        tokens = line.split("|")
        m = _MULTILINE.search(line)
        if m is not None:
            in_block = m.group(0).strip()
        if len(tokens) < 2:
            skipped.append((lineno, "no '|' separated fields"))
            continue
        if tokens[1] in _ASSET_COMMANDS:
            continue
        try:
            ts = parse_timestamp(tokens[0], assume_utc=True)
        except InvalidEvent as err:
            skipped.append((lineno, err.message))
            continue
        data_lines += 1
        shifted = ts + offsets[-1]
        if latest is not None and rebase_after is not None and latest - shifted > rebase_after:
            offsets.append(latest + gap - ts)
            shifted = ts + offsets[-1]
        latest = shifted if latest is None else max(latest, shifted)
        values: dict[str, Any] = {}
        i = 1
        while i < len(tokens):
            key = tokens[i]
            if key in conditions or (
                device is None
                and key not in key_fields
                and i + 5 < len(tokens)
                and tokens[i + 1] in ("NORMAL", "WARNING", "FAULT")
            ):
                i += 6  # a condition: key|level|native code|severity|qualifier|text
                continue
            if key in messages:
                i += 3
                continue
            value = tokens[i + 1] if i + 1 < len(tokens) else ""
            f = key_fields.get(key)
            if f is not None:
                if f == "part_count":
                    n = _int_or_none(float(value)) if _is_number(value) else None
                    if n is not None:
                        values[f] = n
                else:
                    values[f] = value.strip()
            i += 2
        if not values:
            continue
        try:
            events.append(
                MachineEvent(
                    shop=shop,
                    machine=machine,
                    timestamp=shifted,
                    source=source,
                    event_id=f"shdr:{machine}:{lineno}",
                    **values,
                )
            )
        except InvalidEvent as err:
            skipped.append((lineno, err.message))
    return ShdrReplay(tuple(events), data_lines, len(offsets), tuple(offsets), tuple(skipped))


def _shdr_keys(device: DeviceInfo | None) -> tuple[dict[str, str], set[str], set[str]]:
    if device is None:
        return dict(_SHDR_FALLBACK_KEYS), set(), set()
    fields: dict[str, str] = {}
    state = device.state_items()
    conditions: set[str] = set()
    messages: set[str] = set()
    for di in device.data_items:
        keys = {di.id} | ({di.name} if di.name else set())
        if di.id in state:
            for k in keys:
                fields[k] = state[di.id]
        if di.category == "CONDITION":
            conditions |= keys
        elif di.type == "MESSAGE":
            messages |= keys
    return fields, conditions, messages


# --- Polling ---------------------------------------------------------------------------------

Fetch = Callable[[str], bytes]


@dataclass
class PollerState:
    """What a poller must remember across restarts (store it next to the accepted events).

    instance_id: the agent instance the sequences belong to; next_sequence: the first sequence
    not yet read (None before the first ``/current``).
    """

    instance_id: str | None = None
    next_sequence: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "next_sequence": self.next_sequence}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> PollerState:
        if not d:
            return cls()
        seq = d.get("next_sequence")
        return cls(
            instance_id=None if d.get("instance_id") is None else str(d["instance_id"]),
            next_sequence=None if seq is None else int(seq),
        )


@dataclass(frozen=True)
class PollResult:
    """One poll: the events read and what happened.

    kind: "current" (first read or resync), "sample" (resumed from next_sequence).
    agent_restarted: the instanceId changed, sequences were reset and /current read again.
    lost: sequences that fell out of the agent's buffer before we read them (0 if none).
    urls: what was fetched. observations: every observation read (for counting and auditing).
    """

    kind: str
    events: tuple[MachineEvent, ...]
    header: Header
    agent_restarted: bool = False
    lost: int = 0
    skipped: tuple[tuple[str, str], ...] = ()
    urls: tuple[str, ...] = field(default_factory=tuple)
    observations: tuple[Observation, ...] = ()


class MTConnectPoller:
    """Polls one MTConnect agent for one shop; resumable by its ``state``.

    base_url: the agent root (``http://host:5000``, optionally with a device path).
    fetch: ``fetch(url) -> bytes``; raise on network errors or HTTP error statuses.
    count: observations per ``/sample`` request. state: a saved ``PollerState`` to resume from.
    fmt: "xml" or "json" (adds ``format=json``, which cppagent 2.x understands).

    Protocol: the first poll reads ``/current`` (the latest value of every item) and remembers
    ``nextSequence``; later polls read ``/sample?from=next&count=N``. If the answer carries a
    different instanceId, the agent restarted: its sequence numbers mean something else now,
    so the poller resets and reads ``/current`` again. If ``next`` fell out of the agent's
    buffer (``next < firstSequence``), the gap is counted as lost and ``/current`` resyncs.
    """

    def __init__(
        self,
        base_url: str,
        shop: str,
        fetch: Fetch,
        *,
        state: PollerState | None = None,
        count: int = 1000,
        fmt: str = "xml",
        machine_ids: Mapping[str, str] | None = None,
    ) -> None:
        if fmt not in ("xml", "json"):
            raise MatchingError(f"fmt must be 'xml' or 'json', got {fmt!r}")
        if count < 1:
            raise MatchingError(f"count must be >= 1, got {count}")
        self.base_url = base_url.rstrip("/")
        self.shop = shop
        self.fetch = fetch
        self.state = state if state is not None else PollerState()
        self.count = count
        self.fmt = fmt
        self.machine_ids = dict(machine_ids or {})
        self.probe_document: ProbeDocument | None = None

    def _url(self, path: str, **params: Any) -> str:
        if self.fmt == "json":
            params["format"] = "json"
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}/{path}{query}"

    def _get(self, url: str) -> bytes:
        try:
            return self.fetch(url)
        except MatchingError:
            raise
        except Exception as err:  # any transport error: the caller retries later
            raise AgentUnreachable(
                f"could not read {url}: {err}; check the agent URL and that it is running",
                detail={"url": url},
            ) from None

    def probe(self) -> ProbeDocument:
        """Read ``/probe``; remembered to pick each device's state items."""
        self.probe_document = parse_probe(self._get(self._url("probe")))
        return self.probe_document

    def poll(self) -> PollResult:
        """Read what is new since the last poll (see the class docstring)."""
        urls: list[str] = []
        st = self.state
        if st.next_sequence is None or st.instance_id is None:
            return self._resync(urls)
        url = self._url("sample", **{"from": st.next_sequence, "count": self.count})
        urls.append(url)
        doc = parse_streams(
            self._get(url), shop=self.shop, probe=self.probe_document, machine_ids=self.machine_ids
        )
        h = doc.header
        if h.instance_id != st.instance_id:
            return self._resync(urls, agent_restarted=True)
        if h.first_sequence is not None and st.next_sequence < h.first_sequence:
            return self._resync(urls, lost=h.first_sequence - st.next_sequence)
        nxt = h.next_sequence
        if nxt is None:
            nxt = max((o.sequence for o in doc.observations), default=st.next_sequence - 1) + 1
        self.state = PollerState(h.instance_id, max(nxt, st.next_sequence))
        return PollResult(
            "sample",
            doc.events,
            h,
            skipped=doc.skipped,
            urls=tuple(urls),
            observations=doc.observations,
        )

    def _resync(
        self, urls: list[str], *, agent_restarted: bool = False, lost: int = 0
    ) -> PollResult:
        url = self._url("current")
        urls.append(url)
        doc = parse_streams(
            self._get(url), shop=self.shop, probe=self.probe_document, machine_ids=self.machine_ids
        )
        self._remember(doc.header)
        return PollResult(
            "current",
            doc.events,
            doc.header,
            agent_restarted=agent_restarted,
            lost=lost,
            skipped=doc.skipped,
            urls=tuple(urls),
            observations=doc.observations,
        )

    def _remember(self, header: Header) -> None:
        nxt = header.next_sequence
        if nxt is None and header.last_sequence is not None:
            nxt = header.last_sequence + 1
        self.state = PollerState(header.instance_id, nxt)
