"""One normalised machine event, the state it implies, and its JSON and timestamp parsing.

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

Deduplication and the in-memory log are in ``matching.event_log``; MQTT topics and message
limits in ``matching.mqtt_messages``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
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
                    f"got {short_repr(value)}",
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
                    f"{name} {short_repr(value)} is not MTConnect vocabulary; use one of "
                    f"{', '.join(allowed)}",
                    detail={"field": name, "value": short_repr(value)},
                )
        pc = self.part_count
        if pc is not None and (
            isinstance(pc, bool) or not isinstance(pc, int) or not 0 <= pc <= MAX_PART_COUNT
        ):
            raise InvalidEvent(
                f"part_count must be a whole number from 0 to {MAX_PART_COUNT}, "
                f"got {short_repr(pc)}",
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


def short_repr(value: Any, limit: int = 40) -> str:
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
                f"timestamp {short_repr(value)} is not ISO 8601 (e.g. 2025-02-28T04:00:57.652Z) or "
                "has an offset beyond +-24 h",
                detail={"field": "timestamp"},
            ) from None
        if ts.tzinfo is None and assume:
            ts = ts.replace(tzinfo=UTC)
    else:
        raise InvalidEvent(
            f"timestamp must be an ISO 8601 string, got {short_repr(value)}",
            detail={"field": "timestamp"},
        )
    if ts.tzinfo is None:
        raise InvalidEvent(
            f"timestamp {short_repr(value)} has no timezone: add 'Z' for UTC or an offset like "
            "+09:00",
            detail={"field": "timestamp"},
        )
    offset = ts.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise InvalidEvent(
            f"timestamp {short_repr(value)} has an offset beyond +-14 h: no time zone has it",
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
                f"{name} {short_repr(inside)} in the payload does not match {given!r} of the "
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
            raise InvalidEvent(
                f"{name} must be a string, got {short_repr(v)}", detail={"field": name}
            )
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
