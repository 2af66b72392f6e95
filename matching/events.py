"""One normalised machine event, the state it implies, and an order-independent event log.

Every ingest path (REST batches, MQTT messages, MTConnect agents, SHDR adapter replays) produces
``MachineEvent`` values in MTConnect's vocabulary. An event may carry only the fields that changed
(MTConnect observations come one data item at a time); the machine's state at a moment is the fold
of every accepted event up to it, each field keeping its last reported value.

Derived state (SEMI E10 style), evaluated on that folded snapshot, first rule that applies:

==========================================================  ==============================
snapshot                                                    state
==========================================================  ==============================
availability missing or UNAVAILABLE                         offline (not reporting / off)
functional_mode MAINTENANCE                                 down (scheduled downtime)
execution STOPPED                                           down (program aborted: alarm,
                                                            e-stop or reset; E10 unscheduled)
execution ACTIVE or a pause inside a program (INTERRUPTED,  setup if functional_mode is
FEED_HOLD, OPTIONAL_STOP, PROGRAM_STOPPED, WAIT)            SETUP / TEARDOWN /
                                                            PROCESS_DEVELOPMENT (E10
                                                            engineering) or controller_mode
                                                            MANUAL / MANUAL_DATA_INPUT / EDIT;
                                                            otherwise productive
execution READY / PROGRAM_COMPLETED / unknown               setup if functional_mode is
                                                            SETUP / TEARDOWN; otherwise
                                                            standby (idle, can take work)
==========================================================  ==============================

A pause inside a program stays productive because the job still holds the machine: for capacity
what matters is whether new work could start, and ``standby`` is the only state where it could.
The value ``UNAVAILABLE`` is legal for every MTConnect data item and means "unknown".

Idempotence: the log keys events by ``event_id`` and by content (machine, time and values), so a
re-sent batch or the same observation arriving by MQTT and by the agent counts once; the timeline
is computed from the *set* of accepted events sorted by (timestamp, event_id), so arrival order
does not matter.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from matching.errors import InvalidEvent

SOURCES = ("rest", "mtconnect", "mqtt", "shdr")
UNAVAILABLE = "UNAVAILABLE"
AVAILABILITY = ("AVAILABLE", UNAVAILABLE)
EXECUTION = (
    "READY",
    "ACTIVE",
    "INTERRUPTED",
    "FEED_HOLD",
    "STOPPED",
    "OPTIONAL_STOP",
    "PROGRAM_STOPPED",
    "PROGRAM_COMPLETED",
    "WAIT",
    UNAVAILABLE,
)
CONTROLLER_MODE = (
    "AUTOMATIC",
    "MANUAL",
    "MANUAL_DATA_INPUT",
    "SEMI_AUTOMATIC",
    "EDIT",
    UNAVAILABLE,
)
FUNCTIONAL_MODE = (
    "PRODUCTION",
    "SETUP",
    "TEARDOWN",
    "MAINTENANCE",
    "PROCESS_DEVELOPMENT",
    UNAVAILABLE,
)
STATES = ("productive", "standby", "setup", "down", "offline")
#: States in which a machine cannot start new work (used by capacity).
BUSY_STATES = frozenset({"productive", "setup", "down"})

_IN_PROGRAM = frozenset(
    {"ACTIVE", "INTERRUPTED", "FEED_HOLD", "OPTIONAL_STOP", "PROGRAM_STOPPED", "WAIT"}
)
_SETUP_MODES = frozenset({"SETUP", "TEARDOWN"})
_ENGINEERING_MODES = frozenset({"SETUP", "TEARDOWN", "PROCESS_DEVELOPMENT"})
_MANUAL_MODES = frozenset({"MANUAL", "MANUAL_DATA_INPUT", "EDIT"})
_VOCAB: dict[str, tuple[str, ...]] = {
    "availability": AVAILABILITY,
    "execution": EXECUTION,
    "controller_mode": CONTROLLER_MODE,
    "functional_mode": FUNCTIONAL_MODE,
}
STATE_FIELDS = (
    "availability",
    "execution",
    "controller_mode",
    "functional_mode",
    "part_count",
    "program",
)
MAX_ID_LEN = 128
MAX_PROGRAM_LEN = 512
#: Observation times outside these years are a wrong clock or a forged value, never a report.
MIN_YEAR, MAX_YEAR = 1970, 2100
#: UTC offsets of real time zones lie within +-14 h (Kiribati +14:00, Baker Island -12:00).
MAX_UTC_OFFSET = timedelta(hours=14)
#: A controller's parts counter fits in 48 bits (PostgreSQL BIGINT and SQLite INTEGER hold it).
MAX_PART_COUNT = 2**48


@dataclass(frozen=True)
class MachineEvent:
    """One report about one machine, in MTConnect's vocabulary.

    shop, machine: platform ids (a machine id is unique within its shop).
    timestamp: when the machine observed it, timezone-aware, normalised to UTC.
    source: "rest", "mtconnect", "mqtt" or "shdr". event_id: the sender's id (REST client id,
    ``mtc:{instanceId}:{sequence}`` for agents); unique per machine.
    availability .. program: the reported values; ``None`` = not part of this report (the last
    reported value still holds); ``"UNAVAILABLE"`` = reported as unknown.
    part_count: parts counter as the controller reports it (pieces, >= 0).
    """

    shop: str
    machine: str
    timestamp: datetime
    source: str
    event_id: str
    availability: str | None = None
    execution: str | None = None
    controller_mode: str | None = None
    functional_mode: str | None = None
    part_count: int | None = None
    program: str | None = None

    def __post_init__(self) -> None:
        for name in ("shop", "machine", "event_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LEN:
                raise InvalidEvent(
                    f"{name} must be a non-empty string of at most {MAX_ID_LEN} characters, "
                    f"got {_short(value)}",
                    detail={"field": name},
                )
        if self.source not in SOURCES:
            raise InvalidEvent(
                f"source must be one of {', '.join(SOURCES)}, got {self.source!r}",
                detail={"field": "source"},
            )
        if not isinstance(self.timestamp, datetime):
            raise InvalidEvent(
                f"timestamp must be a datetime, got {type(self.timestamp).__name__}",
                detail={"field": "timestamp"},
            )
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise InvalidEvent(
                f"timestamp {self.timestamp.isoformat()} has no timezone: send UTC with a "
                "trailing 'Z' or an explicit offset such as +09:00",
                detail={"field": "timestamp"},
            )
        offset = self.timestamp.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise InvalidEvent(
                f"timestamp offset {offset} is beyond +-14 h: no time zone has it",
                detail={"field": "timestamp"},
            )
        if offset != timedelta(0):
            object.__setattr__(self, "timestamp", _to_utc(self.timestamp))
        if not MIN_YEAR <= self.timestamp.year <= MAX_YEAR:
            raise InvalidEvent(
                f"timestamp {format_timestamp(self.timestamp)} is outside the years "
                f"{MIN_YEAR}-{MAX_YEAR}; check the machine's clock",
                detail={"field": "timestamp"},
            )
        for name, allowed in _VOCAB.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise InvalidEvent(
                    f"{name} {_short(value)} is not MTConnect vocabulary; use one of "
                    f"{', '.join(allowed)}",
                    detail={"field": name, "value": _short(value)},
                )
        pc = self.part_count
        if pc is not None and (
            isinstance(pc, bool) or not isinstance(pc, int) or not 0 <= pc <= MAX_PART_COUNT
        ):
            raise InvalidEvent(
                f"part_count must be a whole number from 0 to {MAX_PART_COUNT}, got {_short(pc)}",
                detail={"field": "part_count"},
            )
        if self.program is not None and (
            not isinstance(self.program, str) or len(self.program) > MAX_PROGRAM_LEN
        ):
            raise InvalidEvent(
                f"program must be a string of at most {MAX_PROGRAM_LEN} characters",
                detail={"field": "program"},
            )
        if all(getattr(self, f) is None for f in STATE_FIELDS):
            raise InvalidEvent(
                "the event reports nothing: give at least one of " + ", ".join(STATE_FIELDS),
                detail={"event_id": self.event_id},
            )

    @property
    def content_key(self) -> tuple[Any, ...]:
        """What the event says, without its id or source: equal keys are the same report."""
        return (self.shop, self.machine, self.timestamp) + tuple(
            getattr(self, f) for f in STATE_FIELDS
        )

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.timestamp, self.event_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (timestamp as ISO 8601 UTC with 'Z')."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["timestamp"] = format_timestamp(self.timestamp)
        return d


@dataclass(frozen=True)
class Snapshot:
    """The folded values of a machine at one moment (``None`` = never reported)."""

    availability: str | None = None
    execution: str | None = None
    controller_mode: str | None = None
    functional_mode: str | None = None
    part_count: int | None = None
    program: str | None = None

    def apply(self, event: MachineEvent) -> Snapshot:
        """The snapshot after ``event``: each field it reports replaces the previous value."""
        changes = {f: getattr(event, f) for f in STATE_FIELDS if getattr(event, f) is not None}
        return replace(self, **changes) if changes else self

    @property
    def state(self) -> str:
        return derive_state(
            availability=self.availability,
            execution=self.execution,
            controller_mode=self.controller_mode,
            functional_mode=self.functional_mode,
        )


def derive_state(
    *,
    availability: str | None,
    execution: str | None = None,
    controller_mode: str | None = None,
    functional_mode: str | None = None,
) -> str:
    """SEMI E10 style state from MTConnect values (mapping table in the module docstring).

    Returns one of ``STATES``: "productive", "standby", "setup", "down" or "offline".
    """
    if availability != "AVAILABLE":
        return "offline"
    if functional_mode == "MAINTENANCE" or execution == "STOPPED":
        return "down"
    if execution in _IN_PROGRAM:
        if functional_mode in _ENGINEERING_MODES or controller_mode in _MANUAL_MODES:
            return "setup"
        return "productive"
    if functional_mode in _SETUP_MODES:
        return "setup"
    return "standby"


def _to_utc(ts: datetime) -> datetime:
    """``ts`` in UTC; a time that would leave datetime's range (year 1 at +14:00) is an error."""
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidEvent(
            f"timestamp {ts.isoformat()} is outside the years {MIN_YEAR}-{MAX_YEAR}",
            detail={"field": "timestamp"},
        ) from None


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (a 1e308 or a megabyte string stays short)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return f"an integer of over {limit} digits"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_timestamp(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_timestamp(value: Any, *, assume_utc: bool = False) -> datetime:
    """An ISO 8601 timestamp (``...Z`` or with offset) as an aware UTC datetime.

    assume_utc: MTConnect agents may omit the 'Z' (the standard says times are UTC); the REST
    and MQTT paths do not assume, so a naive time is an error there.
    Fractions finer than microseconds (the Okuma adapter writes 7 digits) are truncated.
    """
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text, assume = text[:-1], True
        else:
            assume = assume_utc
        # Python < 3.12 accepts at most 6 fractional digits: cut the rest before parsing.
        if "." in text:
            head, _, frac = text.partition(".")
            digits = len(frac) - len(frac.lstrip("0123456789"))
            frac = frac[: min(digits, 6)] + frac[digits:]
            text = f"{head}.{frac}"
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidEvent(
                f"timestamp {_short(value)} is not ISO 8601 (e.g. 2025-02-28T04:00:57.652Z) or "
                "has an offset beyond +-24 h",
                detail={"field": "timestamp"},
            ) from None
        if ts.tzinfo is None and assume:
            ts = ts.replace(tzinfo=UTC)
    else:
        raise InvalidEvent(
            f"timestamp must be an ISO 8601 string, got {_short(value)}",
            detail={"field": "timestamp"},
        )
    if ts.tzinfo is None:
        raise InvalidEvent(
            f"timestamp {_short(value)} has no timezone: add 'Z' for UTC or an offset like +09:00",
            detail={"field": "timestamp"},
        )
    offset = ts.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise InvalidEvent(
            f"timestamp {_short(value)} has an offset beyond +-14 h: no time zone has it",
            detail={"field": "timestamp"},
        )
    return _to_utc(ts)


_JSON_KEYS = {
    "event_id": "event_id",
    "id": "event_id",
    "timestamp": "timestamp",
    "availability": "availability",
    "execution": "execution",
    "controller_mode": "controller_mode",
    "mode": "controller_mode",
    "functional_mode": "functional_mode",
    "part_count": "part_count",
    "program": "program",
    "shop": "shop",
    "machine": "machine",
}


def parse_event_json(
    d: Any,
    *,
    shop: str | None = None,
    machine: str | None = None,
    source: str = "rest",
) -> MachineEvent:
    """A ``MachineEvent`` from a REST or MQTT JSON object.

    d: ``{"event_id": "c-17", "timestamp": "2025-03-03T01:02:03Z", "execution": "ACTIVE", ...}``
    (``id`` and ``mode`` are accepted aliases). shop, machine: from the route or topic; when the
    payload names them too they must agree (a shop may only report its own machines).
    Values are matched case-insensitively. Unknown keys are rejected so a typo is not silently
    ignored. Raises ``InvalidEvent`` with the reason.
    """
    if not isinstance(d, Mapping):
        raise InvalidEvent(f"an event must be a JSON object, got {type(d).__name__}")
    unknown = sorted(str(k) for k in d if k not in _JSON_KEYS)
    if unknown:
        raise InvalidEvent(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_JSON_KEYS))}",
            detail={"fields": unknown},
        )
    values: dict[str, Any] = {}
    for key, value in d.items():
        target = _JSON_KEYS[key]
        if target in values:
            raise InvalidEvent(f"field {target} given twice (as {key!r} and an alias)")
        values[target] = value
    for name, given in (("shop", shop), ("machine", machine)):
        inside = values.get(name)
        if given is not None and inside is not None and str(inside) != given:
            raise InvalidEvent(
                f"{name} {_short(inside)} in the payload does not match {given!r} of the "
                "route/topic",
                detail={"field": name},
            )
        values[name] = given if given is not None else inside
    if values.get("event_id") is None:
        raise InvalidEvent(
            "event_id is required (a client-chosen id, so re-sending a batch is harmless)",
            detail={"field": "event_id"},
        )
    if values.get("timestamp") is None:
        raise InvalidEvent("timestamp is required", detail={"field": "timestamp"})
    for name in ("shop", "machine"):
        if values.get(name) is None:
            raise InvalidEvent(f"{name} is required", detail={"field": name})
    for name in _VOCAB:
        v = values.get(name)
        if isinstance(v, str):
            values[name] = v.strip().upper()
        elif v is not None:
            raise InvalidEvent(f"{name} must be a string, got {_short(v)}", detail={"field": name})
    pc = values.get("part_count")
    if isinstance(pc, float) and abs(pc) <= MAX_PART_COUNT and pc == int(pc):
        values["part_count"] = int(pc)
    eid = values["event_id"]
    if isinstance(eid, int) and not isinstance(eid, bool):
        values["event_id"] = str(eid)
    return MachineEvent(
        shop=values["shop"],
        machine=values["machine"],
        timestamp=parse_timestamp(values["timestamp"]),
        source=source,
        event_id=values["event_id"],
        availability=values.get("availability"),
        execution=values.get("execution"),
        controller_mode=values.get("controller_mode"),
        functional_mode=values.get("functional_mode"),
        part_count=values.get("part_count"),
        program=values.get("program"),
    )


