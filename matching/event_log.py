"""An order-independent, idempotent log of machine events, with counted rejections.

Idempotence: the log keys events by ``event_id`` and by content (machine, time and values), so a
re-sent batch or the same observation arriving by MQTT and by the agent counts once; the timeline
is computed from the *set* of accepted events sorted by (timestamp, event_id), so arrival order
does not matter. ``dedupe_events`` applies the same rule to a collection at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from matching.errors import InvalidEvent
from matching.events import MAX_ID_LEN, MachineEvent, format_timestamp, parse_event_json


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
