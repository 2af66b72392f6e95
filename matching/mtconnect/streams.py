"""``/current`` and ``/sample`` documents: observations, and the state ones as events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matching.errors import InvalidDocument, InvalidEvent
from matching.events import MachineEvent, parse_timestamp
from matching.mtconnect.document import (
    MAX_SEQUENCE,
    OBSERVATION_FIELDS,
    PART_COUNT_SUBTYPES,
    TYPE_TO_TAG,
    Header,
    ci_get,
    int_or_none,
    is_number,
    load_json,
    local_name,
    looks_json,
    parse_xml,
)
from matching.mtconnect.probe import ProbeDocument


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
    try:
        header, obs = _streams_json(data) if looks_json(data) else _streams_xml(data)
    except RecursionError:
        raise InvalidDocument("streams document is nested too deeply to be MTConnect") from None
    obs.sort(key=lambda o: o.sequence)
    events, skipped = _observations_to_events(
        obs, header, shop=shop, probe=probe, machine_ids=machine_ids or {}, source=source
    )
    return StreamsDocument(header, tuple(obs), events, skipped)


def _streams_xml(data: bytes | str) -> tuple[Header, list[Observation]]:
    root = parse_xml(data, "streams")
    if local_name(root.tag) != "MTConnectStreams":
        if local_name(root.tag) == "MTConnectError":
            codes = [e.get("errorCode", "") + " " + (e.text or "") for e in root.iter()]
            msg = "; ".join(c.strip() for c in codes if c.strip())
            raise InvalidDocument(f"the agent answered with an error: {msg or 'no detail'}")
        raise InvalidDocument(
            f"expected an MTConnectStreams document, got {local_name(root.tag)}; is the URL the "
            "agent's /current or /sample?"
        )
    header = None
    obs: list[Observation] = []
    for child in root:
        tag = local_name(child.tag)
        if tag == "Header":
            header = Header.from_attrs(child.attrib)
        elif tag == "Streams":
            for ds in child:
                if local_name(ds.tag) != "DeviceStream":
                    continue
                uuid = ds.get("uuid") or ds.get("name") or ""
                dname = ds.get("name") or uuid
                for cs in ds:
                    if local_name(cs.tag) != "ComponentStream":
                        continue
                    for group in cs:
                        if local_name(group.tag) not in ("Events", "Samples", "Condition"):
                            continue
                        for o in group:
                            ob = _observation(uuid, dname, local_name(o.tag), o.attrib, o.text)
                            if ob is not None:
                                obs.append(ob)
    if header is None:
        raise InvalidDocument("the streams document has no Header")
    return header, obs


def _observation(
    uuid: str, dname: str, kind: str, attrs: Mapping[str, Any], text: Any
) -> Observation | None:
    seq = int_or_none(attrs.get("sequence"))
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
    doc = load_json(data, "streams")
    body = ci_get(doc, "MTConnectStreams") if isinstance(doc, dict) else None
    body = body if isinstance(body, dict) else doc
    if not isinstance(body, dict) or ci_get(body, "Header") is None:
        if isinstance(body, dict) and ci_get(body, "MTConnectError") is not None:
            raise InvalidDocument("the agent answered with an MTConnectError document")
        raise InvalidDocument("the JSON streams document has no Header")
    header = Header.from_attrs(ci_get(body, "Header"))
    obs: list[Observation] = []
    _walk_json(ci_get(body, "Streams"), None, "", "", obs)
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
        uuid = str(ci_get(node, "uuid"))
        dname = str(ci_get(node, "name") or uuid)
    if "dataitemid" in keys and ("sequence" in keys or "timestamp" in keys):
        kind = parent_key or ""
        dtype = ci_get(node, "type")
        if isinstance(dtype, str) and dtype in TYPE_TO_TAG:
            kind = TYPE_TO_TAG[dtype]
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
        if f == "part_count" and o.sub_type not in PART_COUNT_SUBTYPES:
            continue
        fallback.setdefault((o.device_uuid, f), o.data_item_id)
    events: list[MachineEvent] = []
    skipped: list[tuple[str, str]] = []
    for o in obs:
        f = OBSERVATION_FIELDS.get(o.kind)
        if f is None:
            continue
        if not 0 <= o.sequence <= MAX_SEQUENCE:
            skipped.append((o.data_item_id, f"sequence is outside 0..{MAX_SEQUENCE}"))
            continue
        items = primary.get(o.device_uuid)
        if items is not None:
            if items.get(o.data_item_id) != f:
                continue
        elif fallback.get((o.device_uuid, f)) != o.data_item_id:
            continue
        value: Any = o.value
        if f == "part_count":
            value = int_or_none(float(o.value)) if is_number(o.value) else None
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
