"""Machine state timelines, learned load, and spare hours per day for the next weeks.

Definitions (all hours are machine hours, times in the shop's local zone for calendars):

- **Timeline**: the fold of a machine's accepted events in time order (``events.py``), as spans
  of constant derived state. A silence longer than ``max_silence`` (when given) turns into
  "offline": nothing was heard, so nothing is known.
- **Utilisation by hour of week**: for each of the 168 hours (Monday 00:00 local = bin 0), busy
  hours (productive, setup, down) over observed hours (every state but offline, which says
  nothing about load). Old weeks count less: an observation ``a`` days old weighs
  ``0.5 ** (a / half_life_days)``, an exponentially weighted estimate.
- **Shrinkage and staleness**: a bin with few observed hours is pulled toward a prior
  utilisation, ``u = (busy_w + prior * prior_hours) / (observed_w + prior_hours)``; and the whole
  profile is trusted less as the last report ages: with ``trust = 0.5 ** (days since last
  seen / staleness_half_life_days)``, the load used is ``trust * u + (1 - trust) * prior``.
  A machine silent for a week is halfway back to the prior; after a month it is the prior.
- **Spare hours** of a day: for each working hour fraction ``w`` (from the calendar), booked
  part ``b`` (bookings, within working time only) and expected load ``e = w * u(hour of week)``,
  ``spare = w - max(b, e)``. Bookings are the known part of the load that history measures, so
  they are not subtracted twice: near days are mostly booked (``b`` dominates), far days carry
  the learned rate (``e`` dominates). So working = booked + expected (beyond bookings) + spare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from matching.errors import InvalidBooking, InvalidCalendar, InvalidEvent
from matching.event_log import dedupe_events
from matching.events import BUSY_STATES, MachineEvent, Snapshot

HOURS_PER_WEEK = 168
DEFAULT_TZ = "Asia/Tokyo"
#: Machine classes the platform knows (``mtconnect`` guesses one from a probe).
MACHINE_CLASSES = ("3-axis", "4-axis", "5-axis", "lathe", "mill-turn")


@dataclass(frozen=True)
class StateSpan:
    """A stretch of constant state: [start, end) in UTC."""

    start: datetime
    end: datetime
    state: str

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


def state_timeline(
    events: Iterable[MachineEvent],
    *,
    until: datetime | None = None,
    max_silence: timedelta | None = None,
) -> tuple[StateSpan, ...]:
    """Spans of derived state of ONE machine, from the set of its events.

    until: extend the last state to this time (default: the last event's time).
    max_silence: after this long without any event, the state is "offline" until the next one.
    Duplicates and arrival order do not matter (``dedupe_events`` sorts the set first).
    """
    evs = dedupe_events(events)
    if not evs:
        return ()
    machines = {(e.shop, e.machine) for e in evs}
    if len(machines) > 1:
        raise InvalidEvent(
            f"state_timeline takes one machine's events, got {len(machines)} machines",
            detail={"machines": sorted(f"{s}/{m}" for s, m in machines)},
        )
    end_time = evs[-1].timestamp if until is None else max(until, evs[-1].timestamp)
    spans: list[StateSpan] = []
    snap = Snapshot()

    def push(start: datetime, end: datetime, state: str) -> None:
        if end <= start:
            return
        if spans and spans[-1].state == state and spans[-1].end == start:
            spans[-1] = StateSpan(spans[-1].start, end, state)
        else:
            spans.append(StateSpan(start, end, state))

    for i, ev in enumerate(evs):
        snap = snap.apply(ev)
        nxt = evs[i + 1].timestamp if i + 1 < len(evs) else end_time
        if max_silence is not None and nxt - ev.timestamp > max_silence:
            push(ev.timestamp, ev.timestamp + max_silence, snap.state)
            push(ev.timestamp + max_silence, nxt, "offline")
        else:
            push(ev.timestamp, nxt, snap.state)
    return tuple(spans)


def _hour_chunks(
    start: datetime, end: datetime, tz: ZoneInfo
) -> Iterable[tuple[int, datetime, float]]:
    """(hour-of-week bin, chunk start UTC, hours) pieces of [start, end) cut at local hours."""
    t = start
    while t < end:
        local = t.astimezone(tz)
        top = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        nxt = min(end, top.astimezone(UTC))
        if nxt <= t:  # DST folds cannot happen in Japan; guard against a zero step anyway
            nxt = t + timedelta(hours=1)
        yield local.weekday() * 24 + local.hour, t, (nxt - t).total_seconds() / 3600.0
        t = nxt


@dataclass(frozen=True)
class LoadProfile:
    """Expected busy fraction of each hour of week for one machine.

    utilisation: shape (168,), in [0, 1], already shrunk and staleness-adjusted.
    observed_hours: shape (168,), age-weighted observed hours behind each bin.
    last_seen: time of the newest event (None if never seen). trust: weight kept on the
    learned values (1 = fresh data), the rest on ``prior``.
    """

    utilisation: np.ndarray
    observed_hours: np.ndarray
    last_seen: datetime | None
    prior: float
    trust: float


def learn_load(
    spans: Sequence[StateSpan],
    *,
    now: datetime,
    tz: str = DEFAULT_TZ,
    half_life_days: float = 28.0,
    prior: float = 0.5,
    prior_hours: float = 2.0,
    staleness_half_life_days: float = 7.0,
    last_seen: datetime | None = None,
) -> LoadProfile:
    """Learn a machine's hour-of-week load from its timeline (see the module docstring).

    now: the time the forecast is made (spans after it are ignored). last_seen: newest report
    (default: the end of the last span that is not offline). prior: utilisation assumed with no
    data (0.5 = half the working time busy). prior_hours: weight of the prior in hours.
    """
    zone = ZoneInfo(tz)
    busy = np.zeros(HOURS_PER_WEEK)
    observed = np.zeros(HOURS_PER_WEEK)
    for sp in spans:
        if sp.state == "offline" or sp.start >= now:
            continue
        for how, t, hours in _hour_chunks(sp.start, min(sp.end, now), zone):
            age_days = (now - t).total_seconds() / 86400.0
            w = 0.5 ** (age_days / half_life_days) * hours
            observed[how] += w
            if sp.state in BUSY_STATES:
                busy[how] += w
    if last_seen is None:
        seen = [min(sp.end, now) for sp in spans if sp.state != "offline" and sp.start < now]
        last_seen = max(seen) if seen else None
    u = (busy + prior * prior_hours) / (observed + prior_hours)
    if last_seen is None:
        trust = 0.0
    else:
        age = max(0.0, (now - last_seen).total_seconds() / 86400.0)
        trust = 0.5 ** (age / staleness_half_life_days)
    u = trust * u + (1.0 - trust) * prior
    return LoadProfile(np.clip(u, 0.0, 1.0), observed, last_seen, prior, trust)


# --- Calendars and bookings -------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingCalendar:
    """When a shop works: shifts per weekday (local hours) and holidays.

    shifts: 7 entries, Monday first; each a tuple of (start_hour, end_hour) with
    0 <= start < end <= 24, non-overlapping (a night shift is two pieces on two days).
    holidays: dates with no work. tz: IANA zone of the shop.
    """

    shifts: tuple[tuple[tuple[float, float], ...], ...]
    holidays: frozenset[date] = frozenset()
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        if len(self.shifts) != 7:
            raise InvalidCalendar(f"shifts needs 7 weekdays (Monday first), got {len(self.shifts)}")
        for wd, day in enumerate(self.shifts):
            last_end = 0.0
            for start, end in sorted(day):
                if not (0.0 <= start < end <= 24.0):
                    raise InvalidCalendar(
                        f"shift {start}-{end} on weekday {wd} is not within 0-24 h with start "
                        "before end (split night shifts at midnight)"
                    )
                if start < last_end:
                    raise InvalidCalendar(f"shifts overlap on weekday {wd} at {start} h")
                last_end = end
        try:
            ZoneInfo(self.tz)
        except Exception:
            raise InvalidCalendar(f"unknown time zone {self.tz!r}") from None

    @classmethod
    def standard(
        cls,
        *,
        start: float = 8.0,
        end: float = 17.0,
        lunch: tuple[float, float] | None = (12.0, 13.0),
        workdays: int = 5,
        holidays: Iterable[date] = (),
        tz: str = DEFAULT_TZ,
    ) -> WorkingCalendar:
        """Same shift on the first ``workdays`` weekdays, optionally with a lunch break."""
        pieces: tuple[tuple[float, float], ...]
        if lunch is not None and start < lunch[0] < lunch[1] < end:
            pieces = ((start, lunch[0]), (lunch[1], end))
        else:
            pieces = ((start, end),)
        shifts = tuple(pieces if d < workdays else () for d in range(7))
        return cls(shifts, frozenset(holidays), tz)

    def hour_mask(self, day: date) -> np.ndarray:
        """Worked fraction of each local hour of ``day``, shape (24,)."""
        mask = np.zeros(24)
        if day in self.holidays:
            return mask
        for start, end in self.shifts[day.weekday()]:
            for h in range(int(math.floor(start)), int(math.ceil(end))):
                mask[h] += max(0.0, min(end, h + 1) - max(start, h))
        return mask

    def working_hours(self, day: date) -> float:
        return float(self.hour_mask(day).sum())


@dataclass(frozen=True)
class Booking:
    """Work booked ahead on a machine: [start, end), or ``hours`` of work from ``start``.

    An ``hours`` booking fills the machine's free working time from ``start`` on (after the
    bookings with an end), so "12 h from Monday" on an 8 h/day calendar takes Monday and 4 h of
    Tuesday. A timed booking counts only where it overlaps working time (lights-out hours do
    not take shift capacity).
    """

    machine: str
    start: datetime
    end: datetime | None = None
    hours: float | None = None
    job_ref: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.start, datetime) or self.start.tzinfo is None:
            raise InvalidBooking("booking start must be a timezone-aware time (e.g. ...Z)")
        if (self.end is None) == (self.hours is None):
            raise InvalidBooking("give a booking either an end or hours, not both or neither")
        if self.end is not None:
            if self.end.tzinfo is None:
                raise InvalidBooking("booking end must be timezone-aware")
            if self.end <= self.start:
                raise InvalidBooking(
                    f"booking {self.job_ref or ''} ends before it starts "
                    f"({self.start.isoformat()} .. {self.end.isoformat()})"
                )
        if self.hours is not None and not (
            isinstance(self.hours, int | float) and 0 < self.hours <= 24 * 366
        ):
            raise InvalidBooking(f"booking hours must be > 0 and at most a year, got {self.hours}")


@dataclass(frozen=True)
class DailyCapacity:
    """One day of one machine (or a sum of machines): working = booked + expected + spare."""

    day: date
    working_hours: float
    booked_hours: float
    expected_hours: float
    spare_hours: float


def _booked_grid(
    calendar: WorkingCalendar,
    bookings: Sequence[Booking],
    start: date,
    days: int,
    mask: np.ndarray,
) -> np.ndarray:
    """Booked fraction of each (day, hour) slot, shape (days, 24), never above the mask."""
    zone = ZoneInfo(calendar.tz)
    grid = np.zeros((days, 24))
    origin = datetime(start.year, start.month, start.day, tzinfo=zone)
    horizon = origin + timedelta(days=days)
    for b in sorted((b for b in bookings if b.end is not None), key=lambda b: b.start):
        assert b.end is not None
        lo, hi = max(b.start, origin), min(b.end, horizon)
        for _, t, hours in _hour_chunks(lo.astimezone(UTC), hi.astimezone(UTC), zone):
            local = t.astimezone(zone)
            d = (local.date() - start).days
            if 0 <= d < days:
                grid[d, local.hour] += hours
    np.minimum(grid, mask, out=grid)
    for b in sorted(
        (b for b in bookings if b.hours is not None), key=lambda b: (b.start, b.job_ref)
    ):
        assert b.hours is not None
        left = float(b.hours)
        local = b.start.astimezone(zone)
        d0 = (local.date() - start).days
        for back in range(d0, 0):  # started before the window: work already done there
            day = start + timedelta(days=back)
            m = calendar.hour_mask(day)
            if back == d0:
                m = m * np.clip(np.arange(1, 25) - (local.hour + local.minute / 60.0), 0, 1)
            left -= float(m.sum())
        for d in range(max(d0, 0), days):
            for h in range(24):
                if left <= 0:
                    break
                free = mask[d, h] - grid[d, h]
                if d == d0:
                    # within the starting hour only the part after the start time is usable
                    after = max(0.0, (h + 1) - (local.hour + local.minute / 60.0))
                    free = min(free, after)
                take = min(max(free, 0.0), left)
                grid[d, h] += take
                left -= take
            if left <= 0:
                break
    return grid


def spare_hours_by_day(
    calendar: WorkingCalendar,
    *,
    start: date,
    days: int = 30,
    bookings: Sequence[Booking] = (),
    load: LoadProfile | np.ndarray | None = None,
) -> tuple[DailyCapacity, ...]:
    """Working, booked, expected and spare hours for each of ``days`` days from ``start``.

    load: a ``LoadProfile`` or a (168,) utilisation array; None = no expected load beyond
    bookings. See the module docstring for ``spare = w - max(b, e)`` per hour.
    """
    if days < 1 or days > 400:
        raise InvalidCalendar(f"days must be 1..400, got {days}")
    u = (
        np.zeros(HOURS_PER_WEEK)
        if load is None
        else (load.utilisation if isinstance(load, LoadProfile) else np.asarray(load, dtype=float))
    )
    if u.shape != (HOURS_PER_WEEK,):
        raise InvalidCalendar(f"load must have 168 hour-of-week values, got shape {u.shape}")
    dates = [start + timedelta(days=i) for i in range(days)]
    mask = np.stack([calendar.hour_mask(d) for d in dates])
    booked = _booked_grid(calendar, bookings, start, days, mask)
    how = np.array([[d.weekday() * 24 + h for h in range(24)] for d in dates])
    expected = mask * np.clip(u[how], 0.0, 1.0)
    taken = np.maximum(booked, expected)
    spare = mask - taken
    out = []
    for i, d in enumerate(dates):
        out.append(
            DailyCapacity(
                day=d,
                working_hours=float(mask[i].sum()),
                booked_hours=float(booked[i].sum()),
                expected_hours=float((taken[i] - booked[i]).sum()),
                spare_hours=float(spare[i].sum()),
            )
        )
    return tuple(out)


def spare_before(days: Sequence[DailyCapacity], needed_by: date) -> float:
    """Spare hours on the days strictly before ``needed_by`` (the part must ship that day)."""
    return float(sum(d.spare_hours for d in days if d.day < needed_by))


@dataclass(frozen=True)
class MachineCapacity:
    """A machine's class and its daily capacity (what ``aggregate_capacity`` sums)."""

    shop: str
    machine: str
    machine_class: str
    days: tuple[DailyCapacity, ...]


