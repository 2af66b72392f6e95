"""Capacity of machines and shops from stored events, bookings and working calendars.

Per machine: its stored events of the last ``LOAD_WINDOW_DAYS`` days fold into a state
timeline (``matching.capacity.state_timeline``; ``MAX_SILENCE`` without a report counts as
offline, so a machine that stops reporting is not taken as busy); the timeline gives the learned
hour-of-week load (``learn_load``: recent weeks weigh more, stale data is trusted less and
falls back to a 50 % prior); the shop's calendar minus bookings minus that load gives spare
hours per day (``spare_hours_by_day``). Per shop, machines are summed by class
(``aggregate_capacity``).

The learned load is cached on the machine's status row and recomputed when events arrived
since, or after ``LOAD_TTL`` (its staleness weighting depends on the time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlmodel import Session

from matching.capacity import (
    Booking,
    DailyCapacity,
    LoadProfile,
    MachineCapacity,
    ShopCapacity,
    StateSpan,
    WorkingCalendar,
    aggregate_capacity,
    learn_load,
    spare_hours_by_day,
    state_timeline,
)
from matching.events import BUSY_STATES, STATES
from platform_api.capacity import repository
from platform_api.capacity.schemas import (
    CalendarBody,
    CalendarPublic,
    CapabilitiesBody,
    ClassCapacity,
    DayCapacity,
    MachineSummary,
    ShopCapacityPublic,
    StateSpanPublic,
    TimelineSummary,
)
from platform_api.capacity.schemas import MachineCapacity as MachineCapacityPublic
from platform_api.db.models import Machine, MachineBooking, MachineStatus, ShopSettings
from platform_api.db.types import utcnow
from platform_api.machines import ingest
from platform_api.machines import repository as machines_repository
from platform_api.machines.service import MATCH_CLASS
from platform_api.orgs import repository as orgs_repository

LOAD_WINDOW_DAYS = 56  # two half-lives of learn_load's 28-day weighting
MAX_SILENCE = timedelta(hours=12)
LOAD_TTL = timedelta(hours=1)
STALE_AFTER = timedelta(days=1)
SUMMARY_DAYS = 7
RECENT_SPANS = 12
DEFAULT_MATERIALS = ("aluminium", "steel", "stainless", "copper_alloy")
DEFAULT_BASE_LEAD_DAYS = 5.0


def machine_class(m: Machine) -> str:
    """The class capacity and matching group a machine in (its type when not matchable)."""
    return MATCH_CLASS.get(m.machine_type, m.machine_type)


# --- calendar and capabilities -------------------------------------------------------------------


def calendar_from(settings: ShopSettings | None) -> WorkingCalendar:
    """The shop's calendar, or the standard one (8-17 with a lunch hour, Mon-Fri, Tokyo)."""
    cal = settings.calendar if settings is not None else None
    if not cal:
        return WorkingCalendar.standard()
    return WorkingCalendar(
        shifts=tuple(tuple((float(a), float(b)) for a, b in day) for day in cal["shifts"]),
        holidays=frozenset(date.fromisoformat(d) for d in cal.get("holidays", [])),
        tz=cal.get("tz", "Asia/Tokyo"),
    )


def calendar_public(settings: ShopSettings | None) -> CalendarPublic:
    cal = calendar_from(settings)
    monday = date(2024, 1, 1)  # a Monday that is no holiday of any calendar stored today
    hours = sum(
        float(sum(e - s for s, e in cal.shifts[(monday + timedelta(days=i)).weekday()]))
        for i in range(7)
    )
    return CalendarPublic(
        shifts=[list(day) for day in cal.shifts],
        holidays=sorted(cal.holidays),
        tz=cal.tz,
        default=not (settings is not None and settings.calendar),
        hours_per_week=hours,
    )


def set_calendar(*, session: Session, org_id: str, body: CalendarBody) -> CalendarPublic:
    """Store a shop's working calendar (checked by the core: 0-24 h, no overlaps, known zone)."""
    WorkingCalendar(
        shifts=tuple(tuple(day) for day in body.shifts),
        holidays=frozenset(body.holidays),
        tz=body.tz,
    )  # raises InvalidCalendar (422) with the reason
    row = repository.get_or_new_settings(session, org_id=org_id)
    row.calendar = {
        "shifts": [[[float(a), float(b)] for a, b in sorted(day)] for day in body.shifts],
        "holidays": sorted(d.isoformat() for d in set(body.holidays)),
        "tz": body.tz,
    }
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return calendar_public(row)