def dedupe_events(events: Iterable[MachineEvent]) -> tuple[MachineEvent, ...]:
    """The distinct events sorted by (timestamp, event_id).

    Two events are the same when they share (shop, machine, event_id) or say the same thing
    (``content_key``). Of equal ids the one with the smallest sort key is kept, so the result
    depends only on the set given, not on its order.
    """
    chosen: dict[tuple[str, str, str], MachineEvent] = {}
    for ev in sorted(events, key=lambda e: (e.sort_key, e.source)):
        chosen.setdefault((ev.shop, ev.machine, ev.event_id), ev)
    seen: set[tuple[Any, ...]] = set()
    out = []
    for ev in sorted(chosen.values(), key=lambda e: e.sort_key):
        if ev.content_key not in seen:
            seen.add(ev.content_key)
            out.append(ev)
    return tuple(out)


@dataclass(frozen=True)
class Rejection:
    """A payload that was not accepted: where it was in the batch, the error code and reason."""

    index: int
    code: str
    reason: str
    event_id: str | None = None


@dataclass(frozen=True)
class IngestReport:
    """Outcome of one batch: counts and the rejections (never an exception for bad items)."""

    accepted: int
    duplicates: int
    rejected: tuple[Rejection, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.__dict__ for r in self.rejected],
        }