@dataclass(frozen=True)
class ShopCapacity:
    """Spare hours per day by machine class, and how many machines of each class are idle.

    spare: class -> shape (days,) hours. idle_machines: class -> machines whose spare hours over
    the first ``idle_window`` days are at least ``idle_share`` of their working hours.
    """

    shop: str
    start: date
    spare: Mapping[str, np.ndarray]
    working: Mapping[str, np.ndarray]
    idle_machines: Mapping[str, int] = field(default_factory=dict)

    def spare_before(self, needed_by: date, classes: Iterable[str] | None = None) -> float:
        n = max(0, (needed_by - self.start).days)
        keys = self.spare.keys() if classes is None else [c for c in classes if c in self.spare]
        return float(sum(self.spare[k][:n].sum() for k in keys))


def aggregate_capacity(
    machines: Iterable[MachineCapacity],
    *,
    idle_window: int = 7,
    idle_share: float = 0.5,
) -> dict[str, ShopCapacity]:
    """Per shop, the machines' daily capacity summed per class (machines must share dates)."""
    by_shop: dict[str, list[MachineCapacity]] = {}
    for m in machines:
        by_shop.setdefault(m.shop, []).append(m)
    out: dict[str, ShopCapacity] = {}
    for shop, ms in by_shop.items():
        start = ms[0].days[0].day if ms[0].days else date.min
        spare: dict[str, np.ndarray] = {}
        working: dict[str, np.ndarray] = {}
        idle: dict[str, int] = {}
        for m in ms:
            if not m.days or m.days[0].day != start:
                raise InvalidCalendar(
                    f"machine {m.machine} of {shop} starts on another day than the others"
                )
            s = np.array([d.spare_hours for d in m.days])
            w = np.array([d.working_hours for d in m.days])
            if m.machine_class in spare and len(spare[m.machine_class]) != len(s):
                raise InvalidCalendar(f"machine {m.machine} covers a different number of days")
            spare[m.machine_class] = spare.get(m.machine_class, 0) + s
            working[m.machine_class] = working.get(m.machine_class, 0) + w
            ww = w[:idle_window].sum()
            is_idle = ww > 0 and s[:idle_window].sum() >= idle_share * ww
            idle[m.machine_class] = idle.get(m.machine_class, 0) + int(is_idle)
        out[shop] = ShopCapacity(shop, start, spare, working, idle)
    return out


