"""Simulated live machines for demos and capacity tests: the events of a machine over days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np

from matching.capacity import WorkingCalendar
from matching.events import MachineEvent


def simulate_machine_events(
    *,
    shop: str,
    machine: str,
    start: datetime,
    days: int,
    utilisation: Sequence[float] | float,
    calendar: WorkingCalendar | None = None,
    seed: int = 0,
    source: str = "mqtt",
) -> list[MachineEvent]:
    """Events of a machine that powers up each working day and runs jobs.

    utilisation: busy share of working time, one value or one per weekday (Monday first).
    Each working day: AVAILABLE at shift start, then jobs (a setup of 10-40 min, then ACTIVE
    in PRODUCTION) separated by READY gaps sized so the busy share matches, part count rising,
    and UNAVAILABLE at shift end (switched off overnight).
    """
    rng = np.random.default_rng(seed)
    cal = calendar or WorkingCalendar.standard(lunch=None)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(cal.tz)
    util = [float(utilisation)] * 7 if isinstance(utilisation, int | float) else list(utilisation)
    events: list[MachineEvent] = []
    n = 0
    parts = 0

    def emit(ts: datetime, **values: Any) -> None:
        """One event; ``values`` are MachineEvent's optional fields (state, part_count, ...)."""
        nonlocal n
        n += 1
        events.append(
            MachineEvent(
                shop=shop,
                machine=machine,
                timestamp=ts.astimezone(UTC),
                source=source,
                event_id=f"sim-{machine}-{n}",
                **values,
            )
        )

    day0 = start.astimezone(zone).date()
    for d in range(days):
        day = day0 + timedelta(days=d)
        for s_h, e_h in cal.shifts[day.weekday()] if day not in cal.holidays else ():
            t = datetime.combine(day, time(0), tzinfo=zone) + timedelta(hours=s_h)
            end = datetime.combine(day, time(0), tzinfo=zone) + timedelta(hours=e_h)
            emit(
                t,
                availability="AVAILABLE",
                execution="READY",
                controller_mode="AUTOMATIC",
                functional_mode="PRODUCTION",
                part_count=parts,
            )
            u = min(max(util[day.weekday()], 0.0), 0.98)
            while t < end:
                job = timedelta(minutes=float(rng.uniform(40, 150)))
                gap = job * (1 - u) / max(u, 0.02) * float(rng.uniform(0.6, 1.4))
                t += gap
                if t >= end:
                    break
                emit(t, functional_mode="SETUP", execution="READY")
                setup = timedelta(minutes=float(rng.uniform(10, 40)))
                run_start = t + min(setup, job / 3)
                emit(
                    min(run_start, end),
                    functional_mode="PRODUCTION",
                    execution="ACTIVE",
                    program=f"O{int(rng.integers(1000, 9999))}",
                )
                t = min(t + job, end)
                parts += int(rng.integers(1, 20))
                emit(t, execution="PROGRAM_COMPLETED", part_count=parts)
                emit(t + timedelta(seconds=1), execution="READY")
            emit(end, availability="UNAVAILABLE")
    return events
