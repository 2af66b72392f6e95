"""Capacity, calendar and capability bodies. Hours are machine hours; days are the shop's local
dates; times UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict, JsonValue

# 8 h a day, Monday to Friday (cast: a list literal of floats is not a list[JsonValue] to mypy)
_WEEK = cast(list[JsonValue], [[[8.0, 12.0], [13.0, 17.0]]] * 5 + [[], []])


class CalendarBody(BaseModel):
    """A shop's working time: shifts per weekday (local hours, Monday first) and holidays."""

    shifts: list[list[tuple[float, float]]] = Field(
        min_length=7,
        max_length=7,
        description="7 lists (Monday first) of [start_hour, end_hour] pieces, 0-24, not "
        "overlapping; split a night shift at midnight",
    )
    holidays: list[date] = Field(default_factory=list, max_length=400)
    tz: str = Field(default="Asia/Tokyo", max_length=64, description="IANA time zone")
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"shifts": _WEEK, "holidays": ["2025-05-05"], "tz": "Asia/Tokyo"}]
        },
    )


class CalendarPublic(CalendarBody):
    default: bool = Field(description="True while the shop has not set its own calendar")
    hours_per_week: float


class CapabilitiesBody(BaseModel):
    """What a shop declares for matching beyond its machines."""

    materials: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Material names (A5052, SUS304) or families (aluminium, steel, stainless, "
        "copper_alloy, titanium, plastic) it cuts; empty: aluminium, steel, stainless and "
        "copper alloys. Families it has quoted are added.",
    )
    base_lead_days: float | None = Field(
        default=None, ge=0, le=120, description="Days beyond machine time: queue, finishing, "
        "inspection, shipping (default 5)"
    )  # fmt: skip
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"materials": ["aluminium", "SUS304", "C3604"], "base_lead_days": 4}]
        },
    )


class DayCapacity(BaseModel):
    day: date
    working_hours: float
    booked_hours: float
    expected_hours: float = Field(description="Load expected from history beyond bookings")
    spare_hours: float


class StateSpanPublic(BaseModel):
    start: datetime
    end: datetime
    state: str


class TimelineSummary(BaseModel):
    """The machine's state timeline over the last ``window_days`` days."""

    window_start: datetime
    window_end: datetime
    hours_by_state: dict[str, float]
    utilisation: float | None = Field(
        description="Busy (productive, setup, down) over observed (not offline) hours"
    )
    recent_spans: list[StateSpanPublic] = Field(description="The last spans, oldest first")


_DAY: JsonDict = {
    "day": "2025-03-04",
    "working_hours": 8.0,
    "booked_hours": 4.0,
    "expected_hours": 1.6,
    "spare_hours": 2.4,
}


class MachineCapacity(BaseModel):
    """One machine: live state, staleness, timeline, learned load and spare hours per day."""

    machine_id: str
    name: str
    machine_class: str
    state: str
    last_seen: datetime | None
    staleness_hours: float | None = Field(description="Hours since its newest event")
    stale: bool = Field(description="No event for more than a day (or never)")
    trust: float = Field(
        description="Weight kept on the learned load (1 fresh, halves every 7 days of silence)"
    )
    timeline: TimelineSummary | None
    utilisation_by_hour_of_week: list[float] = Field(
        description="168 values, Monday 00:00 local first: expected busy share of each hour"
    )
    observed_hours_by_hour_of_week: list[float]
    days: list[DayCapacity]
    spare_hours_total: float
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "machine_id": "mac_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "name": "Haas VF-2",
                    "machine_class": "3-axis",
                    "state": "productive",
                    "last_seen": "2025-03-04T01:02:03Z",
                    "staleness_hours": 0.1,
                    "stale": False,
                    "trust": 0.9996,
                    "timeline": {
                        "window_start": "2025-02-25T01:08:00Z",
                        "window_end": "2025-03-04T01:08:00Z",
                        "hours_by_state": {
                            "productive": 28.1,
                            "standby": 9.4,
                            "setup": 5.2,
                            "down": 0.0,
                            "offline": 125.3,
                        },  # fmt: skip
                        "utilisation": 0.78,
                        "recent_spans": [
                            {
                                "start": "2025-03-04T00:10:00Z",
                                "end": "2025-03-04T01:02:03Z",
                                "state": "productive",
                            }  # fmt: skip
                        ],
                    },
                    "utilisation_by_hour_of_week": [0.5] * 168,
                    "observed_hours_by_hour_of_week": [0.0] * 168,
                    "days": [_DAY],
                    "spare_hours_total": 2.4,
                }
            ]
        }
    )


class ClassCapacity(BaseModel):
    machine_class: str
    machines: int
    idle_machines: int = Field(description="Machines at least half free over the next 7 days")
    spare_hours: list[float] = Field(description="Per day, from ``start``")
    working_hours: list[float]
    spare_hours_next_7_days: float
    spare_hours_total: float


class MachineSummary(BaseModel):
    machine_id: str
    name: str
    machine_class: str
    state: str
    last_seen: datetime | None
    staleness_hours: float | None
    stale: bool
    trust: float
    spare_hours_next_7_days: float


class ShopCapacityPublic(BaseModel):
    """A shop's spare machine hours per day for the next days, by machine class."""

    shop_id: str
    start: date
    days: int
    tz: str
    by_class: list[ClassCapacity]
    machines: list[MachineSummary]
    totals: list[DayCapacity]
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "shop_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "start": "2025-03-04",
                    "days": 1,
                    "tz": "Asia/Tokyo",
                    "by_class": [
                        {
                            "machine_class": "5-axis",
                            "machines": 2,
                            "idle_machines": 1,
                            "spare_hours": [9.5],
                            "working_hours": [16.0],
                            "spare_hours_next_7_days": 9.5,
                            "spare_hours_total": 9.5,
                        }
                    ],
                    "machines": [
                        {
                            "machine_id": "mac_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                            "name": "DMU 50",
                            "machine_class": "5-axis",
                            "state": "standby",
                            "last_seen": "2025-03-04T01:02:03Z",
                            "staleness_hours": 0.1,
                            "stale": False,
                            "trust": 0.9996,
                            "spare_hours_next_7_days": 6.0,
                        }
                    ],
                    "totals": [_DAY],
                }
            ]
        }
    )
