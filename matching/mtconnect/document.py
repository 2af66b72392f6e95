"""What every MTConnect agent document shares: guarded XML and JSON readers, the ``Header``
and the state vocabulary (observation element / data item type -> ``MachineEvent`` field)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from matching.errors import InvalidDocument, InvalidEvent
from matching.events import parse_timestamp

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
TYPE_TO_TAG = {
    t: tag for tag, f in OBSERVATION_FIELDS.items() for t, f2 in DATA_ITEM_FIELDS.items() if f == f2
}
#: Part counters that count all parts (a GOOD/BAD/TARGET counter is not the machine's output).
PART_COUNT_SUBTYPES = {None, "", "ALL", "TOTAL", "COMPLETE"}
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
#: Highest sequence number taken from an agent. cppagent counts in uint64 from 1 at each start;
#: 2**53 lasts 285 years at a million observations a second, stays exact in JSON and fits
#: BIGINT with room for sums. Anything above is a corrupted or hostile header.
MAX_SEQUENCE = 2**53


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(data: bytes | str, what: str) -> ET.Element:
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


def float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON 1e400 is inf
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
            first_sequence=int_or_none(a.get("firstSequence")),
            last_sequence=int_or_none(a.get("lastSequence")),
            next_sequence=int_or_none(a.get("nextSequence")),
            buffer_size=int_or_none(a.get("bufferSize")),
        )


def looks_json(data: bytes | str) -> bool:
    head = data[:64].lstrip() if isinstance(data, str) else data[:64].lstrip().decode("latin-1")
    return head.startswith("{")


def load_json(data: bytes | str, what: str) -> Any:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"{what} document is over {MAX_DOCUMENT_BYTES // 2**20} MiB")
    try:
        return json.loads(data)
    except ValueError as err:
        raise InvalidDocument(f"{what} document is not valid JSON: {err}") from None
    except RecursionError:
        raise InvalidDocument(f"{what} document is nested too deeply to be MTConnect") from None


def ci_get(d: Mapping[str, Any], *names: str) -> Any:
    lower = {str(k).lower(): v for k, v in d.items()}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