@dataclass
class EventLog:
    """Accepted events of many machines, deduplicated; counts what it accepted and refused.

    max_future: events stamped further than this ahead of ``now`` (clock skew) are rejected.
    The log is in memory; the platform persists accepted events and rebuilds the log from them
    after a restart (``EventLog().add_many(stored)``): since the timeline depends only on the set
    of events, that restores it exactly.
    """

    max_future: timedelta = timedelta(minutes=10)
    counts: Counter[str] = field(default_factory=Counter)
    _by_id: dict[tuple[str, str, str], MachineEvent] = field(default_factory=dict)
    _contents: set[tuple[Any, ...]] = field(default_factory=set)

    def add(self, event: MachineEvent, *, now: datetime | None = None) -> bool:
        """Accept ``event``; False if it duplicates one already held.

        Raises ``InvalidEvent`` for an event from the future or an id reused with other values.
        """
        if now is not None and event.timestamp > now + self.max_future:
            self.counts["rejected"] += 1
            raise InvalidEvent(
                f"timestamp {format_timestamp(event.timestamp)} is in the future (now "
                f"{format_timestamp(now)}); check the machine's clock",
                detail={"event_id": event.event_id},
            )
        key = (event.shop, event.machine, event.event_id)
        held = self._by_id.get(key)
        if held is not None:
            if held.content_key != event.content_key:
                self.counts["rejected"] += 1
                raise InvalidEvent(
                    f"event_id {event.event_id!r} was already used for a different report on "
                    f"{event.machine}; ids must be unique per machine",
                    detail={"event_id": event.event_id},
                )
            self.counts["duplicate"] += 1
            return False
        if event.content_key in self._contents:
            self.counts["duplicate"] += 1
            return False
        self._by_id[key] = event
        self._contents.add(event.content_key)
        self.counts["accepted"] += 1
        return True

    def add_many(self, events: Iterable[MachineEvent], *, now: datetime | None = None) -> int:
        """Accept valid events (bad ones counted, skipped); returns how many were new."""
        new = 0
        for ev in events:
            try:
                new += self.add(ev, now=now)
            except InvalidEvent:
                pass
        return new

    def ingest(
        self,
        payloads: Iterable[Any],
        *,
        shop: str | None = None,
        machine: str | None = None,
        source: str = "rest",
        now: datetime | None = None,
    ) -> IngestReport:
        """Parse and accept a batch of JSON events; a bad item is rejected, never the batch."""
        accepted = dups = 0
        rejected: list[Rejection] = []
        for i, payload in enumerate(payloads):
            eid = payload.get("event_id") if isinstance(payload, Mapping) else None
            try:
                ev = parse_event_json(payload, shop=shop, machine=machine, source=source)
            except InvalidEvent as err:
                self.counts["rejected"] += 1  # add() counts its own refusals below
                rejected.append(Rejection(i, err.code, err.message, _str_or_none(eid)))
                continue
            try:
                if self.add(ev, now=now):
                    accepted += 1
                else:
                    dups += 1
            except InvalidEvent as err:
                rejected.append(Rejection(i, err.code, err.message, ev.event_id))
        return IngestReport(accepted, dups, tuple(rejected))

    def events(
        self, machine: str | None = None, shop: str | None = None
    ) -> tuple[MachineEvent, ...]:
        """Accepted events, sorted by (timestamp, event_id), optionally for one machine."""
        evs = [
            e
            for e in self._by_id.values()
            if (machine is None or e.machine == machine) and (shop is None or e.shop == shop)
        ]
        return tuple(sorted(evs, key=lambda e: e.sort_key))

    def machines(self) -> tuple[tuple[str, str], ...]:
        """(shop, machine) pairs seen, sorted."""
        return tuple(sorted({(e.shop, e.machine) for e in self._by_id.values()}))

    def __len__(self) -> int:
        return len(self._by_id)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)[:MAX_ID_LEN]


