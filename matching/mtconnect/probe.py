"""``/probe`` documents: devices, their axes and travel envelope, a machine class, data items."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from matching.errors import InvalidDocument
from matching.mtconnect.document import (
    DATA_ITEM_FIELDS,
    PART_COUNT_SUBTYPES,
    Header,
    ci_get,
    float_or_none,
    load_json,
    local_name,
    looks_json,
    parse_xml,
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
            if f == "part_count" and di.sub_type not in PART_COUNT_SUBTYPES:
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
        if local_name(di.tag) != "DataItem":
            continue
        t = di.get("type", "")
        types.add(t)
        if t == "ROTARY_MODE":
            modes |= {(v.text or "").strip() for v in di.iter() if local_name(v.tag) == "Value"}
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
        if local_name(child.tag) == "DataItems":
            yield from (d for d in child if local_name(d.tag) == "DataItem")


def _walk_components(
    comp: ET.Element, items: list[DataItemInfo], axes: list[AxisInfo], flags: dict[str, bool]
) -> None:
    name = local_name(comp.tag)
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
            if local_name(spec.tag) == "Specification" and spec.get("type") == "LENGTH":
                for attr in ("Nominal", "Maximum"):  # JSON documents may carry them inline
                    if spec.get(attr) is not None and length is None:
                        length = float_or_none(spec.get(attr))
                for v in spec:
                    if local_name(v.tag) in ("Nominal", "Maximum") and v.text:
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
                name=comp.get("name") or comp.get("id") or "",
                kind=kind,
                role=role,
                length_mm=length,
            )
        )
    for child in comp:
        if local_name(child.tag) == "Components":
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
    try:
        return _parse_probe_json(data) if looks_json(data) else _parse_probe_xml(data)
    except RecursionError:  # components nested thousands deep: no machine is built so
        raise InvalidDocument("probe document is nested too deeply to be MTConnect") from None


def _parse_probe_xml(data: bytes | str) -> ProbeDocument:
    root = parse_xml(data, "probe")
    if local_name(root.tag) != "MTConnectDevices":
        raise InvalidDocument(
            f"expected an MTConnectDevices (probe) document, got {local_name(root.tag)}; is the "
            "URL the agent's /probe?"
        )
    header = None
    devices: list[DeviceInfo] = []
    for child in root:
        tag = local_name(child.tag)
        if tag == "Header":
            header = Header.from_attrs(child.attrib)
        elif tag == "Devices":
            for dev in child:
                if local_name(dev.tag) != "Device":
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
    desc_el = next((c for c in dev if local_name(c.tag) == "Description"), None)
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


def _parse_probe_json(data: bytes | str) -> ProbeDocument:
    doc = load_json(data, "probe")
    body = ci_get(doc, "MTConnectDevices") if isinstance(doc, dict) else None
    body = body if isinstance(body, dict) else doc
    if not isinstance(body, dict) or ci_get(body, "Header") is None:
        raise InvalidDocument("the JSON probe has no Header; is the URL the agent's /probe?")
    header = Header.from_attrs(ci_get(body, "Header"))
    devices: list[DeviceInfo] = []
    raw_devices = ci_get(body, "Devices")
    if isinstance(raw_devices, dict):
        raw_devices = ci_get(raw_devices, "Device") or []
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
