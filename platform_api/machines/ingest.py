"""Store machine events from every path (REST, MQTT, MTConnect): once, in the caller's transaction.

Every payload is validated by the core (``matching.events.parse_event_json``); a bad one is
rejected with its index and reason and never stops the others. Accepted events are inserted in
the session's transaction, so when the request (or the MQTT message, or the MTConnect poll)
is acknowledged they are durable, and a retry after a crash finds them already there.

Idempotence, as in ``matching.event_log.EventLog`` but in the database: an event is a duplicate
when its machine already has the same ``event_id`` with the same content, or the same content
(time and values) under another id (the same observation read again after an agent restart);
an ``event_id`` reused for different content is rejected. Arrival order changes nothing: the
latest value of each field is the one reported by the event with the greatest
(timestamp, event_id), exactly the fold the core's timeline makes of the sorted set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from matching.errors import InvalidEvent
from matching.events import (
    STATE_FIELDS,
    MachineEvent,
    derive_state,
    format_timestamp,
    parse_event_json,
    parse_timestamp,
)
from platform_api.db.models import MachineEventRow, MachineStatus
from platform_api.db.types import utcnow
from platform_api.machines import repository
from platform_api.metrics import Metrics

#: Events stamped further ahead than this are refused (a machine clock set wrong).
MAX_FUTURE = timedelta(minutes=10)
MAX_BATCH = 5000


@dataclass(frozen=True)
class Rejected:
    """A payload that was not stored: its index in the batch, an error code and the reason."""

    index: int
    code: str
    reason: str
    event_id: str | None = None


@dataclass
class StoreReport:
    """What became of a batch: counts, rejections by index, and the events newly stored."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    stored: list[MachineEvent] = field(default_factory=list)

    def merge(self, other: StoreReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.stored += other.stored


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def content_hash(ev: MachineEvent) -> str:
    """32 hex characters identifying what ``ev`` says (time and values, not id or source)."""
    micros = (ev.timestamp - _EPOCH) // _MICROSECOND  # exact, unlike a float timestamp
    key = (
        f"{micros}|{ev.availability!r}|{ev.execution!r}|{ev.controller_mode!r}|"
        f"{ev.functional_mode!r}|{ev.part_count}|{ev.program!r}"
    )
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _row(ev: MachineEvent, digest: str) -> tuple[Any, ...]:
    return (
        ev.event_id,
        ev.source,
        ev.timestamp,
        ev.availability,
        ev.execution,
        ev.controller_mode,
        ev.functional_mode,
        ev.part_count,
        ev.program,
        digest,
    )


def row_to_event(row: MachineEventRow, *, shop: str) -> MachineEvent:
    """A stored row as the core's ``MachineEvent``."""
    return MachineEvent(
        shop=shop,
        machine=row.machine_id,
        timestamp=row.observed_at,
        source=row.source,
        event_id=row.event_id,
        availability=row.availability,
        execution=row.execution,
        controller_mode=row.controller_mode,
        functional_mode=row.functional_mode,
        part_count=row.part_count,
        program=row.program,
    )


def parse_payloads(
    payloads: Sequence[Any], *, shop: str, machine: str, source: str
) -> tuple[list[tuple[int, MachineEvent]], list[Rejected]]:
    """Validate JSON events with the core; (index, event) pairs and the rejections."""
    good: list[tuple[int, MachineEvent]] = []
    bad: list[Rejected] = []
    for i, payload in enumerate(payloads):
        try:
            good.append((i, parse_event_json(payload, shop=shop, machine=machine, source=source)))
        except InvalidEvent as err:
            eid = (
                payload.get("event_id", payload.get("id")) if isinstance(payload, Mapping) else None
            )
            bad.append(Rejected(i, err.code, err.message, None if eid is None else str(eid)[:128]))
    return good, bad


def store_events(
    *,
    session: Session,
    machine_id: str,
    events: Iterable[tuple[int, MachineEvent]],
    now: datetime | None = None,
) -> StoreReport:
    """Insert the new events of ONE machine and fold them into its status (see module doc).

    events: (index in the caller's batch, event) pairs, every event of ``machine_id``.
    """
    now = now or utcnow()
    report = StoreReport()
    pending: list[tuple[int, MachineEvent, str]] = []
    ids: dict[str, str] = {}
    digests: set[str] = set()
    for i, ev in events:
        if ev.timestamp > now + MAX_FUTURE:
            report.rejected.append(
                Rejected(
                    i,
                    InvalidEvent.code,
                    f"timestamp {format_timestamp(ev.timestamp)} is in the future (now "
                    f"{format_timestamp(now)}); check the machine's clock",
                    ev.event_id,
                )
            )
            continue
        if "\x00" in ev.event_id or (ev.program is not None and "\x00" in ev.program):
            report.rejected.append(
                Rejected(i, InvalidEvent.code, "text with NUL characters cannot be stored")
            )
            continue
        digest = content_hash(ev)
        held = ids.get(ev.event_id)
        if held is not None:
            if held == digest:
                report.duplicates += 1
            else:
                report.rejected.append(_reused(i, ev))
            continue
        if digest in digests:
            report.duplicates += 1
            continue
        ids[ev.event_id] = digest
        digests.add(digest)
        pending.append((i, ev, digest))
    inserted = repository.insert_events(
        session,
        machine_id=machine_id,
        rows=[_row(ev, d) for _, ev, d in pending],
        received_at=now,
    )
    missing = [ev.event_id for _, ev, _ in pending if ev.event_id not in inserted]
    stored = repository.hashes_of(session, machine_id=machine_id, event_ids=missing)
    for i, ev, digest in pending:
        if ev.event_id in inserted:
            report.accepted += 1
            report.stored.append(ev)
        elif ev.event_id in stored and stored[ev.event_id] != digest:
            report.rejected.append(_reused(i, ev))
        else:
            report.duplicates += 1  # same id and content, or the same content under another id
    if report.stored:
        fold_status(session=session, machine_id=machine_id, events=report.stored, now=now)
    report.rejected.sort(key=lambda r: r.index)
    return report


def _reused(i: int, ev: MachineEvent) -> Rejected:
    return Rejected(
        i,
        InvalidEvent.code,
        f"event_id {ev.event_id!r} was already used for a different report on this machine; "
        "ids must be unique per machine",
        ev.event_id,
    )


def fold_status(
    *, session: Session, machine_id: str, events: Sequence[MachineEvent], now: datetime
) -> MachineStatus:
    """Fold newly stored events into the machine's latest values and derived state."""
    newest: dict[str, MachineEvent] = {}  # field -> the batch's last report of it
    for f in STATE_FIELDS:
        last = max((ev for ev in events if getattr(ev, f) is not None), key=_order, default=None)
        if last is not None:
            newest[f] = last
    status = repository.lock_status(session, machine_id=machine_id)
    latest: dict[str, Any] = dict(status.latest)
    for f, ev in newest.items():
        held = latest.get(f)
        if held is None or (ev.timestamp, ev.event_id) > (
            parse_timestamp(held["ts"]),
            held["event_id"],
        ):
            latest[f] = {
                "value": getattr(ev, f),
                "ts": format_timestamp(ev.timestamp),
                "event_id": ev.event_id,
            }
    status.latest = latest
    status.state = state_of(latest)
    last_at = max(ev.timestamp for ev in events)
    if status.last_event_at is None or last_at > status.last_event_at:
        status.last_event_at = last_at
    status.last_received_at = now
    status.event_count = (status.event_count or 0) + len(events)
    session.add(status)
    session.flush()
    return status


def _order(ev: MachineEvent) -> tuple[datetime, str]:
    return (ev.timestamp, ev.event_id)


def state_of(latest: Mapping[str, Any]) -> str:
    """Derived state (productive, standby, setup, down, offline) of folded latest values."""

    def value(f: str) -> Any:
        v = latest.get(f)
        return None if v is None else v["value"]

    return derive_state(
        availability=value("availability"),
        execution=value("execution"),
        controller_mode=value("controller_mode"),
        functional_mode=value("functional_mode"),
    )


def count(metrics: Metrics | None, source: str, report: StoreReport) -> None:
    """Add a batch's outcome to ``mitsumori_machine_events_total``."""
    if metrics is None:
        return
    for outcome, n in (
        ("accepted", report.accepted),
        ("duplicate", report.duplicates),
        ("rejected", len(report.rejected)),
    ):
        if n:
            metrics.machine_events.labels(source=source, outcome=outcome).inc(n)


def ingest_json(
    *,
    session: Session,
    shop: str,
    machine_id: str,
    payloads: Sequence[Any],
    source: str,
    metrics: Metrics | None = None,
    now: datetime | None = None,
) -> StoreReport:
    """Validate and store a batch of JSON events for one machine of ``shop``."""
    good, bad = parse_payloads(payloads, shop=shop, machine=machine_id, source=source)
    report = store_events(session=session, machine_id=machine_id, events=good, now=now)
    report.rejected = sorted(report.rejected + bad, key=lambda r: r.index)
    count(metrics, source, report)
    return report