def get_calendar(*, session: Session, org_id: str) -> CalendarPublic:
    return calendar_public(repository.get_settings(session, org_id=org_id))


def capabilities_public(settings: ShopSettings | None) -> CapabilitiesBody:
    materials = list(settings.materials) if settings is not None else []
    lead = settings.base_lead_days if settings is not None else None
    return CapabilitiesBody(materials=materials, base_lead_days=lead)


def set_capabilities(*, session: Session, org_id: str, body: CapabilitiesBody) -> CapabilitiesBody:
    """Store the materials a shop cuts and its base lead days."""
    from matching.profiles import FAMILIES, material_family

    for m in body.materials:
        if m not in FAMILIES and material_family(m) == "other" and m.strip().lower() != "other":
            from platform_api.errors import InvalidRequest

            raise InvalidRequest(
                f"unknown material {m!r}: give a JIS name (A5052, SUS304, ...) or a family "
                f"({', '.join(FAMILIES)})",
                detail={"material": m},
            )
    row = repository.get_or_new_settings(session, org_id=org_id)
    row.materials = sorted({m.strip() for m in body.materials})
    row.base_lead_days = body.base_lead_days
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return capabilities_public(row)


def get_capabilities(*, session: Session, org_id: str) -> CapabilitiesBody:
    return capabilities_public(repository.get_settings(session, org_id=org_id))


# --- machines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineView:
    """What the capacity routes and matching need about one machine at ``now``."""

    machine: Machine
    status: MachineStatus | None
    load: LoadProfile
    days: tuple[DailyCapacity, ...]
    spans: tuple[StateSpan, ...] | None  # only when asked for (the timeline summary)

    @property
    def machine_class(self) -> str:
        return machine_class(self.machine)


def _timeline(session: Session, m: Machine, *, shop: str, now: datetime) -> tuple[StateSpan, ...]:
    rows = machines_repository.events_between(
        session, machine_id=m.id, start=now - timedelta(days=LOAD_WINDOW_DAYS), end=now
    )
    events = [ingest.row_to_event(r, shop=shop) for r in rows]
    return state_timeline(events, until=now, max_silence=MAX_SILENCE) if events else ()


def _cached_load(status: MachineStatus | None, *, now: datetime, tz: str) -> LoadProfile | None:
    """The machine's cached learned load if still valid: same events, calendar zone, within TTL."""
    if status is None or status.load_computed_at is None:
        return None
    cached = status.load or {}
    if not (
        cached.get("event_count") == status.event_count
        and cached.get("tz") == tz
        and timedelta(0) <= now - status.load_computed_at < LOAD_TTL
    ):
        return None
    last = cached.get("last_seen")
    return LoadProfile(
        utilisation=np.asarray(cached["utilisation"], dtype=float),
        observed_hours=np.asarray(cached["observed_hours"], dtype=float),
        last_seen=datetime.fromisoformat(last) if last else None,
        prior=float(cached["prior"]),
        trust=float(cached["trust"]),
    )


def _load(
    session: Session,
    m: Machine,
    status: MachineStatus | None,
    *,
    shop: str,
    now: datetime,
    tz: str,
    spans: tuple[StateSpan, ...] | None,
) -> tuple[LoadProfile, tuple[StateSpan, ...] | None]:
    """The machine's learned load: the cache when valid, else learnt here (and not stored:
    a read writes nothing; ``refresh_loads`` keeps the cache)."""
    if spans is None:
        cached = _cached_load(status, now=now, tz=tz)
        if cached is not None:
            return cached, None
        spans = _timeline(session, m, shop=shop, now=now)
    last_seen = status.last_event_at if status is not None else None
    return learn_load(spans, now=now, tz=tz, last_seen=last_seen), spans


def _load_json(load: LoadProfile, *, event_count: int, tz: str) -> dict[str, Any]:
    return {
        "utilisation": [round(float(v), 5) for v in load.utilisation],
        "observed_hours": [round(float(v), 4) for v in load.observed_hours],
        "last_seen": load.last_seen.isoformat() if load.last_seen else None,
        "prior": load.prior,
        "trust": load.trust,
        "event_count": event_count,
        "tz": tz,
    }