MQTT_PREFIX = "mitsumori"


def parse_mqtt_topic(topic: str, *, prefix: str = MQTT_PREFIX) -> tuple[str, str]:
    """(shop, machine) of a state topic ``{prefix}/{shop}/{machine}/state``.

    The broker's ACL lets a shop publish only under ``{prefix}/{its shop id}/#``; the
    subscriber checks the topic shape again and takes shop and machine from the topic, so a
    payload cannot claim another shop's machine (``parse_event_json`` rejects a mismatch).
    """
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix or parts[3] != "state" or not all(parts[1:3]):
        raise InvalidEvent(
            f"topic {topic!r} is not {prefix}/{{shop}}/{{machine}}/state",
            detail={"topic": topic},
        )
    if any(c in p for p in parts[1:3] for c in "+#"):
        raise InvalidEvent(f"topic {topic!r} has MQTT wildcards in the shop or machine")
    return parts[1], parts[2]


#: Bytes of one MQTT message (a 9,000-event array is about 1.5 MiB).
MAX_MESSAGE_BYTES = 4 * 2**20
#: Nesting of a message's JSON: an array of objects is depth 2; anything past this is hostile.
MAX_JSON_DEPTH = 8
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(payload: bytes) -> int:
    """Deepest nesting of brackets in ``payload`` outside JSON strings, without parsing it.

    Linear in the size (a regular expression and numpy), so a 100,000-deep document costs
    milliseconds instead of a recursion error in the parser.
    """
    import numpy as np

    brackets = _JSON_STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    b = np.frombuffer(brackets, dtype=np.uint8)
    steps = (b == ord("[")).astype(np.int64) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(steps).max())


