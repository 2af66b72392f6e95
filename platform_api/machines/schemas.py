"""Machine, event and booking bodies. Envelope in mm, rate in JPY per hour, times UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

from platform_api.machines.ingest import MAX_BATCH

MachineType = Literal[
    "3-axis",
    "4-axis",
    "5-axis",
    "lathe",
    "mill-turn",
    "swiss-lathe",
    "wire-edm",
    "sinker-edm",
    "grinder",
    "other",
]

_EXAMPLE: JsonDict = {
    "name": "DMG MORI DMU 50",
    "machine_type": "5-axis",
    "axes": 5,
    "envelope_mm": {"x": 650.0, "y": 520.0, "z": 475.0},
    "controller": "Siemens 840D sl",
    "hourly_rate_jpy": 12000.0,
    "mtconnect_device_uuid": "dmu50-01",
}


class Envelope(BaseModel):
    """Travel of the machine along x, y, z in mm."""

    x: float = Field(gt=0, le=50_000)
    y: float = Field(gt=0, le=50_000)
    z: float = Field(gt=0, le=50_000)


class MachineCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    machine_type: MachineType
    axes: int = Field(ge=1, le=13)
    envelope_mm: Envelope
    controller: str | None = Field(default=None, max_length=120)
    hourly_rate_jpy: float = Field(ge=0, le=1_000_000)
    mtconnect_device_uuid: str | None = Field(default=None, max_length=120)
    tolerance_mm: float | None = Field(
        default=None,
        gt=0,
        lt=10,
        description="Tightest +- mm the shop holds on it; default: typical for its type",
    )
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class MachineUpdate(BaseModel):
    """Fields to change; omitted fields keep their value."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    machine_type: MachineType | None = None
    axes: int | None = Field(default=None, ge=1, le=13)
    envelope_mm: Envelope | None = None
    controller: str | None = Field(default=None, max_length=120)
    hourly_rate_jpy: float | None = Field(default=None, ge=0, le=1_000_000)
    mtconnect_device_uuid: str | None = Field(default=None, max_length=120)
    tolerance_mm: float | None = Field(default=None, gt=0, lt=10)
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"hourly_rate_jpy": 13000.0, "controller": "Fanuc 31i"}]}
    )


class MachinePublic(MachineCreate):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    envelope_source: str = Field(
        default="declared", description="declared, probe (MTConnect axis lengths) or typical"
    )
    state: str = Field(
        default="offline",
        description="Derived from its latest reports: productive, standby, setup, down, offline",
    )
    last_seen: datetime | None = Field(default=None, description="Time of its newest event")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "mac_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "org_id": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    **_EXAMPLE,
                    "created_at": "2025-01-15T09:30:00Z",
                    "updated_at": "2025-01-15T09:30:00Z",
                }
            ]
        }
    )


# --- events --------------------------------------------------------------------------------------

_EVENT_EXAMPLE: JsonDict = {
    "event_id": "vf2-000123",
    "timestamp": "2025-03-03T01:02:03.250Z",
    "availability": "AVAILABLE",
    "execution": "ACTIVE",
    "controller_mode": "AUTOMATIC",
    "functional_mode": "PRODUCTION",
    "part_count": 412,
    "program": "O1234",
}


class EventBatch(BaseModel):
    """Machine events in MTConnect's vocabulary, each with your own unique ``event_id``.

    Each event: ``event_id`` (required, unique per machine, so re-sending a batch is harmless),
    ``timestamp`` (ISO 8601 with ``Z`` or an offset), and any of ``availability``
    (AVAILABLE/UNAVAILABLE), ``execution`` (READY, ACTIVE, INTERRUPTED, FEED_HOLD, STOPPED,
    OPTIONAL_STOP, PROGRAM_STOPPED, PROGRAM_COMPLETED, WAIT), ``controller_mode`` (AUTOMATIC,
    MANUAL, MANUAL_DATA_INPUT, SEMI_AUTOMATIC, EDIT), ``functional_mode`` (PRODUCTION, SETUP,
    TEARDOWN, MAINTENANCE, PROCESS_DEVELOPMENT), ``part_count``, ``program``. Events are
    checked one by one: a bad one is rejected with its index and reason, the others stored.
    """

    events: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Event objects (see above); validated one by one, not as a whole",
        json_schema_extra={"items": {"type": "object", "example": _EVENT_EXAMPLE}},
    )
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        _EVENT_EXAMPLE,
                        {
                            "event_id": "vf2-000124",
                            "timestamp": "2025-03-03T01:40:00Z",
                            "execution": "PROGRAM_COMPLETED",
                            "part_count": 413,
                        },
                    ]
                }
            ]
        },
    )