def refresh_loads(session: Session, *, now: datetime, org_ids: Sequence[str] | None = None) -> int:
    """Relearn and store every machine load whose cache is missing or out of date; how many.

    Run by the cache refresher (a background thread of the server) and ``mitsumori cache
    refresh``, never by a read, so a GET stays safe to retry.
    """
    if org_ids is None:
        org_ids = [o.id for o in orgs_repository.shops(session)]
    settings = repository.settings_of(session, list(org_ids))
    machines = machines_repository.all_of_shops(session, list(org_ids))
    status = machines_repository.statuses(session, [m.id for m in machines])
    done = 0
    for m in machines:
        st = status.get(m.id)
        tz = calendar_from(settings.get(m.org_id)).tz
        if st is None or _cached_load(st, now=now, tz=tz) is not None:
            continue
        spans = _timeline(session, m, shop=m.org_id, now=now)
        load = learn_load(spans, now=now, tz=tz, last_seen=st.last_event_at)
        repository.save_load(
            session,
            machine_id=m.id,
            load=_load_json(load, event_count=st.event_count, tz=tz),
            computed_at=now,
        )
        done += 1
    return done


def _bookings(rows: Sequence[MachineBooking]) -> dict[str, list[Booking]]:
    out: dict[str, list[Booking]] = {}
    for b in rows:
        out.setdefault(b.machine_id, []).append(
            Booking(
                machine=b.machine_id,
                start=b.starts_at,
                end=b.ends_at,
                hours=b.hours,
                job_ref=b.job_ref,
            )  # fmt: skip
        )
    return out


def machine_views(
    session: Session,
    machines: Sequence[Machine],
    *,
    calendars: dict[str, WorkingCalendar],
    now: datetime,
    days: int = 30,
    with_spans: bool = False,
) -> list[MachineView]:
    """Load and daily capacity of each machine (``calendars``: shop id -> calendar)."""
    ids = [m.id for m in machines]
    status = machines_repository.statuses(session, ids)
    bookings = _bookings(
        machines_repository.bookings_for(session, ids, not_before=now - timedelta(days=1))
    )
    views = []
    for m in machines:
        cal = calendars.get(m.org_id) or WorkingCalendar.standard()
        st = status.get(m.id)
        spans = _timeline(session, m, shop=m.org_id, now=now) if with_spans else None
        load, spans = _load(session, m, st, shop=m.org_id, now=now, tz=cal.tz, spans=spans)
        start = today_in(cal, now)
        daily = spare_hours_by_day(
            cal, start=start, days=days, bookings=bookings.get(m.id, ()), load=load
        )
        views.append(MachineView(m, st, load, daily, spans if with_spans else None))
    return views


def today_in(cal: WorkingCalendar, now: datetime) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(cal.tz)).date()


def _staleness(view: MachineView, now: datetime) -> tuple[float | None, bool]:
    last = view.status.last_event_at if view.status is not None else None
    if last is None:
        return None, True
    age = now - last
    return round(max(age.total_seconds(), 0.0) / 3600.0, 2), age > STALE_AFTER


def _days_public(days: Sequence[DailyCapacity]) -> list[DayCapacity]:
    return [
        DayCapacity(
            day=d.day,
            working_hours=round(d.working_hours, 3),
            booked_hours=round(d.booked_hours, 3),
            expected_hours=round(d.expected_hours, 3),
            spare_hours=round(d.spare_hours, 3),
        )
        for d in days
    ]


def _summary(spans: Sequence[StateSpan], now: datetime) -> TimelineSummary:
    start = now - timedelta(days=SUMMARY_DAYS)
    hours = dict.fromkeys(STATES, 0.0)
    for s in spans:
        lo, hi = max(s.start, start), min(s.end, now)
        if hi > lo:
            hours[s.state] += (hi - lo).total_seconds() / 3600.0
    observed = sum(v for k, v in hours.items() if k != "offline")
    busy = sum(hours[k] for k in BUSY_STATES)
    return TimelineSummary(
        window_start=start,
        window_end=now,
        hours_by_state={k: round(v, 3) for k, v in hours.items()},
        utilisation=round(busy / observed, 4) if observed > 0 else None,
        recent_spans=[
            StateSpanPublic(start=s.start, end=s.end, state=s.state) for s in spans[-RECENT_SPANS:]
        ],
    )