def load_message(
    payload: bytes | str,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> list[Any]:
    """The JSON items of one message (an object or an array of them), limits checked first.

    Raises ``InvalidEvent`` for a payload over ``max_bytes``, nested deeper than ``max_depth``,
    not UTF-8 or not JSON. Items are not validated here (``parse_event_json`` does, one by one).
    """
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(data) > max_bytes:
        raise InvalidEvent(
            f"message of {len(data)} bytes is over the limit of {max_bytes}",
            detail={"bytes": len(data), "limit": max_bytes},
        )
    depth = json_depth(data)
    if depth > max_depth:
        raise InvalidEvent(
            f"message JSON is nested {depth} deep, over the limit of {max_depth}",
            detail={"depth": depth, "limit": max_depth},
        )
    try:
        items = json.loads(data)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise InvalidEvent(f"message is not JSON: {_short(str(err), 120)}") from None
    return items if isinstance(items, list) else [items]


def parse_mqtt_message(
    topic: str, payload: bytes | str, *, prefix: str = MQTT_PREFIX
) -> tuple[MachineEvent, ...]:
    """Events of one MQTT message: a JSON object or an array of them (``source="mqtt"``).

    Raises ``InvalidEvent`` (with the reason) for a bad topic, an oversized, too deep or
    non-JSON payload or a bad event.
    """
    shop, machine = parse_mqtt_topic(topic, prefix=prefix)
    items = load_message(payload)
    return tuple(parse_event_json(d, shop=shop, machine=machine, source="mqtt") for d in items)
