"""Capacity arithmetic on a hand-checked calendar, learned load, staleness, forecast error."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from matching.capacity import (
    Booking,
    MachineCapacity,
    WorkingCalendar,
    aggregate_capacity,
    forecast_error,
    learn_load,
    spare_before,
    spare_hours_by_day,
    state_timeline,
)
from matching.errors import InvalidBooking, InvalidCalendar
from matching.events import MachineEvent
from matching.simulate_machines import simulate_machine_events

JST = ZoneInfo("Asia/Tokyo")
MON = date(2025, 3, 3)  # a Monday


def jst(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(hours=hour)


@pytest.fixture
def calendar() -> WorkingCalendar:
    # 08:00-12:00 and 13:00-17:00, Monday to Friday = 8 h a day; Wednesday 5 March is a holiday
    return WorkingCalendar.standard(holidays=[date(2025, 3, 5)])


def test_capacity_arithmetic_on_a_hand_checked_week(calendar: WorkingCalendar) -> None:
    bookings = [
        # Monday 10:00-15:00 overlaps work 10-12 and 13-15: 4 h (the lunch hour is not work)
        Booking("m1", jst(MON, 10), end=jst(MON, 15), job_ref="J1"),
        # 12 h from Tuesday 08:00: all of Tuesday (8 h), Wednesday is a holiday, Thursday 08-12
        Booking("m1", jst(MON + timedelta(1), 8), hours=12, job_ref="J2"),
        # Saturday has no shift: a lights-out booking takes no shift capacity
        Booking("m1", jst(MON + timedelta(5), 9), end=jst(MON + timedelta(5), 12), job_ref="J3"),
    ]
    load = np.full(168, 0.25)  # history says a quarter of working time is busy
    days = spare_hours_by_day(calendar, start=MON, days=7, bookings=bookings, load=load)
    got = [(d.working_hours, d.booked_hours, d.expected_hours, d.spare_hours) for d in days]
    assert got == [
        # Mon: 4 h booked; the other 4 h (8-10, 15-17) carry 0.25 expected load each: 1 h
        # expected, 3 h spare. 4 + 1 + 3 = 8.
        (8.0, 4.0, 1.0, 3.0),
        (8.0, 8.0, 0.0, 0.0),  # Tue: fully booked by J2
        (0.0, 0.0, 0.0, 0.0),  # Wed: holiday
        (8.0, 4.0, 1.0, 3.0),  # Thu: J2's last 4 h in the morning, 0.25 x 4 h afternoon
        (8.0, 0.0, 2.0, 6.0),  # Fri: 0.25 x 8 h expected
        (0.0, 0.0, 0.0, 0.0),  # Sat
        (0.0, 0.0, 0.0, 0.0),  # Sun
    ]
    for d in days:
        assert d.booked_hours + d.expected_hours + d.spare_hours == pytest.approx(d.working_hours)
    # ships Friday: Mon + Tue + Wed + Thu spare = 3 + 0 + 0 + 3
    assert spare_before(days, MON + timedelta(4)) == 6.0


def test_bookings_are_not_subtracted_twice_from_the_learned_load(
    calendar: WorkingCalendar,
) -> None:
    booking = Booking("m1", jst(MON, 10), end=jst(MON, 15))
    days = spare_hours_by_day(
        calendar, start=MON, days=1, bookings=[booking], load=np.full(168, 0.75)
    )
    # per working hour: booked hours take max(1, 0.75) = 1; free hours take 0.75, leave 0.25
    # Monday: 4 booked, 4 x 0.75 = 3 expected, 4 x 0.25 = 1 spare
    d = days[0]
    assert (d.booked_hours, d.expected_hours, d.spare_hours) == (4.0, 3.0, 1.0)


def test_hours_booking_started_before_the_window(calendar: WorkingCalendar) -> None:
    fri = MON - timedelta(days=3)
    # 10 h from Friday 08:00: 8 h on Friday (before the window), 2 h on Monday 08-10
    days = spare_hours_by_day(
        calendar, start=MON, days=1, bookings=[Booking("m1", jst(fri, 8), hours=10)]
    )
    assert days[0].booked_hours == 2.0 and days[0].spare_hours == 6.0


def test_invalid_calendars_and_bookings_say_why() -> None:
    with pytest.raises(InvalidCalendar, match="7 weekdays"):
        WorkingCalendar(((),))
    with pytest.raises(InvalidCalendar, match="split night shifts"):
        WorkingCalendar.standard(start=20.0, end=30.0, lunch=None)
    with pytest.raises(InvalidCalendar, match="overlap"):
        WorkingCalendar((((8.0, 12.0), (11.0, 13.0)),) + ((),) * 6)
    with pytest.raises(InvalidBooking, match="either an end or hours"):
        Booking("m", jst(MON, 8))
    with pytest.raises(InvalidBooking, match="ends before it starts"):
        Booking("m", jst(MON, 8), end=jst(MON, 7))
    with pytest.raises(InvalidBooking, match="timezone-aware"):
        Booking("m", datetime(2025, 3, 3, 8), hours=2)


def _weekly_events(weeks: int) -> list[MachineEvent]:
    """On 08-17 JST on weekdays, ACTIVE 09-11 on Mondays, READY otherwise."""
    evs = []
    for w in range(weeks):
        for wd in range(5):
            day = MON + timedelta(days=7 * w + wd)
            seq = [(8, {"availability": "AVAILABLE", "execution": "READY"})]
            if wd == 0:
                seq += [(9, {"execution": "ACTIVE"}), (11, {"execution": "READY"})]
            seq.append((17, {"availability": "UNAVAILABLE"}))
            for h, v in seq:
                evs.append(MachineEvent("s", "m", jst(day, h), "rest", f"{day}-{h}", **v))
    return evs


def test_learned_load_shrinkage_and_staleness_by_hand() -> None:
    spans = state_timeline(_weekly_events(4))
    last = jst(MON + timedelta(days=25), 17)  # Friday of week 4, when the machine went off
    prof = learn_load(spans, now=last, half_life_days=1e9, prior=0.5, prior_hours=2.0)
    assert prof.trust == pytest.approx(1.0)
    # Monday 09:00 bin: 4 busy of 4 observed hours -> (4 + 0.5 * 2) / (4 + 2) = 5/6
    assert prof.utilisation[9] == pytest.approx(5 / 6)
    # Monday 12:00: 0 of 4 -> 1/6; Sunday 03:00 never observed (offline) -> the prior 0.5
    assert prof.utilisation[12] == pytest.approx(1 / 6)
    assert prof.utilisation[6 * 24 + 3] == pytest.approx(0.5)
    # a week later with no news: trust 0.5 -> halfway to the prior: 0.5*5/6 + 0.5*0.5 = 2/3
    stale = learn_load(spans, now=last + timedelta(days=7), half_life_days=1e9)
    assert stale.trust == pytest.approx(0.5)
    assert stale.utilisation[9] == pytest.approx(2 / 3)


def test_forecast_error_on_a_held_out_week() -> None:
    pattern = [0.9, 0.85, 0.2, 0.2, 0.6, 0.0, 0.0]  # a shop busy early in the week
    start = jst(MON, 0)
    events = simulate_machine_events(
        shop="s", machine="m", start=start, days=35, utilisation=pattern, seed=3
    )
    spans = state_timeline(events)
    err = forecast_error(spans, split=start + timedelta(days=28), horizon_days=7)
    assert err.hours > 35  # a week of shifts compared
    # the hour-of-week profile beats a flat forecast of the same mean utilisation
    assert err.mae < 0.8 * err.baseline_mae
    assert abs(err.bias) < 0.15


def test_aggregate_per_shop_and_class(calendar: WorkingCalendar) -> None:
    def cap(machine: str, cls: str, load: float) -> MachineCapacity:
        days = spare_hours_by_day(calendar, start=MON, days=14, load=np.full(168, load))
        return MachineCapacity("shop", machine, cls, days)

    agg = aggregate_capacity(
        [cap("a", "5-axis", 0.2), cap("b", "5-axis", 0.9), cap("c", "lathe", 0.0)]
    )
    shop = agg["shop"]
    # first week: 4 working days x 8 h (Wednesday is a holiday) = 32 h per machine
    assert shop.working["5-axis"][:7].sum() == 64.0
    assert shop.spare["5-axis"][:7].sum() == pytest.approx(32 * 0.8 + 32 * 0.1)
    assert shop.idle_machines == {"5-axis": 1, "lathe": 1}  # b is 90 % busy
    assert shop.spare_before(MON + timedelta(days=2), ["lathe"]) == 16.0