def machine_capacity(
    *, session: Session, org_id: str, machine_id: str, days: int = 30, now: datetime | None = None
) -> MachineCapacityPublic:
    """One machine of ``org_id``: state, staleness, timeline, load, spare hours per day."""
    from platform_api.machines import service as machines_service

    now = now or utcnow()
    m = machines_service.get(session=session, org_id=org_id, machine_id=machine_id)
    cal = calendar_from(repository.get_settings(session, org_id=org_id))
    (view,) = machine_views(
        session, [m], calendars={org_id: cal}, now=now, days=days, with_spans=True
    )
    staleness, stale = _staleness(view, now)
    return MachineCapacityPublic(
        machine_id=m.id,
        name=m.name,
        machine_class=view.machine_class,
        state=view.status.state if view.status is not None else "offline",
        last_seen=view.status.last_event_at if view.status is not None else None,
        staleness_hours=staleness,
        stale=stale,
        trust=round(view.load.trust, 4),
        timeline=_summary(view.spans or (), now) if view.spans else None,
        utilisation_by_hour_of_week=[round(float(v), 4) for v in view.load.utilisation],
        observed_hours_by_hour_of_week=[round(float(v), 3) for v in view.load.observed_hours],
        days=_days_public(view.days),
        spare_hours_total=round(sum(d.spare_hours for d in view.days), 3),
    )


def shop_capacities(
    session: Session,
    shops: Sequence[str],
    *,
    now: datetime,
    days: int = 30,
    settings: dict[str, ShopSettings] | None = None,
) -> tuple[dict[str, ShopCapacity], dict[str, list[MachineView]]]:
    """Per shop, its machines' capacity summed by class, and the per-machine views."""
    settings = settings if settings is not None else repository.settings_of(session, list(shops))
    calendars = {s: calendar_from(settings.get(s)) for s in shops}
    machines = machines_repository.all_of_shops(session, list(shops))
    views = machine_views(session, machines, calendars=calendars, now=now, days=days)
    by_shop: dict[str, list[MachineView]] = {s: [] for s in shops}
    for v in views:
        by_shop[v.machine.org_id].append(v)
    caps: dict[str, ShopCapacity] = {}
    for shop, vs in by_shop.items():
        if not vs:
            continue
        agg = aggregate_capacity(
            MachineCapacity(shop, v.machine.id, v.machine_class, v.days) for v in vs
        )
        caps[shop] = agg[shop]
    return caps, by_shop


def shop_capacity(
    *, session: Session, org_id: str, days: int = 30, now: datetime | None = None
) -> ShopCapacityPublic:
    """Spare hours per day for the next ``days`` days, by machine class, of shop ``org_id``."""
    now = now or utcnow()
    settings = repository.settings_of(session, [org_id])
    cal = calendar_from(settings.get(org_id))
    caps, views = shop_capacities(session, [org_id], now=now, days=days, settings=settings)
    cap = caps.get(org_id)
    mine = views.get(org_id, [])
    by_class = []
    if cap is not None:
        for cls in sorted(cap.spare):
            spare = np.asarray(cap.spare[cls], dtype=float)
            working = np.asarray(cap.working[cls], dtype=float)
            by_class.append(
                ClassCapacity(
                    machine_class=cls,
                    machines=sum(1 for v in mine if v.machine_class == cls),
                    idle_machines=int(cap.idle_machines.get(cls, 0)),
                    spare_hours=[round(float(x), 3) for x in spare],
                    working_hours=[round(float(x), 3) for x in working],
                    spare_hours_next_7_days=round(float(spare[:7].sum()), 3),
                    spare_hours_total=round(float(spare.sum()), 3),
                )
            )
    summaries = []
    for v in mine:
        staleness, stale = _staleness(v, now)
        summaries.append(
            MachineSummary(
                machine_id=v.machine.id,
                name=v.machine.name,
                machine_class=v.machine_class,
                state=v.status.state if v.status is not None else "offline",
                last_seen=v.status.last_event_at if v.status is not None else None,
                staleness_hours=staleness,
                stale=stale,
                trust=round(v.load.trust, 4),
                spare_hours_next_7_days=round(sum(d.spare_hours for d in v.days[:7]), 3),
            )
        )
    totals = []
    start = today_in(cal, now)
    for i in range(days):
        ds = [v.days[i] for v in mine]
        totals.append(
            DailyCapacity(
                day=start + timedelta(days=i),
                working_hours=sum(d.working_hours for d in ds),
                booked_hours=sum(d.booked_hours for d in ds),
                expected_hours=sum(d.expected_hours for d in ds),
                spare_hours=sum(d.spare_hours for d in ds),
            )
        )
    return ShopCapacityPublic(
        shop_id=org_id,
        start=start,
        days=days,
        tz=cal.tz,
        by_class=by_class,
        machines=summaries,
        totals=_days_public(totals),
    )