class EventRejection(BaseModel):
    index: int = Field(description="Position of the event in the batch, from 0")
    code: str
    reason: str
    event_id: str | None = None


class IngestResult(BaseModel):
    """What became of a batch: stored (accepted), already stored (duplicates), rejected."""

    accepted: int
    duplicates: int
    rejected: list[EventRejection]
    state: str = Field(description="The machine's derived state after the batch")
    last_seen: datetime | None
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 2,
                    "duplicates": 0,
                    "rejected": [
                        {
                            "index": 2,
                            "code": "invalid_event",
                            "reason": "execution 'RUNNING' is not MTConnect vocabulary; ...",
                            "event_id": "vf2-000125",
                        }
                    ],
                    "state": "productive",
                    "last_seen": "2025-03-03T01:40:00Z",
                }
            ]
        }
    )


EVENT_PUBLIC_EXAMPLE: JsonDict = {**_EVENT_EXAMPLE, "source": "rest"}


class MachineEventPublic(BaseModel):
    """A stored event."""

    event_id: str
    source: str = Field(description="rest, mqtt, mtconnect or shdr")
    timestamp: datetime
    availability: str | None
    execution: str | None
    controller_mode: str | None
    functional_mode: str | None
    part_count: int | None
    program: str | None
    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_PUBLIC_EXAMPLE]})


class MqttCredentials(BaseModel):
    """How this shop's gateways publish machine states over MQTT (see docs/mqtt.md)."""

    broker: str | None = Field(description="host:port of the platform's broker, if it has one")
    username: str = Field(description="The shop id")
    password: str = Field(description="Derived from the platform's secret; keep it secret")
    topic: str = Field(description="Publish on this topic with the machine id filled in")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "broker": "127.0.0.1:1884",
                    "username": "org_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "password": "q9B0...",
                    "topic": "mitsumori/org_0193b1c2d3e4f5a6b7c8d9e0f1a2/{machine_id}/state",
                }
            ]
        }
    )


# --- bookings ------------------------------------------------------------------------------------


class BookingCreate(BaseModel):
    """Work booked on the machine: from ``start`` to ``end``, or ``hours`` of machine time
    filling its free working time from ``start`` on."""

    start: AwareDatetime
    end: AwareDatetime | None = None
    hours: float | None = Field(default=None, gt=0, le=24 * 366)
    job_ref: str = Field(min_length=1, max_length=120, description="Your job or order number")
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"start": "2025-03-03T00:00:00Z", "hours": 12, "job_ref": "JOB-2025-0042"},
                {
                    "start": "2025-03-04T00:00:00Z",
                    "end": "2025-03-04T08:00:00Z",
                    "job_ref": "JOB-2025-0043",
                },
            ]
        },
    )

    @model_validator(mode="after")
    def _end_or_hours(self) -> BookingCreate:
        if (self.end is None) == (self.hours is None):
            raise ValueError("give either end or hours, not both or neither")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class BookingPublic(BaseModel):
    id: str
    machine_id: str
    start: datetime
    end: datetime | None
    hours: float | None
    job_ref: str
    created_at: datetime
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "bkg_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "machine_id": "mac_0193b1c2d3e4f5a6b7c8d9e0f1a2",
                    "start": "2025-03-02T15:00:00Z",
                    "end": None,
                    "hours": 12.0,
                    "job_ref": "JOB-2025-0042",
                    "created_at": "2025-02-28T09:30:00Z",
                }
            ]
        }
    )