# --- Forecast quality -----------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastError:
    """Hourly utilisation error on a held-out window.

    mae: mean absolute error of the predicted busy fraction per hour, weighted by observed
    hours. baseline_mae: the same for a flat forecast (the training period's mean utilisation).
    bias: mean (predicted - actual). daily_mae_hours: mean absolute error of busy hours per
    day. hours: observed hours compared.
    """

    mae: float
    baseline_mae: float
    bias: float
    daily_mae_hours: float
    hours: float


def forecast_error(
    spans: Sequence[StateSpan],
    *,
    split: datetime,
    horizon_days: int = 7,
    tz: str = DEFAULT_TZ,
    half_life_days: float = 28.0,
) -> ForecastError:
    """Learn the load from spans before ``split``, score it on the next ``horizon_days``."""
    zone = ZoneInfo(tz)
    train = [StateSpan(s.start, min(s.end, split), s.state) for s in spans if s.start < split]
    prof = learn_load(train, now=split, tz=tz, half_life_days=half_life_days)
    end = split + timedelta(days=horizon_days)
    n_slots = horizon_days * 24 + 2
    busy = np.zeros(n_slots)
    obs = np.zeros(n_slots)
    slot_how = np.full(n_slots, -1)
    slot_day = np.zeros(n_slots, dtype=int)
    base = split.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    for sp in spans:
        if sp.state == "offline" or sp.end <= split or sp.start >= end:
            continue
        for how, t, hours in _hour_chunks(max(sp.start, split), min(sp.end, end), zone):
            local = t.astimezone(zone).replace(minute=0, second=0, microsecond=0)
            k = int((local - base).total_seconds() // 3600)
            obs[k] += hours
            slot_how[k] = how
            slot_day[k] = (local.date() - base.date()).days
            if sp.state in BUSY_STATES:
                busy[k] += hours
    ok = obs > 1e-9
    if not ok.any():
        raise InvalidEvent("no observed (non-offline) time after the split to score against")
    actual = busy[ok] / obs[ok]
    pred = prof.utilisation[slot_how[ok]]
    w = obs[ok]
    train_obs = prof.observed_hours.sum()
    flat = float(
        np.average(prof.utilisation, weights=prof.observed_hours) if train_obs > 0 else prof.prior
    )
    daily_err = []
    for d in np.unique(slot_day[ok]):
        sel = slot_day[ok] == d
        daily_err.append(abs(float((pred[sel] * w[sel]).sum() - (actual[sel] * w[sel]).sum())))
    return ForecastError(
        mae=float(np.average(np.abs(pred - actual), weights=w)),
        baseline_mae=float(np.average(np.abs(flat - actual), weights=w)),
        bias=float(np.average(pred - actual, weights=w)),
        daily_mae_hours=float(np.mean(daily_err)),
        hours=float(w.sum()),
    )
